package offsets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
)

// Topic is a mirror topic whose consumer offsets are synced: its name on the source and on the destination.
type Topic struct{ Source, Mirror string }

// Config builds a Syncer.
type Config struct {
	// Source and Destination belong to the caller.
	Source, Destination *kgo.Client
	// Groups is consumer.offset.group.filters.
	Groups config.GroupFilters
	// Interval is consumer.offset.sync.ms.
	Interval time.Duration
	// GroupPrefix is prepended to group names on the destination (cluster.link.prefix when
	// consumer.group.prefix.enable=true), "" otherwise.
	GroupPrefix string
	// Topics returns the mirror topics to sync now; the link leaves out promoted and failed-over ones.
	Topics func() []Topic
	Logger *zap.Logger
	// Report is told the outcome of every cycle (nil for a good one): the link keeps the task's state from it.
	Report func(error)
}

// Status is the sync loop's task state and counters.
type Status struct {
	LastSync     time.Time
	LastDuration time.Duration
	Cycles       int64
	// GroupsSynced is how many groups had offsets committed in the last cycle; OffsetsCommitted and Clamps count
	// since start.
	GroupsSynced     int64
	OffsetsCommitted int64
	Clamps           int64
	// SkippedGroups are the destination groups left alone in the last cycle because they have active members.
	SkippedGroups []string
}

// Syncer copies committed offsets of a link's mirror topics from source groups to destination groups.
type Syncer struct {
	cfg    Config
	src    *kadm.Client
	dst    *kadm.Client
	log    *zap.Logger
	syncMu sync.Mutex // one cycle (or SyncTopic) at a time

	mu     sync.Mutex
	status Status
}

// New returns a Syncer; Run starts it.
func New(cfg Config) *Syncer {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Syncer{
		cfg: cfg, src: kadm.NewClient(cfg.Source), dst: kadm.NewClient(cfg.Destination), log: log,
	}
}

// Run syncs at once and then every Interval until ctx ends. A failed cycle is reported in Status, not returned.
func (s *Syncer) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.SyncOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("consumer offset sync failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Status returns the loop's state and counters.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.SkippedGroups = slices.Clone(st.SkippedGroups)
	return st
}

// SyncOnce runs one cycle over every topic Topics returns.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	return s.sync(ctx, s.cfg.Topics(), true)
}

// SyncTopic syncs one mirror topic's offsets a last time (before promote or failover). It does not change the
// loop's state.
func (s *Syncer) SyncTopic(ctx context.Context, sourceTopic, mirrorTopic string) error {
	return s.sync(ctx, []Topic{{Source: sourceTopic, Mirror: mirrorTopic}}, false)
}

func (s *Syncer) sync(ctx context.Context, topics []Topic, cycle bool) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	start := time.Now()
	res, err := s.syncTopics(ctx, topics)
	if !cycle {
		if err == nil {
			s.record(res, start, false)
		}
		return err
	}
	s.mu.Lock()
	s.status.Cycles++
	s.status.LastSync, s.status.LastDuration = start, time.Since(start)
	s.mu.Unlock()
	if s.cfg.Report != nil {
		s.cfg.Report(err)
	}
	if err != nil {
		return err
	}
	s.record(res, start, true)
	return nil
}

type result struct {
	groupsSynced int64
	committed    int64
	clamps       int64
	skipped      []string
}

func (s *Syncer) record(r result, start time.Time, cycle bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.OffsetsCommitted += r.committed
	s.status.Clamps += r.clamps
	if !cycle {
		return
	}
	s.status.GroupsSynced = r.groupsSynced
	sort.Strings(r.skipped)
	if !slices.Equal(r.skipped, s.status.SkippedGroups) {
		// Logged when the set changes, not every cycle.
		s.log.Info("destination groups with active members are not synced", zap.Strings("groups", r.skipped))
	}
	s.status.SkippedGroups = r.skipped
}

