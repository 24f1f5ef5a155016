package daemon

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/link"
	"github.com/clusterlink/clusterlink/controlplane/state"
)

// This file is the admin API's Backend: each method maps an API call to the link runtime.

var _ adminapi.Backend = (*Daemon)(nil)

// ClusterID is the destination cluster's id.
func (d *Daemon) ClusterID() string { return d.dstID }

func (d *Daemon) linkData(r *running) adminapi.Link {
	l := r.l
	st, code, msg := l.State()
	out := adminapi.Link{
		Kind:            "KafkaLinkData",
		Metadata:        adminapi.Metadata{Self: "/kafka/v3/clusters/" + d.dstID + "/links/" + l.Name()},
		SourceClusterID: l.SourceClusterID(), DestinationClusterID: d.dstID,
		LinkName: l.Name(), LinkID: l.ID(), LinkState: st, LinkError: code, LinkErrorMessage: msg,
		TopicNames: []string{},
	}
	for _, m := range l.Mirrors() {
		out.TopicNames = append(out.TopicNames, m.Topic)
	}
	for _, t := range l.Tasks() {
		task := adminapi.Task{TaskName: t.Name, State: t.State, Errors: []adminapi.TaskError{}}
		if t.ErrorCode != "" || t.ErrorMessage != "" {
			task.Errors = append(task.Errors, adminapi.TaskError{ErrorCode: t.ErrorCode, ErrorMessage: t.ErrorMessage})
		}
		out.Tasks = append(out.Tasks, task)
	}
	return out
}

// Links lists the links.
func (d *Daemon) Links(context.Context) ([]adminapi.Link, error) {
	var out []adminapi.Link
	for _, r := range d.sortedLinks() {
		out = append(out, d.linkData(r))
	}
	return out, nil
}

// Link returns one link.
func (d *Daemon) Link(_ context.Context, name string) (adminapi.Link, error) {
	r, err := d.link(name)
	if err != nil {
		return adminapi.Link{}, err
	}
	return d.linkData(r), nil
}

