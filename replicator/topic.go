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

// ensureMirrorTopic creates the mirror topic, or checks an existing one has the source's partition count (adding
// partitions the source gained).
func (r *Replicator) ensureMirrorTopic(ctx context.Context, sourceName, mirrorName string) (*sourceTopic, error) {
	src, err := r.describeSourceTopic(ctx, sourceName)
	if err != nil {
		return nil, err
	}
	if src.configs["message.timestamp.type"] == "LogAppendTime" {
		r.log.Info("source topic uses LogAppendTime: the mirror is a CreateTime topic whose records carry the source's append times (each batch rewritten); promote gives it LogAppendTime back",
			zap.String("source_topic", sourceName))
	}
	existing, err := r.dstAdm.ListTopics(ctx, mirrorName)
	if err != nil {
		return nil, fmt.Errorf("look up mirror topic %s: %w", mirrorName, err)
	}
	if d, ok := existing[mirrorName]; ok && d.Err == nil {
		have := int32(len(d.Partitions))
		switch {
		case have > src.partitions:
			return nil, fmt.Errorf("mirror topic %s has %d partitions, more than source topic %s (%d)", mirrorName, have, sourceName, src.partitions)
		case have < src.partitions:
			if err := r.growMirrorTopic(ctx, mirrorName, src.partitions); err != nil {
				return nil, err
			}
		}
		return src, nil
	}
	resp, err := r.dstAdm.CreateTopic(ctx, src.partitions, r.opts.replicationFactor, mirrorTopicConfigs(src), mirrorName)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("create mirror topic %s (%d partitions): %w", mirrorName, src.partitions, err)
	}
	r.log.Info("mirror topic created", zap.String("mirror_topic", mirrorName), zap.Int32("partitions", src.partitions))
	// A broker answers CreateTopics before its metadata shows the topic: the mirror starts once it does, so that the
	// metadata loop never takes a topic it has not seen yet for one deleted by someone else. Asked with a metadata
	// request of its own: kadm's ListTopics answers from the client's cache for up to metadata.min.age (5 s),
	// including the "unknown topic" of the lookup above.
	for ctx.Err() == nil {
		seen, err := requestMetadata(ctx, r.dst, []string{mirrorName})
		if d, ok := seen[mirrorName]; err == nil && ok && d.Err == nil && len(d.Partitions) > 0 {
			break
		}
		_ = sleep(ctx, 50*time.Millisecond)
	}
	return src, nil
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
