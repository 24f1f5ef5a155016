package daemon

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/link"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator/compare"
)

// This file is the admin API's Backend: each method maps an API call to the links (links.go) and their runtime.

var _ adminapi.Backend = (*Daemon)(nil)

// ClusterID is the destination cluster's id.
func (d *Daemon) ClusterID() string { return d.dstID }

func notFoundLink(name string) error { return adminapi.NotFound("link %s not found", name) }

// apiError gives a link's refusal its HTTP status: 404, 400 or 409 by class; any other error stays a 500.
func apiError(err error) error {
	switch {
	case err == nil:
		return nil
	case link.IsNotFound(err):
		return adminapi.NotFound("%s", err.Error())
	case link.IsInvalid(err):
		return adminapi.BadRequest("%s", err.Error())
	case link.IsConflict(err), errors.As(err, new(*state.NotWriterError)), errors.As(err, new(*state.FencedError)):
		return adminapi.Conflict("%s", err.Error())
	}
	return err
}

func (d *Daemon) linkData(l *link.Link) adminapi.Link {
	st, code, msg := l.State()
	if st == link.StateSourceUnavailable {
		st = "UNAVAILABLE" // Confluent's name for a link whose source does not answer
	}
	out := adminapi.Link{
		Kind:            "KafkaLinkData",
		Metadata:        adminapi.Metadata{Self: "/kafka/v3/clusters/" + d.dstID + "/links/" + l.Name()},
		SourceClusterID: l.SourceClusterID(), DestinationClusterID: d.dstID,
		LinkName: l.Name(), ClusterLinkID: l.ID(), LinkID: l.ID(), LinkState: st, LinkError: code, LinkErrorMessage: msg,
		TopicNames: []string{},
	}
	for _, m := range l.Mirrors() {
		out.TopicNames = append(out.TopicNames, m.Topic)
	}
	for _, t := range l.Tasks() {
		at := adminapi.Task{TaskName: t.Name, State: t.State, Errors: []adminapi.TaskError{}}
		if t.ErrorCode != "" || t.ErrorMessage != "" {
			at.Errors = append(at.Errors, adminapi.TaskError{ErrorCode: t.ErrorCode, ErrorMessage: t.ErrorMessage})
		}
		out.Tasks = append(out.Tasks, at)
	}
	return out
}

// Links lists the links.
func (d *Daemon) Links(context.Context) ([]adminapi.Link, error) {
	var out []adminapi.Link
	for _, l := range d.runningLinks() {
		out = append(out, d.linkData(l))
	}
	return out, nil
}

// Link returns one link.
func (d *Daemon) Link(_ context.Context, name string) (adminapi.Link, error) {
	l, err := d.currentLink(name)
	if err != nil {
		return adminapi.Link{}, err
	}
	return d.linkData(l), nil
}

// checkGiven checks configs given over the API: no file outside the allowed directories, no secret the state topic
// would keep in clear.
func (d *Daemon) checkGiven(configs map[string]string) error {
	if err := d.checkFilePaths(configs); err != nil {
		return err
	}
	return d.checkSecretsSealed(configs)
}

// checkLinkConfigs parses a link's configs and checks the names derived from them, as a 400 listing every problem.
func checkLinkConfigs(name string, configs map[string]string) error {
	return checkLinkConfigsWith(config.ParseLink, name, configs)
}

// checkLinkConfigsWith is checkLinkConfigs with the parser of the link's origin (parseStoredLink).
func checkLinkConfigsWith(parse func(string, map[string]string) (*config.Link, error), name string, configs map[string]string) error {
	cfg, err := parse(name, configs)
	if err == nil {
		err = link.CheckNames(name, cfg)
	}
	if err != nil {
		return adminapi.BadRequest("%s", err.Error())
	}
	return nil
}

// CreateLink creates and starts a link; its configs are stored in the state topic. Concurrent creates of one name
// take turns: exactly one succeeds, the others find the link and are refused.
func (d *Daemon) CreateLink(ctx context.Context, name string, configs map[string]string, validateOnly bool) error {
	if err := d.checkGiven(configs); err != nil {
		return err
	}
	if err := checkLinkConfigs(name, configs); err != nil {
		return err
	}
	for {
		d.mu.Lock()
		if s, ok := d.slots[name]; ok {
			d.mu.Unlock()
			s.ops.RLock() // wait for an operation on the name to end: a create that failed leaves no link
			gone := s.gone
			s.ops.RUnlock()
			if gone {
				continue
			}
			return adminapi.Conflict("link %s already exists", name)
		}
		s := &slot{name: name}
		s.ops.Lock()
		d.slots[name] = s
		d.mu.Unlock()
		err := d.createLocked(ctx, s, configs, validateOnly)
		if err != nil || validateOnly {
			s.gone = true
			d.mu.Lock()
			delete(d.slots, name)
			d.mu.Unlock()
		}
		s.ops.Unlock()
		return err
	}
}