// refuseSecretReferences refuses ${env:...} and ${file:...} over the API: they would read the daemon's own
// environment and files on behalf of whoever calls the API.
func refuseSecretReferences(configs map[string]string) error {
	var bad []string
	for k, v := range configs {
		if strings.Contains(v, "${env:") || strings.Contains(v, "${file:") {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return adminapi.BadRequest("configs %s: ${env:...} and ${file:...} references are only allowed in the daemon's config file; give the value itself", strings.Join(bad, ", "))
	}
	return nil
}

// CreateLink creates and starts a link; its configs are stored in the state topic.
func (d *Daemon) CreateLink(ctx context.Context, name string, configs map[string]string, validateOnly bool) error {
	if err := refuseSecretReferences(configs); err != nil {
		return err
	}
	cfg, err := config.ParseLink(name, configs)
	if err != nil {
		return adminapi.BadRequest("%s", err.Error())
	}
	if _, err := d.link(name); err == nil {
		return adminapi.Conflict("link %s already exists", name)
	}
	if _, ok := d.store.Link(name); ok {
		return adminapi.Conflict("link %s already exists in the state topic (declared by a config file but not run by this daemon?)", name)
	}
	if validateOnly {
		return nil
	}
	rec := state.Link{Name: name, ID: newID(), Origin: state.OriginAPI, Configs: configs, CreatedMs: time.Now().UnixMilli()}
	if err := d.store.PutLink(ctx, rec); err != nil {
		return err
	}
	d.mu.Lock()
	runCtx := d.ctx
	d.mu.Unlock()
	return d.startLink(runCtx, rec, cfg)
}

// DeleteLink stops a link and forgets it. Its mirror topics stay on the destination as they are.
func (d *Daemon) DeleteLink(ctx context.Context, name string, force bool) error {
	r, err := d.link(name)
	if err != nil {
		return err
	}
	if r.origin == state.OriginFile {
		return adminapi.BadRequest("link %s is declared in the daemon's config file: remove it there and restart the daemon", name)
	}
	if err := r.l.CheckDelete(force); err != nil {
		return mapError(err)
	}
	r.cancel()
	<-r.done
	r.l.Close()
	d.mu.Lock()
	delete(d.links, name)
	d.mu.Unlock()
	return d.store.DeleteLink(ctx, name)
}

// LinkConfigs returns a link's configs, sensitive values masked.
func (d *Daemon) LinkConfigs(_ context.Context, name string) ([]adminapi.Config, error) {
	r, err := d.link(name)
	if err != nil {
		return nil, err
	}
	var out []adminapi.Config
	for _, c := range r.l.Config().Configs() {
		out = append(out, adminapi.Config{Name: c.Name, Value: c.Value, ReadOnly: c.ReadOnly, Sensitive: c.Sensitive,
			Source: c.Source, Synonyms: []string{}})
	}
	return out, nil
}

// AlterLinkConfigs changes a link's configs and stores the change. Changes to the sync loops, auto-creation and
// intervals (see link.LiveChange) apply to the running link; any other change restarts the link with the new configs
// (copying resumes from each mirror's log end offset).
func (d *Daemon) AlterLinkConfigs(ctx context.Context, name string, set map[string]string, reset []string, validateOnly bool) error {
	if err := refuseSecretReferences(set); err != nil {
		return err
	}
	r, err := d.link(name)
	if err != nil {
		return err
	}
	rec, _ := d.store.Link(name)
	cur := r.l.Config()
	var readOnly []string
	for _, c := range cur.Configs() {
		if !c.ReadOnly {
			continue
		}
		if v, ok := set[c.Name]; ok && v != cur.Raw[c.Name] {
			readOnly = append(readOnly, c.Name)
		}
		if slices.Contains(reset, c.Name) {
			readOnly = append(readOnly, c.Name)
		}
	}
	if len(readOnly) > 0 {
		return adminapi.BadRequest("configs %s cannot change once the link exists", strings.Join(readOnly, ", "))
	}
	merged := mergeConfigs(cur.Raw, set, reset)
	cfg, err := config.ParseLink(name, merged)
	if err != nil {
		return adminapi.BadRequest("%s", err.Error())
	}
	if validateOnly {
		return nil
	}
	if rec.Origin == state.OriginFile {
		if rec.Configs == nil {
			rec.Configs = map[string]string{}
		}
		for _, k := range reset {
			delete(rec.Configs, k)
			if !slices.Contains(rec.Reset, k) {
				rec.Reset = append(rec.Reset, k)
			}
		}
		for k, v := range set {
			rec.Configs[k] = v
			rec.Reset = slices.DeleteFunc(rec.Reset, func(s string) bool { return s == k })
		}
	} else {
		rec.Configs = merged
	}
	if err := d.store.PutLink(ctx, rec); err != nil {
		return err
	}
	if changed, live := link.LiveChange(cur.Raw, merged); live {
		guard := guardOf(r.l)
		r.l.Reconfigure(cfg, func(l *link.Link) ([]link.Syncer, link.MirrorHooks) { return d.syncersFor(l, guard) })
		d.log.Info("link configs changed, applied live", zap.String("link", name), zap.Strings("configs", changed))
		return nil
	}
	return d.restartLink(rec, cfg)
}

func (d *Daemon) mirrorData(linkName string, m link.Mirror) adminapi.Mirror {
	out := adminapi.Mirror{
		Kind:            "KafkaMirrorData",
		Metadata:        adminapi.Metadata{Self: "/kafka/v3/clusters/" + d.dstID + "/links/" + linkName + "/mirrors/" + m.Topic},
		LinkName:        linkName,
		MirrorTopicName: m.Topic, SourceTopicName: m.SourceTopic, NumPartitions: m.NumPartitions,
		MirrorStatus: m.Status, StateTimeMs: m.StatusTime.UnixMilli(), ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage,
		MirrorLags: mirrorLags(m),
	}
	return out
}

func mirrorLags(m link.Mirror) []adminapi.MirrorLag {
	out := []adminapi.MirrorLag{}
	for _, p := range m.Partitions {
		catchUp := -1.0
		if p.Lag == 0 {
			catchUp = 0
		} else if p.CopyRate > 0 {
			catchUp = math.Round(float64(p.Lag)/p.CopyRate*10) / 10
		}
		out = append(out, adminapi.MirrorLag{
			Partition: p.Partition, Lag: p.Lag, LastSourceFetchOffset: p.LastSourceFetchOffset,
			SourceHighWatermark: p.SourceHighWatermark, MirrorLogEndOffset: p.MirrorLogEndOffset,
			CatchUpSeconds: catchUp, ErrorCode: p.ErrorCode, ErrorMessage: p.ErrorMessage,
		})
	}
	return out
}

// Mirrors lists a link's mirrors, or every link's.
func (d *Daemon) Mirrors(_ context.Context, linkName string) ([]adminapi.Mirror, error) {
	var links []*running
	if linkName == "" {
		links = d.sortedLinks()
	} else {
		r, err := d.link(linkName)
		if err != nil {
			return nil, err
		}
		links = []*running{r}
	}
	var out []adminapi.Mirror
	for _, r := range links {
		for _, m := range r.l.Mirrors() {
			out = append(out, d.mirrorData(r.l.Name(), m))
		}
	}
	return out, nil
}

// Mirror returns one mirror topic.
func (d *Daemon) Mirror(_ context.Context, linkName, topic string) (adminapi.Mirror, error) {
	r, err := d.link(linkName)
	if err != nil {
		return adminapi.Mirror{}, err
	}
	m, err := r.l.Mirror(topic)
	if err != nil {
		return adminapi.Mirror{}, mapError(err)
	}
	return d.mirrorData(linkName, m), nil
}

// CreateMirror creates a mirror topic on a link.
func (d *Daemon) CreateMirror(ctx context.Context, linkName, sourceTopic, mirrorTopic string, validateOnly bool) error {
	r, err := d.link(linkName)
	if err != nil {
		return err
	}
	return mapError(r.l.CreateMirror(ctx, sourceTopic, mirrorTopic, validateOnly))
}

// AlterMirrors runs promote, failover, pause or resume on each topic, one after the other.
func (d *Daemon) AlterMirrors(ctx context.Context, linkName, op string, topics []string, validateOnly bool) ([]adminapi.AlterMirrorResult, error) {
	r, err := d.link(linkName)
	if err != nil {
		return nil, err
	}
	run := map[string]func(context.Context, string, bool) (link.Mirror, error){
		adminapi.OpPromote: r.l.Promote, adminapi.OpFailover: r.l.Failover, adminapi.OpPause: r.l.Pause, adminapi.OpResume: r.l.Resume,
	}[op]
	if run == nil {
		return nil, adminapi.BadRequest("unknown mirror operation %q", op)
	}
	var out []adminapi.AlterMirrorResult
	for _, topic := range topics {
		m, err := run(ctx, topic, validateOnly)
		res := adminapi.AlterMirrorResult{MirrorTopicName: topic, MirrorLags: mirrorLags(m)}
		if err != nil {
			res.ErrorCode, res.ErrorMessage = errorCode(err), err.Error()
		}
		out = append(out, res)
	}
	return out, nil
}

func errorCode(err error) string {
	var inv *link.InvalidError
	switch {
	case errors.Is(err, link.ErrNotFound):
		return "UNKNOWN_TOPIC_OR_PARTITION"
	case errors.As(err, &inv):
		return "INVALID_REQUEST"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "REQUEST_TIMED_OUT"
	}
	return "UNKNOWN_SERVER_ERROR"
}

// LinkACLs returns the destination ACLs a link manages.
func (d *Daemon) LinkACLs(_ context.Context, linkName string) ([]adminapi.ACL, error) {
	r, err := d.link(linkName)
	if err != nil {
		return nil, err
	}
	out := []adminapi.ACL{}
	for _, s := range r.l.Syncers() {
		if lister, ok := s.(ACLLister); ok {
			out = append(out, lister.ManagedACLs()...)
		}
	}
	return out, nil
}

// ACLLister is a link syncer that manages destination ACLs (the ACL sync) and can list them.
type ACLLister interface {
	ManagedACLs() []adminapi.ACL
}
