package kafkaapi

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// IncrementalAlterConfigs (key 44). The topic config sync alters many mirror topics, each with its own changes, in
// one request per cycle (kadm's helper applies one set of changes to every topic it names).

// ConfigChange sets a config (Value) or deletes its override (Value nil).
type ConfigChange struct {
	Name  string
	Value *string
}

// NewAlterTopicConfigs builds one request that changes each topic's configs as given.
func NewAlterTopicConfigs(changes map[string][]ConfigChange) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for topic, cs := range changes {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		for _, c := range cs {
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			rc.Name, rc.Value, rc.Op = c.Name, c.Value, kmsg.IncrementalAlterConfigOpSet
			if c.Value == nil {
				rc.Op = kmsg.IncrementalAlterConfigOpDelete
			}
			r.Configs = append(r.Configs, rc)
		}
		req.Resources = append(req.Resources, r)
	}
	return req
}

// AlterTopicConfigsErrs reads the response: each topic's error (nil when it took its changes).
func AlterTopicConfigsErrs(resp *kmsg.IncrementalAlterConfigsResponse) map[string]error {
	out := map[string]error{}
	for _, r := range resp.Resources {
		err := kerr.ErrorForCode(r.ErrorCode)
		if err != nil && r.ErrorMessage != nil {
			err = fmt.Errorf("%w: %s", err, *r.ErrorMessage)
		}
		out[r.ResourceName] = err
	}
	return out
}