func (d *Daemon) createLocked(ctx context.Context, s *slot, configs map[string]string, validateOnly bool) error {
	if _, ok := d.store.Link(s.name); ok {
		return adminapi.Conflict("link %s already exists in the state topic (declared by a config file but not run by this daemon?)", s.name)
	}
	if validateOnly {
		return nil
	}
	s.rec = state.Link{Name: s.name, ID: newID(), Origin: state.OriginAPI, Configs: configs, CreatedMs: nowMs()}
	s.raw = configs
	if err := d.store.PutLink(ctx, s.rec); err != nil {
		return err
	}
	d.startLocked(s)
	return nil
}

// DeleteLink stops a link and forgets it. Its mirror topics stay on the destination as they are. With validateOnly
// it only checks that it could.
func (d *Daemon) DeleteLink(ctx context.Context, name string, force, validateOnly bool) error {
	s, unlock, err := d.lockLink(name, false)
	if err != nil {
		return err
	}
	defer unlock()
	if s.rec.Origin == state.OriginFile {
		return adminapi.BadRequest("link %s is declared in the daemon's config file: remove it there and restart the daemon", name)
	}
	if err := refuseWhenShared(s.rt.Load().l, "delete"); err != nil {
		return err
	}
	if err := s.rt.Load().l.CheckDelete(force); err != nil {
		return apiError(err)
	}
	if validateOnly {
		return nil
	}
	d.stopLocked(s)
	if err := d.store.DeleteLink(ctx, name); err != nil {
		d.startLocked(s) // still stored: it runs on
		return err
	}
	s.gone = true
	d.mu.Lock()
	delete(d.slots, name)
	d.mu.Unlock()
	d.log.Info("link deleted", zap.String("link", name))
	return nil
}

// LinkConfigs returns a link's configs, sensitive values masked; a FAILED link's as they were given.
func (d *Daemon) LinkConfigs(_ context.Context, name string) ([]adminapi.Config, error) {
	l, err := d.currentLink(name)
	if err != nil {
		return nil, err
	}
	var entries []config.ConfigEntry
	if cfg := l.Config(); cfg != nil {
		entries = cfg.Configs()
	} else if s := d.slotOf(name); s != nil {
		s.ops.RLock()
		entries = config.RawConfigs(s.raw)
		s.ops.RUnlock()
	}
	var out []adminapi.Config
	for _, c := range entries {
		out = append(out, adminapi.Config{Name: c.Name, Value: c.Value, ReadOnly: c.ReadOnly, Sensitive: c.Sensitive,
			Source: c.Source, Synonyms: []string{}})
	}
	return out, nil
}

// AlterLinkConfigs changes a link's configs and stores the change. Changes to the sync loops, auto-creation and
// intervals (see link.LiveChange) apply to the running link; any other change restarts the link with the new configs
// (copying resumes from each mirror's log end offset). A FAILED link is rebuilt with its new configs. Concurrent
// changes of one link take turns.
func (d *Daemon) AlterLinkConfigs(ctx context.Context, name string, set map[string]string, reset []string, validateOnly bool) error {
	if err := d.checkGiven(set); err != nil {
		return err
	}
	s, unlock, err := d.lockLink(name, false)
	if err != nil {
		return err
	}
	defer unlock()
	var readOnly []string
	for k, v := range set {
		if config.IsReadOnly(k) && v != s.raw[k] {
			readOnly = append(readOnly, k)
		}
	}
	for _, k := range reset {
		if config.IsReadOnly(k) {
			readOnly = append(readOnly, k)
		}
	}
	if len(readOnly) > 0 {
		slices.Sort(readOnly)
		return adminapi.BadRequest("configs %s cannot change once the link exists", strings.Join(readOnly, ", "))
	}
	merged := mergeConfigs(s.raw, set, reset)
	parse := parseStoredLink(s.rec, set, reset)
	if err := checkLinkConfigsWith(parse, name, merged); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	rec := s.rec
	if rec.Origin == state.OriginFile {
		rec.Configs = mergeConfigs(rec.Configs, set, nil)
		for _, k := range reset {
			delete(rec.Configs, k)
			if !slices.Contains(rec.Reset, k) {
				rec.Reset = append(rec.Reset, k)
			}
		}
		rec.Reset = slices.DeleteFunc(rec.Reset, func(k string) bool { _, ok := set[k]; return ok })
	} else {
		rec.Configs = merged
	}
	if err := d.store.PutLink(ctx, rec); err != nil {
		return apiError(err)
	}
	before := s.raw
	s.rec, s.raw = rec, merged
	l := s.rt.Load().l
	if changed, live := link.LiveChange(before, merged); live && l.Broken() == nil {
		cfg, _ := parse(name, merged) // checked above
		if err := l.Reconfigure(cfg); err != nil {
			return err
		}
		d.log.Info("link configs changed, applied live", zap.String("link", name), zap.Strings("configs", changed))
		return nil
	}
	d.stopLocked(s)
	d.startLocked(s)
	d.log.Info("link configs changed, link restarted", zap.String("link", name))
	return nil
}

