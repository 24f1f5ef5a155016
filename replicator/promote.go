package replicator

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"
)

// This file is a mirror's lifecycle after AddMirror: pause and resume, following the source's topic configs, and
// the steps of promote and failover (wait for the source high watermark, stop copying with nothing in flight, give
// the topic its source's real configs back).

// PauseMirror stops copying a mirror until ResumeMirror; it keeps its position. Batches already handed to a writer
// may still land; resume re-reads the mirror's log end offset, so nothing is lost or duplicated.
func (r *Replicator) PauseMirror(topic string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mirrors[topic]
	if !ok {
		return fmt.Errorf("mirror topic %s is not mirrored", topic)
	}
	if m.paused {
		return nil
	}
	m.paused = true
	m.statusTime = time.Now()
	for _, p := range m.partitions {
		r.parkLocked(p)
	}
	r.log.Info("mirror paused", zap.String("mirror_topic", topic))
	return nil
}

// ResumeMirror copies a paused mirror again, from its log end offset.
func (r *Replicator) ResumeMirror(topic string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mirrors[topic]
	if !ok {
		return fmt.Errorf("mirror topic %s is not mirrored", topic)
	}
	if !m.paused {
		return nil
	}
	m.paused = false
	m.statusTime = time.Now()
	for _, p := range m.partitions {
		if p.phase == phaseParked {
			p.phase = phaseResolve
			p.gen++
			p.checkTail = true
		}
	}
	r.log.Info("mirror resumed", zap.String("mirror_topic", topic))
	r.pokeMetadata()
	return nil
}

// parkLocked takes a partition out of copying: work in flight under its generation is dropped. A failed partition
// stays failed. r.mu must be held.
func (r *Replicator) parkLocked(p *partition) {
	if p.phase == phaseFailed || p.phase == phaseParked || p.phase == phaseUnowned {
		return
	}
	p.phase = phaseParked
	p.gen++
	r.notBusyLocked(p)
}

// WaitForSourceHighWatermark waits until every partition of the mirror has copied up to the source high watermark
// read at the call (so every record the source had acknowledged then is in the mirror at its offset), and returns
// those high watermarks. It fails at once if a partition fails or the mirror is paused.
func (r *Replicator) WaitForSourceHighWatermark(ctx context.Context, topic string) (map[int32]int64, error) {
	r.mu.Lock()
	m, ok := r.mirrors[topic]
	var source string
	if ok {
		source = m.sourceTopic
	}
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("mirror topic %s is not mirrored", topic)
	}
	ends, err := r.srcAdm.ListEndOffsets(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("read the high watermarks of source topic %s: %w", source, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("read the high watermarks of source topic %s: %w", source, err)
	}
	targets := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { targets[o.Partition] = o.Offset })
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := r.reached(topic, targets)
		if err != nil || done {
			return targets, err
		}
		select {
		case <-ctx.Done():
			return targets, fmt.Errorf("wait for mirror %s to reach the source high watermark: %w", topic, ctx.Err())
		case <-tick.C:
		}
	}
}

func (r *Replicator) reached(topic string, targets map[int32]int64) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mirrors[topic]
	if !ok {
		return false, fmt.Errorf("mirror topic %s is no longer mirrored", topic)
	}
	if m.paused {
		return false, fmt.Errorf("mirror topic %s is paused: resume it first", topic)
	}
	if len(m.partitions) < len(targets) {
		return false, nil // a partition increase is being followed
	}
	done := true
	for _, p := range m.partitions {
		if p.phase == phaseFailed {
			return false, fmt.Errorf("mirror topic %s partition %d failed: %s: %s", topic, p.id, p.errCode, p.errMsg)
		}
		if target, ok := targets[p.id]; ok && p.nextOffset < target {
			done = false
		}
	}
	return done, nil
}

// StopMirror stops copying a mirror for good and forgets it: once it returns, no produce of the replicator to the
// mirror topic is in flight and no resolve of its partitions is still working, so the topic can be handed to
// producers.
func (r *Replicator) StopMirror(ctx context.Context, topic string) error {
	r.mu.Lock()
	m, ok := r.mirrors[topic]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	for _, p := range m.partitions {
		r.parkLocked(p)
		p.phase = phaseFailed // never resolved or copied again, even by work started before
	}
	delete(r.mirrors, topic)
	m.stop() // resolves still working give up
	writers := make([]*writer, 0, len(r.writers))
	for _, w := range r.writers {
		writers = append(writers, w)
	}
	r.mu.Unlock()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := false
		r.mu.Lock()
		for _, p := range m.partitions {
			busy = busy || p.resolving > 0
		}
		r.mu.Unlock()
		for _, w := range writers {
			w.mu.Lock()
			for p, pipe := range w.pipes {
				if pipe.n > 0 && p.m == m {
					busy = true
				}
			}
			w.mu.Unlock()
		}
		if !busy {
			for _, w := range writers {
				w.mu.Lock()
				for p := range w.pipes {
					if p.m == m {
						delete(w.pipes, p)
					}
				}
				w.mu.Unlock()
			}
			r.log.Info("mirror stopped", zap.String("mirror_topic", topic))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop mirror %s: wait for its produces and resolves in flight: %w", topic, ctx.Err())
		case <-tick.C:
		}
	}
}

