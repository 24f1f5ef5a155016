package replicator

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// Topic configs a mirror topic never copies from its source: they describe the source cluster's replication and
// storage, not the data, and may be invalid on the destination.
var mirrorConfigsNotCopied = map[string]bool{
	"min.insync.replicas":                     true,
	"leader.replication.throttled.replicas":   true,
	"follower.replication.throttled.replicas": true,
	"remote.storage.enable":                   true,
	"local.retention.ms":                      true,
	"local.retention.bytes":                   true,
	"remote.log.copy.disable":                 true,
	"remote.log.delete.on.disable":            true,
}

// mirrorConfigOverrides are what byte-for-byte copying needs while a topic is a mirror: the broker must keep the
// producer's codec and accept the source's CreateTime timestamps whatever their age.
var mirrorConfigOverrides = map[string]string{
	"compression.type":                "producer",
	"message.timestamp.type":          "CreateTime",
	"message.timestamp.before.max.ms": strconv.FormatInt(1<<63-1, 10),
	"message.timestamp.after.max.ms":  strconv.FormatInt(1<<63-1, 10),
}

type sourceTopic struct {
	partitions int32
	topicID    [16]byte
	// configs are the source's explicitly set topic configs.
	configs map[string]string
	// maxMessageBytes is the source's effective max.message.bytes.
	maxMessageBytes int64
}

func (r *Replicator) describeSourceTopic(ctx context.Context, topic string) (*sourceTopic, error) {
	details, err := r.srcAdm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe source topic %s: %w", topic, err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil {
		if ok {
			err = d.Err
		} else {
			err = kerr.UnknownTopicOrPartition
		}
		return nil, fmt.Errorf("describe source topic %s: %w", topic, err)
	}
	rc, err := topicConfigs(ctx, r.srcAdm, topic)
	if err != nil {
		return nil, fmt.Errorf("describe source topic %s configs: %w", topic, err)
	}
	return sourceTopicOf(d, rc), nil
}

// sourceTopicOf reads a source topic's partitions, id and configs from its metadata and its described configs.
func sourceTopicOf(d kadm.TopicDetail, rc kadm.ResourceConfig) *sourceTopic {
	st := &sourceTopic{partitions: int32(len(d.Partitions)), topicID: d.ID, configs: map[string]string{}, maxMessageBytes: 1048588}
	for _, c := range rc.Configs {
		if c.Value == nil {
			continue
		}
		if c.Key == "max.message.bytes" {
			if n, err := strconv.ParseInt(*c.Value, 10, 64); err == nil {
				st.maxMessageBytes = n
			}
		}
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && !c.Sensitive {
			st.configs[c.Key] = *c.Value
		}
	}
	return st
}

// mirrorTopicConfigs are the configs a new mirror topic is created with: the source's explicit topic configs, less
// the ones that describe the source cluster, plus the overrides copying needs.
func mirrorTopicConfigs(src *sourceTopic) map[string]*string {
	out := map[string]*string{}
	for k, v := range src.configs {
		if mirrorConfigsNotCopied[k] {
			continue
		}
		out[k] = kadm.StringPtr(v)
	}
	for k, v := range mirrorConfigOverrides {
		out[k] = kadm.StringPtr(v)
	}
	out["max.message.bytes"] = kadm.StringPtr(strconv.FormatInt(src.maxMessageBytes, 10))
	return out
}

// maxTopicsPerRequest bounds the topics of one DescribeConfigs or CreateTopics request.
const maxTopicsPerRequest = 100

// describeSourceTopics describes many source topics with a metadata request and one DescribeConfigs per
// maxTopicsPerRequest topics; a topic that cannot be described has an error instead.
func (r *Replicator) describeSourceTopics(ctx context.Context, topics []string) (map[string]*sourceTopic, map[string]error) {
	out, errs := map[string]*sourceTopic{}, map[string]error{}
	details, err := r.srcAdm.ListTopics(ctx, topics...)
	if err != nil {
		for _, t := range topics {
			errs[t] = fmt.Errorf("describe source topic %s: %w", t, err)
		}
		return out, errs
	}
	var known []string
	for _, t := range topics {
		d, ok := details[t]
		switch {
		case !ok:
			errs[t] = fmt.Errorf("describe source topic %s: %w", t, kerr.UnknownTopicOrPartition)
		case d.Err != nil:
			errs[t] = fmt.Errorf("describe source topic %s: %w", t, d.Err)
		default:
			known = append(known, t)
		}
	}
	for i := 0; i < len(known); i += maxTopicsPerRequest {
		chunk := known[i:min(i+maxTopicsPerRequest, len(known))]
		rcs, err := r.srcAdm.DescribeTopicConfigs(ctx, chunk...)
		for _, t := range chunk {
			rc, rerr := rcs.On(t, nil)
			if err != nil {
				rerr = err
			} else if rerr == nil {
				rerr = rc.Err
			}
			if rerr != nil {
				errs[t] = fmt.Errorf("describe source topic %s configs: %w", t, rerr)
				continue
			}
			out[t] = sourceTopicOf(details[t], rc)
		}
	}
	return out, errs
}