func (d *Daemon) mirrorData(linkName string, m link.Mirror) adminapi.Mirror {
	out := adminapi.Mirror{
		Kind:            "KafkaMirrorData",
		Metadata:        adminapi.Metadata{Self: "/kafka/v3/clusters/" + d.dstID + "/links/" + linkName + "/mirrors/" + m.Topic},
		LinkName:        linkName,
		MirrorTopicName: m.Topic, SourceTopicName: m.SourceTopic, NumPartitions: m.NumPartitions,
		MirrorStatus: string(m.Status), StateTimeMs: m.StatusTime.UnixMilli(), MirrorTopicError: m.ErrorCode,
		MirrorLags: mirrorLags(m), MirrorStateTransitionErrors: []adminapi.TaskError{}, Reversed: m.Reversed,
	}
	if m.ErrorCode != "" || m.ErrorMessage != "" {
		out.MirrorStateTransitionErrors = append(out.MirrorStateTransitionErrors,
			adminapi.TaskError{ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage})
	}
	return out
}

func mirrorLags(m link.Mirror) []adminapi.MirrorLag {
	out := []adminapi.MirrorLag{}
	for _, p := range m.Partitions {
		catchUp := -1.0 // unknown
		if p.Lag == 0 {
			catchUp = 0
		} else if p.CopyRate > 0 {
			catchUp = math.Round(float64(p.Lag)/p.CopyRate*10) / 10
		}
		out = append(out, adminapi.MirrorLag{
			Partition: p.Partition, Lag: p.Lag, LastSourceFetchOffset: p.LastSourceFetchOffset,
			SourceHighWatermark: p.SourceHighWatermark, MirrorLogEndOffset: p.MirrorLogEndOffset,
			CatchUpSeconds: catchUp, TimeLagMs: timeLagMs(p.TimeLag), ErrorCode: p.ErrorCode, ErrorMessage: p.ErrorMessage,
		})
	}
	return out
}

// Mirrors lists a link's mirrors, or every link's.
func (d *Daemon) Mirrors(_ context.Context, linkName string) ([]adminapi.Mirror, error) {
	var links []*link.Link
	if linkName == "" {
		links = d.runningLinks()
	} else {
		l, err := d.currentLink(linkName)
		if err != nil {
			return nil, err
		}
		links = []*link.Link{l}
	}
	var out []adminapi.Mirror
	for _, l := range links {
		for _, m := range l.Mirrors() {
			out = append(out, d.mirrorData(l.Name(), m))
		}
	}
	return out, nil
}

// Mirror returns one mirror topic.
func (d *Daemon) Mirror(_ context.Context, linkName, topic string) (adminapi.Mirror, error) {
	l, err := d.currentLink(linkName)
	if err != nil {
		return adminapi.Mirror{}, err
	}
	m, err := l.Mirror(topic)
	if err != nil {
		return adminapi.Mirror{}, apiError(err)
	}
	return d.mirrorData(linkName, m), nil
}

// CreateMirror creates a mirror topic on a link. Its replication factor is the destination's
// default.replication.factor whatever the request says; topic config overrides are refused (a mirror takes its
// source's configs).
func (d *Daemon) CreateMirror(ctx context.Context, linkName string, req adminapi.CreateMirrorRequest, validateOnly bool) error {
	if len(req.Configs) > 0 {
		names := make([]string, 0, len(req.Configs))
		for _, c := range req.Configs {
			names = append(names, c.Name)
		}
		return adminapi.BadRequest("configs %s: a mirror topic takes its source topic's configs (synced every topic.config.sync.ms); give no configs, and change the topic after promote or failover",
			strings.Join(names, ", "))
	}
	s, unlock, err := d.lockLink(linkName, true)
	if err != nil {
		return err
	}
	defer unlock()
	return apiError(s.rt.Load().l.CreateMirror(ctx, req.SourceTopicName, req.MirrorTopicName, validateOnly))
}