// SourceTopicConfigs returns the source topic's explicitly set configs that a mirror copies (not those that
// describe the source cluster's replication and storage).
// SourceTopicConfigsOf is SourceTopicConfigs of many topics, described together (see describeSourceTopics); a
// topic that cannot be described has an error instead.
func (r *Replicator) SourceTopicConfigsOf(ctx context.Context, topics []string) (map[string]map[string]string, map[string]error) {
	described, errs := r.describeSourceTopics(ctx, topics)
	out := map[string]map[string]string{}
	for t, src := range described {
		configs := map[string]string{}
		for k, v := range src.configs {
			if !mirrorConfigsNotCopied[k] {
				configs[k] = v
			}
		}
		out[t] = configs
	}
	return out, errs
}

func (r *Replicator) SourceTopicConfigs(ctx context.Context, sourceTopic string) (map[string]string, error) {
	src, err := r.describeSourceTopic(ctx, sourceTopic)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range src.configs {
		if !mirrorConfigsNotCopied[k] {
			out[k] = v
		}
	}
	return out, nil
}

// RestoreTopicConfigs gives a promoted topic its source's real configs in place of the mirror overrides: the keys
// the source sets take the source's values, the others go back to the destination's defaults. src are the source
// configs as SourceTopicConfigs returned them (read before a failover, when the source may be gone).
func (r *Replicator) RestoreTopicConfigs(ctx context.Context, mirrorTopic string, src map[string]string) error {
	return RestoreTopicConfigs(ctx, r.dstAdm, mirrorTopic, src)
}

// RestoreTopicConfigs is Replicator.RestoreTopicConfigs with only a destination admin client: a failover needs
// nothing of the source.
func RestoreTopicConfigs(ctx context.Context, dstAdm *kadm.Client, mirrorTopic string, src map[string]string) error {
	want := map[string]*string{}
	for k, v := range src {
		want[k] = kadm.StringPtr(v)
	}
	for k := range mirrorConfigOverrides {
		if _, ok := want[k]; !ok {
			want[k] = nil // back to the default
		}
	}
	if _, ok := want["max.message.bytes"]; !ok {
		want["max.message.bytes"] = nil
	}
	_, err := alterTopicConfigs(ctx, dstAdm, mirrorTopic, want)
	return err
}

// alterTopicConfigs sets each key of want (nil: delete the override) where the topic differs, and deletes the
// topic's other overrides (the source dropped them), except the settings of the destination's own replication and
// storage, which a mirror never copies.
func alterTopicConfigs(ctx context.Context, dstAdm *kadm.Client, topic string, want map[string]*string) ([]string, error) {
	rc, err := topicConfigs(ctx, dstAdm, topic)
	if err != nil {
		return nil, fmt.Errorf("describe mirror topic %s configs: %w", topic, err)
	}
	alters, changed := configChanges(rc, want)
	if len(alters) == 0 {
		return nil, nil
	}
	resps, err := dstAdm.AlterTopicConfigs(ctx, alters, topic)
	if err == nil {
		var resp kadm.AlterConfigsResponse
		resp, err = resps.On(topic, nil)
		if err == nil {
			err = resp.Err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("alter mirror topic %s configs %v: %w", topic, changed, err)
	}
	return changed, nil
}

// configChanges are the alterations that give a topic described as rc the configs of want (see alterTopicConfigs),
// and the keys they change.
func configChanges(rc kadm.ResourceConfig, want map[string]*string) ([]kadm.AlterConfig, []string) {
	have := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil && c.Source == 1 { // DYNAMIC_TOPIC_CONFIG
			have[c.Key] = *c.Value
		}
	}
	var alters []kadm.AlterConfig
	var changed []string
	for k, v := range want {
		cur, set := have[k]
		switch {
		case v == nil && set:
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		case v != nil && (!set || cur != *v):
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
		default:
			continue
		}
		changed = append(changed, k)
	}
	for k := range have {
		if _, named := want[k]; !named && !mirrorConfigsNotCopied[k] {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			changed = append(changed, k)
		}
	}
	return alters, changed
}
