package aclsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
)

// Store remembers which destination ACLs the link created, across restarts (the daemon keeps it in its state
// topic).
type Store interface {
	Load(ctx context.Context) ([]config.ACL, error)
	Save(ctx context.Context, created []config.ACL) error
}

// Config builds a Syncer.
type Config struct {
	// Source and Destination belong to the caller. The source principal needs DESCRIBE on the source cluster; the
	// destination principal ALTER on the destination cluster.
	Source, Destination *kgo.Client
	// Filters is acl.filters; with none, the Syncer does nothing and reports MISCONFIGURATION_ERROR.
	Filters  config.ACLFilters
	Interval time.Duration // acl.sync.ms
	// Prefix is cluster.link.prefix. LITERAL topic ACLs whose topic is mirrored (IsMirror(Prefix+name)) and every
	// PREFIXED topic ACL get Prefix in front of their name on the destination, as the mirror topics do; other
	// resources, the LITERAL "*" and LITERAL names of topics that are not mirrored keep their names.
	Prefix   string
	IsMirror func(destinationTopic string) bool
	Store    Store
	Logger   *zap.Logger
	// Report is told the outcome of every cycle (nil for a good one): the link keeps the task's state from it.
	Report func(error)
}

// Status is the ACL sync's counters (the link keeps its task state from Report).
type Status struct {
	LastSync time.Time
	Created  int64 // ACLs created on the destination since start
	Deleted  int64 // ACLs deleted from the destination since start
}

// Syncer keeps the destination's ACLs equal to the filtered source ACLs, touching only the ACLs it created.
type Syncer struct {
	cfg    Config
	log    *zap.Logger
	syncMu sync.Mutex

	mu      sync.Mutex
	status  Status
	created map[config.ACL]bool
	loaded  bool
}

// New returns a Syncer; Run starts it.
func New(cfg Config) *Syncer {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.IsMirror == nil {
		cfg.IsMirror = func(string) bool { return false }
	}
	return &Syncer{cfg: cfg, log: log, created: map[config.ACL]bool{}}
}

// Run syncs at once and then every Interval until ctx ends; failures are reported in Status, not returned.
func (s *Syncer) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		_ = s.SyncOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Status returns the task's state.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	return st
}

// Managed returns the destination ACLs the link created, sorted.
func (s *Syncer) Managed() []config.ACL {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]config.ACL, 0, len(s.created))
	for a := range s.created {
		out = append(out, a)
	}
	sortACLs(out)
	return out
}

func sortACLs(acls []config.ACL) {
	sort.Slice(acls, func(i, j int) bool { return acls[i].String() < acls[j].String() })
}

// SyncOnce runs one cycle: describe, diff, create, delete, save.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	err := s.syncOnce(ctx)
	s.mu.Lock()
	s.status.LastSync = time.Now()
	s.mu.Unlock()
	if s.cfg.Report != nil {
		s.cfg.Report(err)
	}
	return err
}

// misconfiguredError is a setting that keeps the ACL sync from doing anything: MISCONFIGURATION_ERROR.
type misconfiguredError struct{ msg string }

func (e misconfiguredError) Error() string     { return e.msg }
func (e misconfiguredError) ErrorCode() string { return "MISCONFIGURATION_ERROR" }

// errMisconfigured is acl.sync.enable without filters.
var errMisconfigured = misconfiguredError{"acl.filters has no filter: nothing would be synced; set acl.filters or acl.sync.enable=false"}