// AlterMirrors runs promote, failover, pause, resume or restart on each topic, one after the other. The link is
// held shared meanwhile: it is not restarted or deleted under a running promote.
func (d *Daemon) AlterMirrors(ctx context.Context, linkName, op string, topics []string, o adminapi.AlterOptions) ([]adminapi.AlterMirrorResult, error) {
	s, unlock, err := d.lockLink(linkName, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	l := s.rt.Load().l
	if err := refuseWhenShared(l, "mirrors:"+op); err != nil {
		return nil, err
	}
	if slices.Contains(adminapi.FailbackOps, op) {
		return failback(ctx, l, op, topics, o)
	}
	stopOpts := link.StopOptions{ValidateOnly: o.ValidateOnly, Force: o.Force}
	stop := func(fn func(context.Context, string, link.StopOptions) (link.Mirror, error)) func(context.Context, string, bool) (link.Mirror, error) {
		return func(ctx context.Context, topic string, _ bool) (link.Mirror, error) { return fn(ctx, topic, stopOpts) }
	}
	run := map[string]func(context.Context, string, bool) (link.Mirror, error){
		adminapi.OpPromote: stop(l.Promote), adminapi.OpFailover: stop(l.Failover), adminapi.OpPause: l.Pause,
		adminapi.OpResume: l.Resume, adminapi.OpRestart: l.Restart,
	}[op]
	if run == nil {
		return nil, adminapi.BadRequest("unknown mirror operation %q", op)
	}
	if o.Force && op != adminapi.OpPromote && op != adminapi.OpFailover {
		return nil, adminapi.BadRequest("force applies to promote and failover only, not %s", op)
	}
	var out []adminapi.AlterMirrorResult
	for _, topic := range topics {
		m, err := run(ctx, topic, o.ValidateOnly)
		res := adminapi.AlterMirrorResult{MirrorTopicName: topic, MirrorLags: mirrorLags(m)}
		if err != nil {
			res.Fail(apiError(err))
		}
		out = append(out, res)
	}
	return out, nil
}

// LinkACLs returns the destination ACLs a link manages.
func (d *Daemon) LinkACLs(_ context.Context, linkName string) ([]adminapi.ACL, error) {
	l, err := d.currentLink(linkName)
	if err != nil {
		return nil, err
	}
	out := []adminapi.ACL{}
	for _, a := range l.ManagedACLs() {
		out = append(out, adminapi.ACL{Principal: a.Principal, Host: a.Host, Permission: a.Permission.String(),
			Operation: a.Operation.String(), ResourceType: a.ResourceType.String(), ResourceName: a.ResourceName,
			PatternType: a.PatternType.String(), Reason: a.Reason})
	}
	return out, nil
}

// timeLagMs is a partition's time lag in milliseconds, -1 while unknown.
func timeLagMs(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

// VerifyMirror compares a mirror topic with its source.
func (d *Daemon) VerifyMirror(ctx context.Context, linkName, topic string, o adminapi.VerifyOptions) (adminapi.MirrorVerification, error) {
	l, err := d.currentLink(linkName)
	if err != nil {
		return adminapi.MirrorVerification{}, err
	}
	m, err := l.Mirror(topic)
	if err != nil {
		return adminapi.MirrorVerification{}, apiError(err)
	}
	vs, err := l.Verify(ctx, topic, compare.Options{FromOffset: o.FromOffset, Sample: o.Sample, Partitions: o.Partitions})
	if err != nil {
		return adminapi.MirrorVerification{}, apiError(err)
	}
	out := adminapi.MirrorVerification{LinkName: linkName, MirrorTopicName: topic, SourceTopicName: m.SourceTopic, Identical: true}
	for _, v := range vs {
		out.Identical = out.Identical && v.Identical()
		out.Partitions = append(out.Partitions, adminapi.PartitionVerification{
			Partition: v.Partition, FromOffset: v.From, ToOffset: v.To, OffsetsCompared: v.Compared, OffsetsByBatch: v.ByBatch,
			BatchesIdentical: v.BatchesIdentical, OffsetsDiffering: v.Differing, OnlyOnSource: v.OnlyOnSource,
			OnlyOnMirror: v.OnlyOnMirror, NotYetCopied: v.NotYetCopied, PendingCompaction: v.PendingCompaction,
			FirstDifference: v.FirstDifference, Detail: v.Detail,
		})
	}
	return out, nil
}