// syncTopics copies the committed offsets of every admitted source group for the given topics.
func (s *Syncer) syncTopics(ctx context.Context, topics []Topic) (result, error) {
	var res result
	if len(topics) == 0 {
		return res, nil
	}
	mirrorOf := map[string]string{}
	var mirrors []string
	for _, t := range topics {
		mirrorOf[t.Source] = t.Mirror
		mirrors = append(mirrors, t.Mirror)
	}
	// Classic groups and KIP-848 consumer groups; share groups have no committed offsets to copy, and KIP-1071
	// streams groups are left out (their destination group could not be taken over by the streams protocol).
	listed, err := s.src.ListGroupsByType(ctx, []string{"classic", "consumer"})
	if err != nil {
		return res, fmt.Errorf("list source consumer groups: %w", err)
	}
	var groups []string
	for _, g := range listed.Sorted() {
		if s.cfg.Groups.Match(g.Group) {
			groups = append(groups, g.Group)
		}
	}
	if len(groups) == 0 {
		return res, nil
	}
	hwms, err := s.dst.ListEndOffsets(ctx, mirrors...)
	if err != nil {
		return res, fmt.Errorf("read the high watermarks of the mirror topics: %w", err)
	}

	// What each admitted group committed on the source for the mirrored topics, mapped to the destination.
	want := map[string]kadm.Offsets{} // destination group -> offsets
	fetched := s.src.FetchManyOffsets(ctx, groups...)
	var errs []error
	for _, g := range groups {
		fr, ok := fetched[g]
		if !ok {
			continue
		}
		if fr.Err != nil {
			if errors.Is(fr.Err, kerr.GroupIDNotFound) {
				continue
			}
			errs = append(errs, fmt.Errorf("fetch the committed offsets of source group %s: %w", g, fr.Err))
			continue
		}
		offs := kadm.Offsets{}
		for topic, parts := range fr.Fetched {
			mirror, ok := mirrorOf[topic]
			if !ok {
				continue
			}
			for p, o := range parts {
				if o.Err != nil || o.At < 0 {
					continue
				}
				at := o.At
				if hw, ok := hwms.Lookup(mirror, p); ok && hw.Err == nil && at > hw.Offset {
					at = hw.Offset // never beyond what the mirror has
					res.clamps++
				} else if !ok || hw.Err != nil {
					continue // the mirror partition does not exist (yet)
				}
				offs.Add(kadm.Offset{Topic: mirror, Partition: p, At: at, LeaderEpoch: -1, Metadata: o.Metadata})
			}
		}
		if len(offs) > 0 {
			want[s.cfg.GroupPrefix+g] = offs
		}
	}
	if len(want) == 0 {
		return res, errors.Join(errs...)
	}

	dstGroups := slices.Sorted(maps.Keys(want))
	active, err := s.activeGroups(ctx, dstGroups)
	if err != nil {
		return res, err
	}
	for _, g := range dstGroups {
		if active[g] {
			res.skipped = append(res.skipped, g) // its consumers own its offsets
			continue
		}
		n, err := s.commitChanged(ctx, g, want[g])
		res.committed += int64(n)
		if n > 0 {
			res.groupsSynced++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// activeGroups returns which of the destination groups have members. A group coordinator that is not ready yet (a
// destination whose __consumer_offsets is still being created) is waited for a few times before the cycle gives up.
func (s *Syncer) activeGroups(ctx context.Context, groups []string) (map[string]bool, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		var active map[string]bool
		if active, err = s.describeActive(ctx, groups); err == nil || !kerr.IsRetriable(err) {
			return active, err
		}
	}
	return nil, err
}

// describeActive describes the groups as classic groups (DescribeGroups) and as KIP-848 consumer groups
// (ConsumerGroupDescribe: DescribeGroups does not describe those), and returns those with members.
func (s *Syncer) describeActive(ctx context.Context, groups []string) (map[string]bool, error) {
	busy := func(state string, members int) bool {
		return members > 0 || (state != "Empty" && state != "Dead" && state != "")
	}
	active := map[string]bool{}
	classic, err := s.dst.DescribeGroups(ctx, groups...)
	if err != nil && len(classic) == 0 {
		return nil, fmt.Errorf("describe destination groups: %w", err)
	}
	for _, g := range groups {
		d, ok := classic[g]
		switch {
		case !ok:
		case d.Err != nil && kerr.IsRetriable(d.Err):
			return nil, fmt.Errorf("describe destination group %s: %w", g, d.Err)
		case d.Err == nil && busy(d.State, len(d.Members)):
			active[g] = true
		}
	}
	consumer, err := s.dst.DescribeConsumerGroups(ctx, groups...)
	if err != nil && len(consumer) == 0 && !brokerTooOld(err) {
		return nil, fmt.Errorf("describe destination consumer groups: %w", err)
	}
	for _, g := range groups {
		if d, ok := consumer[g]; ok && d.Err == nil && busy(d.State, len(d.Members)) {
			active[g] = true
		}
	}
	return active, nil
}

// brokerTooOld reports a request the destination does not support (ConsumerGroupDescribe before Kafka 4.0): such a
// broker has no KIP-848 groups. franz-go does not export the error it returns then.
func brokerTooOld(err error) bool {
	return errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "broker is too old")
}

// commitChanged commits the offsets that differ from what the destination group has committed (so an unchanged
// group costs one OffsetFetch and no write).
func (s *Syncer) commitChanged(ctx context.Context, group string, want kadm.Offsets) (int, error) {
	have, err := s.dst.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return 0, fmt.Errorf("fetch the committed offsets of destination group %s: %w", group, err)
	}
	changed := kadm.Offsets{}
	want.Each(func(o kadm.Offset) {
		if h, ok := have.Lookup(o.Topic, o.Partition); ok && h.Err == nil && h.At == o.At && h.Metadata == o.Metadata {
			return
		}
		changed.Add(o)
	})
	if len(changed) == 0 {
		return 0, nil
	}
	resp, err := s.dst.CommitOffsets(ctx, group, changed)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("commit offsets of destination group %s: %w", group, err)
	}
	n := 0
	changed.Each(func(kadm.Offset) { n++ })
	s.log.Debug("consumer offsets synced", zap.String("group", group), zap.Int("partitions", n))
	return n, nil
}
