package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics (key 19). Mirror topics are created many per request, each with its own partition count and configs
// (kadm's CreateTopics gives every topic of a request the same ones).

// NewTopic is one topic to create.
type NewTopic struct {
	Topic             string
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]*string
}

// NewCreateTopics builds a request creating topics, waiting up to timeoutMillis for the controller.
func NewCreateTopics(topics []NewTopic, timeoutMillis int32) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = timeoutMillis
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Topic, t.Partitions, t.ReplicationFactor
		for k, v := range t.Configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, v
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// CreatedTopics reads each topic's outcome (nil: created), with the broker's message where it gave one.
func CreatedTopics(resp *kmsg.CreateTopicsResponse) map[string]error {
	out := map[string]error{}
	for _, t := range resp.Topics {
		err := kerr.ErrorForCode(t.ErrorCode)
		if err != nil && t.ErrorMessage != nil && *t.ErrorMessage != "" {
			err = &TopicError{Err: err, Message: *t.ErrorMessage}
		}
		out[t.Topic] = err
	}
	return out
}

// TopicError is a topic's error code with the broker's message.
type TopicError struct {
	Err     error
	Message string
}

func (e *TopicError) Error() string { return e.Err.Error() + ": " + e.Message }
func (e *TopicError) Unwrap() error { return e.Err }
