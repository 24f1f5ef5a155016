package replicator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// This file is the topic config sync of many mirrors at once, with a number of requests that does not grow with
// the mirrors: one metadata request and one DescribeConfigs for all the source topics, one DescribeConfigs for all
// the mirror topics and one IncrementalAlterConfigs for every mirror that changed (each request is split by kadm
// and kgo per broker as Kafka requires).

// TopicPair names a mirror topic and its source topic.
type TopicPair struct{ Source, Mirror string }

// ConfigSync is one mirror's outcome of SyncTopicConfigsOf.
type ConfigSync struct {
	// Changed are the config keys the mirror topic changed.
	Changed []string
	// Source are the source topic's configs a mirror copies, as SourceTopicConfigs returns them.
	Source map[string]string
	Err    error
}

// SyncTopicConfigsOf does SyncTopicConfigs and SourceTopicConfigs for many mirrors at once. A failure of the whole
// is returned as the error; a failure of one mirror is in its result.
func (r *Replicator) SyncTopicConfigsOf(ctx context.Context, pairs []TopicPair) (map[string]ConfigSync, error) {
	out := make(map[string]ConfigSync, len(pairs))
	if len(pairs) == 0 {
		return out, nil
	}
	var sources, mirrors []string
	for _, p := range pairs {
		sources, mirrors = append(sources, p.Source), append(mirrors, p.Mirror)
	}
	slices.Sort(sources)
	sources = slices.Compact(sources)
	details, err := r.srcAdm.ListTopics(ctx, sources...)
	if err != nil {
		return nil, fmt.Errorf("describe the source topics: %w", err)
	}
	srcConfigs, err := r.srcAdm.DescribeTopicConfigs(ctx, sources...)
	if err != nil {
		return nil, fmt.Errorf("describe the source topics' configs: %w", err)
	}
	dstConfigs, err := r.dstAdm.DescribeTopicConfigs(ctx, mirrors...)
	if err != nil {
		return nil, fmt.Errorf("describe the mirror topics' configs: %w", err)
	}
	changes := map[string][]kafkaapi.ConfigChange{}
	for _, p := range pairs {
		src, err := sourceOf(details, srcConfigs, p.Source)
		if err != nil {
			out[p.Mirror] = ConfigSync{Err: err}
			continue
		}
		res := ConfigSync{Source: map[string]string{}}
		for k, v := range src.configs {
			if !mirrorConfigsNotCopied[k] {
				res.Source[k] = v
			}
		}
		r.mu.Lock()
		if m, ok := r.mirrors[p.Mirror]; ok {
			m.compacted = strings.Contains(src.configs["cleanup.policy"], "compact")
		}
		r.mu.Unlock()
		rc, err := dstConfigs.On(p.Mirror, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			out[p.Mirror] = ConfigSync{Err: fmt.Errorf("describe mirror topic %s configs: %w", p.Mirror, err)}
			continue
		}
		alters, changed := configChanges(rc, mirrorTopicConfigs(src))
		res.Changed = changed
		for _, a := range alters {
			c := kafkaapi.ConfigChange{Name: a.Name}
			if a.Op == kadm.SetConfig {
				c.Value = a.Value
			}
			changes[p.Mirror] = append(changes[p.Mirror], c)
		}
		out[p.Mirror] = res
	}
	if len(changes) == 0 {
		return out, nil
	}
	kresp, err := r.dst.Request(ctx, kafkaapi.NewAlterTopicConfigs(changes))
	if err != nil {
		return nil, fmt.Errorf("alter the mirror topics' configs: %w", err)
	}
	for topic, err := range kafkaapi.AlterTopicConfigsErrs(kresp.(*kmsg.IncrementalAlterConfigsResponse)) {
		if err != nil {
			res := out[topic]
			res.Err = fmt.Errorf("alter mirror topic %s configs %v: %w", topic, res.Changed, err)
			out[topic] = res
		}
	}
	return out, nil
}

// sourceOf reads one source topic out of batched describes.
func sourceOf(details kadm.TopicDetails, configs kadm.ResourceConfigs, topic string) (*sourceTopic, error) {
	d, ok := details[topic]
	if !ok || d.Err != nil {
		var err error = kerr.UnknownTopicOrPartition
		if ok {
			err = d.Err
		}
		return nil, fmt.Errorf("describe source topic %s: %w", topic, err)
	}
	rc, err := configs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, fmt.Errorf("describe source topic %s configs: %w", topic, err)
	}
	return sourceTopicOf(d, rc), nil
}