// ensureMirrorTopics creates the mirror topics of specs, or checks existing ones have their source's partition
// count (adding partitions where the source grew while nothing mirrored it), and returns each mirror's source
// topic, or its error. It returns once the destination's metadata shows every topic it created.
func (r *Replicator) ensureMirrorTopics(ctx context.Context, specs []MirrorSpec) (map[string]*sourceTopic, map[string]error) {
	var sources, mirrors []string
	for _, s := range specs {
		sources = append(sources, s.SourceTopic)
		mirrors = append(mirrors, s.MirrorTopic)
	}
	described, srcErrs := r.describeSourceTopics(ctx, sources)
	out, errs := map[string]*sourceTopic{}, map[string]error{}
	// The destination's own answer, not kadm's cache (see waitForTopics).
	existing, err := requestMetadata(ctx, r.dst, mirrors)
	var create []kafkaapi.NewTopic
	for _, s := range specs {
		src, ok := described[s.SourceTopic]
		switch {
		case !ok:
			errs[s.MirrorTopic] = srcErrs[s.SourceTopic]
			continue
		case err != nil:
			errs[s.MirrorTopic] = fmt.Errorf("look up mirror topic %s: %w", s.MirrorTopic, err)
			continue
		}
		if src.configs["message.timestamp.type"] == "LogAppendTime" {
			r.log.Info("source topic uses LogAppendTime: the mirror is a CreateTime topic whose records carry the source's append times (each batch rewritten); promote gives it LogAppendTime back",
				zap.String("source_topic", s.SourceTopic))
		}
		if d, ok := existing[s.MirrorTopic]; ok && d.Err == nil {
			have := int32(len(d.Partitions))
			switch {
			case have > src.partitions:
				errs[s.MirrorTopic] = fmt.Errorf("mirror topic %s has %d partitions, more than source topic %s (%d)", s.MirrorTopic, have, s.SourceTopic, src.partitions)
				continue
			case have < src.partitions:
				if err := r.growMirrorTopic(ctx, s.MirrorTopic, src.partitions); err != nil {
					errs[s.MirrorTopic] = err
					continue
				}
			}
			out[s.MirrorTopic] = src
			continue
		}
		create = append(create, kafkaapi.NewTopic{Topic: s.MirrorTopic, Partitions: src.partitions,
			ReplicationFactor: r.opts.replicationFactor, Configs: mirrorTopicConfigs(src)})
		out[s.MirrorTopic] = src
	}
	var created []string
	for i := 0; i < len(create); i += maxTopicsPerRequest {
		chunk := create[i:min(i+maxTopicsPerRequest, len(create))]
		results := map[string]error{}
		kresp, err := r.dst.Request(ctx, kafkaapi.NewCreateTopics(chunk, int32(r.opts.requestTimeout/time.Millisecond)))
		if err == nil {
			results = kafkaapi.CreatedTopics(kresp.(*kmsg.CreateTopicsResponse))
		}
		for _, t := range chunk {
			terr, answered := results[t.Topic]
			switch {
			case err != nil:
				terr = err
			case !answered:
				terr = errors.New("no answer for the topic")
			}
			if terr != nil && !errors.Is(terr, kerr.TopicAlreadyExists) {
				errs[t.Topic] = fmt.Errorf("create mirror topic %s (%d partitions): %w", t.Topic, t.Partitions, terr)
				delete(out, t.Topic)
				continue
			}
			created = append(created, t.Topic)
			r.log.Info("mirror topic created", zap.String("mirror_topic", t.Topic), zap.Int32("partitions", t.Partitions))
		}
	}
	r.waitForTopics(ctx, created)
	return out, errs
}

// topicVisibleWait bounds how long AddMirrors waits for new topics to show in the destination's metadata.
const topicVisibleWait = 10 * time.Second

// waitForTopics waits until the destination's metadata shows every topic of topics, or ctx ends. A broker answers
// CreateTopics before its metadata shows the topic: a mirror starts once it does, so that the metadata loop never
// takes a topic it has not seen yet for one deleted by someone else. It asks with metadata requests of its own:
// kadm's ListTopics answers from the client's cache for up to metadata.min.age (5 s), including an "unknown topic"
// looked up just before the topic was created.
func (r *Replicator) waitForTopics(ctx context.Context, topics []string) {
	// Bounded: on a loaded broker some of many new topics took a minute to show with their partitions; the metadata
	// loop's own grace (several refreshes and 5 s) covers what is left.
	ctx, cancel := context.WithTimeout(ctx, topicVisibleWait)
	defer cancel()
	for len(topics) > 0 && ctx.Err() == nil {
		seen, err := requestMetadata(ctx, r.dst, topics)
		if err == nil {
			var missing []string
			for _, t := range topics {
				if d, ok := seen[t]; !ok || d.Err != nil || len(d.Partitions) == 0 {
					missing = append(missing, t)
				}
			}
			if topics = missing; len(topics) == 0 {
				return
			}
		}
		_ = sleep(ctx, 50*time.Millisecond)
	}
}

func (r *Replicator) growMirrorTopic(ctx context.Context, topic string, partitions int32) error {
	resp, err := r.dstAdm.UpdatePartitions(ctx, int(partitions), topic)
	if err == nil {
		var rr kadm.CreatePartitionsResponse
		rr, err = resp.On(topic, nil)
		if err == nil {
			err = rr.Err
		}
	}
	if err != nil && !errors.Is(err, kerr.InvalidPartitions) {
		return fmt.Errorf("grow mirror topic %s to %d partitions: %w", topic, partitions, err)
	}
	return nil
}

// topicConfigs describes one topic's configs (every key, with its source: default, dynamic, ...).
func topicConfigs(ctx context.Context, adm *kadm.Client, topic string) (kadm.ResourceConfig, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return kadm.ResourceConfig{}, err
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	return rc, err
}