func (s *Syncer) syncOnce(ctx context.Context) error {
	if len(s.cfg.Filters.Filters) == 0 {
		return errMisconfigured
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	sourceACLs, err := describeAll(ctx, s.cfg.Source)
	if err != nil {
		return fmt.Errorf("describe the source ACLs: %w", err)
	}
	want := map[config.ACL]bool{}
	for _, a := range sourceACLs {
		if s.cfg.Filters.Match(a) && !IsGuard(a) {
			want[s.mapToDestination(a)] = true
		}
	}
	have, err := describeAll(ctx, s.cfg.Destination)
	if err != nil {
		return fmt.Errorf("describe the destination ACLs: %w", err)
	}
	exists := map[config.ACL]bool{}
	for _, a := range have {
		exists[a] = true
	}

	s.mu.Lock()
	var toCreate, toDelete []config.ACL
	changed := false
	for a := range want {
		if !exists[a] {
			toCreate = append(toCreate, a)
		}
	}
	for a := range s.created {
		switch {
		case !want[a] && exists[a]:
			toDelete = append(toDelete, a)
		case !want[a]:
			delete(s.created, a) // deleted by hand already
			changed = true
		}
	}
	s.mu.Unlock()
	sortACLs(toCreate)
	sortACLs(toDelete)

	var errs []error
	if len(toCreate) > 0 {
		// Remembered before they are created: a daemon stopped between the create and the save would otherwise
		// forget that these ACLs are the link's, and never delete them when the source's go. One that fails to be
		// created stays remembered and is created again next cycle (or forgotten once the source no longer has it).
		s.mu.Lock()
		for _, a := range toCreate {
			s.created[a] = true
		}
		s.mu.Unlock()
		if err := s.cfg.Store.Save(ctx, s.Managed()); err != nil {
			return fmt.Errorf("remember the ACLs about to be created: %w", err)
		}
		changed = false // saved
		done, err := createACLs(ctx, s.cfg.Destination, toCreate)
		if err != nil {
			errs = append(errs, fmt.Errorf("create ACLs on the destination: %w", err))
		}
		s.mu.Lock()
		s.status.Created += int64(len(done))
		s.mu.Unlock()
		if len(done) > 0 {
			s.log.Info("ACLs created on the destination", zap.Int("count", len(done)), zap.Stringers("acls", stringers(done)))
		}
	}
	if len(toDelete) > 0 {
		done, err := deleteACLs(ctx, s.cfg.Destination, toDelete)
		if err != nil {
			errs = append(errs, fmt.Errorf("delete ACLs from the destination: %w", err))
		}
		s.mu.Lock()
		for _, a := range done {
			delete(s.created, a)
		}
		s.status.Deleted += int64(len(done))
		s.mu.Unlock()
		changed = changed || len(done) > 0
		if len(done) > 0 {
			s.log.Info("ACLs gone from the source deleted on the destination", zap.Int("count", len(done)), zap.Stringers("acls", stringers(done)))
		}
	}
	if changed {
		if err := s.cfg.Store.Save(ctx, s.Managed()); err != nil {
			errs = append(errs, fmt.Errorf("remember the created ACLs: %w", err))
		}
	}
	return errors.Join(errs...)
}

func stringers(acls []config.ACL) []fmt.Stringer {
	out := make([]fmt.Stringer, len(acls))
	for i, a := range acls {
		out[i] = a
	}
	return out
}

func (s *Syncer) load(ctx context.Context) error {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if loaded {
		return nil
	}
	acls, err := s.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("read the ACLs the link created earlier: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range acls {
		s.created[a] = true
	}
	s.loaded = true
	return nil
}

// mapToDestination renames topic resources the way mirror topics are named.
func (s *Syncer) mapToDestination(a config.ACL) config.ACL {
	if a.ResourceType != config.ResourceTopic || s.cfg.Prefix == "" {
		return a
	}
	switch {
	case a.PatternType == config.PatternPrefixed:
		a.ResourceName = s.cfg.Prefix + a.ResourceName
	case a.PatternType == config.PatternLiteral && a.ResourceName != "*" && s.cfg.IsMirror(s.cfg.Prefix+a.ResourceName):
		a.ResourceName = s.cfg.Prefix + a.ResourceName
	}
	return a
}

// describeAll returns every ACL of a cluster.
func describeAll(ctx context.Context, cl *kgo.Client) ([]config.ACL, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeAny
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if resp.ErrorMessage != nil {
			return nil, fmt.Errorf("%w: %s", err, *resp.ErrorMessage)
		}
		return nil, err
	}
	var out []config.ACL
	for _, r := range resp.Resources {
		for _, e := range r.ACLs {
			out = append(out, config.ACL{
				ResourceType: config.ResourceType(r.ResourceType), ResourceName: r.ResourceName,
				PatternType: config.PatternType(r.ResourcePatternType), Principal: e.Principal, Host: e.Host,
				Operation: config.Operation(e.Operation), Permission: config.Permission(e.PermissionType),
			})
		}
	}
	return out, nil
}

// createACLs creates acls and returns those that were created.
func createACLs(ctx context.Context, cl *kgo.Client, acls []config.ACL) ([]config.ACL, error) {
	req := kmsg.NewPtrCreateACLsRequest()
	for _, a := range acls {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType = kmsg.ACLResourceType(a.ResourceType)
		c.ResourceName = a.ResourceName
		c.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
		c.Principal, c.Host = a.Principal, a.Host
		c.Operation = kmsg.ACLOperation(a.Operation)
		c.PermissionType = kmsg.ACLPermissionType(a.Permission)
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	codes := make([]int16, len(resp.Results))
	for i, r := range resp.Results {
		codes[i] = r.ErrorCode
	}
	return applied(acls, codes)
}

// deleteACLs deletes exactly acls and returns those deleted.
func deleteACLs(ctx context.Context, cl *kgo.Client, acls []config.ACL) ([]config.ACL, error) {
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, a := range acls {
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType = kmsg.ACLResourceType(a.ResourceType)
		f.ResourceName = kmsg.StringPtr(a.ResourceName)
		f.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
		f.Principal, f.Host = kmsg.StringPtr(a.Principal), kmsg.StringPtr(a.Host)
		f.Operation = kmsg.ACLOperation(a.Operation)
		f.PermissionType = kmsg.ACLPermissionType(a.Permission)
		req.Filters = append(req.Filters, f)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	codes := make([]int16, len(resp.Results))
	for i, r := range resp.Results {
		codes[i] = r.ErrorCode
	}
	return applied(acls, codes)
}

// applied pairs each ACL of a create or delete request with its result's error code, in order, and returns those
// that succeeded and the errors of the others.
func applied(acls []config.ACL, codes []int16) ([]config.ACL, error) {
	var done []config.ACL
	var errs []error
	for i, code := range codes {
		if i >= len(acls) {
			break
		}
		if err := kerr.ErrorForCode(code); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", acls[i], err))
			continue
		}
		done = append(done, acls[i])
	}
	return done, errors.Join(errs...)
}
