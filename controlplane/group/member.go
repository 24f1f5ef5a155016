package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// ProtocolType is the group protocol type of clusterlink's groups. The coordinator refuses a member of another
// type (a consumer, Connect) with INCONSISTENT_GROUP_PROTOCOL, so a clusterlink group id can never be shared by
// accident.
const ProtocolType = "clusterlink"

// protocolName is the one assignment protocol the members speak (the metadata and assignment below, version 1).
const protocolName = "sticky-load-v1"

// The defaults of Options, as Kafka Connect's (session.timeout.ms 10 s, heartbeat.interval.ms 3 s).
const (
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 20 * time.Second
)

// Options configure a Member.
type Options struct {
	// Client is a destination client of the member's own (its group requests must not queue behind produces).
	Client *kgo.Client
	// Group is the group id: every daemon of one destination, state topic and link uses the same one.
	Group string
	// Name is how the member is shown to operators (host and process id).
	Name string
	// SessionTimeout: the coordinator expels a member it heard nothing from for this long. Default 10 s.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often the member heartbeats. Default 3 s.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for members to rejoin in a rebalance. Default 20 s.
	RebalanceTimeout time.Duration
	Logger           *zap.Logger
	// Work returns the units this member knows of (the leader assigns the union of every member's).
	Work func() []Unit
	// Load returns the bytes/s of each unit the member runs.
	Load func() map[Unit]float64
	// Apply makes the member run exactly these units. It must stop the units it no longer gets with nothing of
	// theirs in flight before it returns: the member tells the group they are free right after.
	Apply func(ctx context.Context, units []Unit) error
}

// Member is one daemon's membership of a group. Run joins and keeps it; Lease and View read it.
type Member struct {
	o   Options
	log *zap.Logger

	rejoin chan struct{}

	mu         sync.Mutex
	memberID   string
	generation int32
	leader     string
	owned      []Unit
	lastAlive  time.Time // send time of the last request the coordinator answered as from a live member
	view       []MemberView
	lastLoad   map[Unit]float64 // the leader's memory of loads of units that moved
	stable     bool
	moves      int64
	rebalances int64
}

// MemberView is one member as the last assignment showed it.
type MemberView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Units []Unit `json:"units"`
}

// View is the group as this member last saw it.
type View struct {
	Group      string
	MemberID   string
	Generation int32
	Leader     string
	// Stable: the member holds an assignment of the current generation and its lease holds.
	Stable     bool
	Members    []MemberView
	Rebalances int64
	// Moves counts the units this member started or stopped running because of an assignment.
	Moves int64
}

// New checks the options and returns a Member.
func New(o Options) (*Member, error) {
	var errs []error
	if o.Client == nil {
		errs = append(errs, errors.New("group member: a destination client is required"))
	}
	if o.Group == "" {
		errs = append(errs, errors.New("group member: a group id is required"))
	}
	if o.Work == nil || o.Apply == nil {
		errs = append(errs, errors.New("group member: Work and Apply are required"))
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.RebalanceTimeout == 0 {
		o.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if o.HeartbeatInterval*2 >= o.SessionTimeout {
		errs = append(errs, fmt.Errorf("group member: heartbeat interval %s must be below half the session timeout %s",
			o.HeartbeatInterval, o.SessionTimeout))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.Load == nil {
		o.Load = func() map[Unit]float64 { return nil }
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Member{o: o, log: o.Logger.With(zap.String("group", o.Group)), rejoin: make(chan struct{}, 1)}, nil
}

// Rejoin asks for a rebalance: the member's work changed (a mirror was added or grew).
func (m *Member) Rejoin() {
	select {
	case m.rejoin <- struct{}{}:
	default:
	}
}

// leaseMargin is how much earlier than the coordinator could expel it a member stops trusting its assignment.
func (m *Member) leaseMargin() time.Duration { return m.o.SessionTimeout / 5 }

// Lease returns nil while this member's assignment is certainly still its own: the coordinator answered a request
// of it sent less than the session timeout (minus a margin) ago, so it cannot have expelled it and handed its units
// to another member yet. A write of a unit that no broker check fences must check it right before it is sent.
func (m *Member) Lease() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.generation <= 0 || m.lastAlive.IsZero() {
		return &NotOwnerError{Reason: "not a member of group " + m.o.Group + " yet"}
	}
	if age := time.Since(m.lastAlive); age >= m.o.SessionTimeout-m.leaseMargin() {
		return &NotOwnerError{Reason: fmt.Sprintf("no answer from the group coordinator for %s (session timeout %s)",
			age.Round(time.Millisecond), m.o.SessionTimeout)}
	}
	return nil
}

// NotOwnerError says a member may not write: it is not (or no longer certainly) in its group.
type NotOwnerError struct{ Reason string }

func (e *NotOwnerError) Error() string {
	return "this daemon's ownership lease does not hold: " + e.Reason
}

// View returns the group as last seen.
func (m *Member) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := View{Group: m.o.Group, MemberID: m.memberID, Generation: m.generation, Leader: m.leader,
		Members: append([]MemberView(nil), m.view...), Rebalances: m.rebalances, Moves: m.moves}
	v.Stable = m.stable && m.lastAlive.Add(m.o.SessionTimeout-m.leaseMargin()).After(time.Now())
	return v
}

// Owned returns the units this member runs.
func (m *Member) Owned() []Unit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Unit(nil), m.owned...)
}

// memberMetadata is what a member sends in JoinGroup.
type memberMetadata struct {
	Name  string           `json:"name"`
	Owned []Unit           `json:"owned"`
	Load  map[Unit]float64 `json:"load,omitempty"`
	Work  []Unit           `json:"work"`
}

// memberAssignment is what the leader sends each member in SyncGroup: its units, what it must release and rejoin
// for, and the whole plan (so that any member can show the group).
type memberAssignment struct {
	Units   []Unit       `json:"units"`
	Revoked []Unit       `json:"revoked,omitempty"`
	Members []MemberView `json:"members"`
}

// Run joins the group and keeps the member in it until ctx ends, then stops every unit and leaves the group. It
// returns a CannotJoinError when the daemon can never be a member; other failures are retried.
func (m *Member) Run(ctx context.Context) error {
	defer m.leave()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rejoinNow, err := m.joinAndSync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var cannot *CannotJoinError
			if errors.As(err, &cannot) {
				m.releaseAll(ctx, err.Error())
				return err
			}
			m.log.Warn("join the group", zap.Error(err), zap.Duration("retry_in", backoff))
			if m.Lease() != nil {
				m.releaseAll(ctx, "cannot join the group")
			}
			if sleep(ctx, backoff) != nil {
				break
			}
			backoff = min(backoff*2, m.o.HeartbeatInterval)
			continue
		}
		backoff = 100 * time.Millisecond
		if !rejoinNow {
			m.heartbeatUntilRebalance(ctx)
		}
	}
	return nil
}

// joinAndSync is one rebalance from this member's side. rejoinNow: the member released units and must tell the
// group at once.
func (m *Member) joinAndSync(ctx context.Context) (rejoinNow bool, err error) {
	select {
	case <-m.rejoin:
	default:
	}
	m.mu.Lock()
	meta := memberMetadata{Name: m.o.Name, Owned: m.owned, Work: m.o.Work()}
	memberID := m.memberID
	m.stable = false
	m.rebalances++
	m.mu.Unlock()
	meta.Load = m.o.Load()
	metaBytes, err := json.Marshal(meta)
	if err != nil {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group = m.o.Group
		join.SessionTimeoutMillis = int32(m.o.SessionTimeout.Milliseconds())
		join.RebalanceTimeoutMillis = int32(m.o.RebalanceTimeout.Milliseconds())
		join.ProtocolType = ProtocolType
		join.MemberID = memberID
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = protocolName, metaBytes
		join.Protocols = []kmsg.JoinGroupRequestProtocol{proto}
		sent := time.Now()
		resp, err := join.RequestWith(ctx, m.o.Client)
		if err != nil {
			return false, fmt.Errorf("JoinGroup %s: %w", m.o.Group, err)
		}
		switch jerr := kerr.ErrorForCode(resp.ErrorCode); {
		case errors.Is(jerr, kerr.MemberIDRequired) && attempt < 3:
			memberID = resp.MemberID // KIP-394: join again with the id the coordinator gave
			continue
		case errors.Is(jerr, kerr.UnknownMemberID):
			m.releaseAll(ctx, "the coordinator does not know this member any more")
			m.mu.Lock()
			m.memberID = ""
			m.mu.Unlock()
			return false, fmt.Errorf("JoinGroup %s: %w", m.o.Group, jerr)
		case errors.Is(jerr, kerr.InconsistentGroupProtocol):
			return false, &CannotJoinError{Group: m.o.Group, Reason: "it is used by something other than clusterlink (another protocol type)",
				Fix: "give this daemon a state topic of its own, or delete that group"}
		case errors.Is(jerr, kerr.GroupAuthorizationFailed):
			return false, &CannotJoinError{Group: m.o.Group, Reason: "the destination refuses this daemon's principal the group (GROUP_AUTHORIZATION_FAILED)",
				Fix: "allow READ on GROUP " + m.o.Group + " (or on the PREFIXED group clusterlink.) for the daemon's destination principal"}
		case jerr != nil:
			return false, fmt.Errorf("JoinGroup %s: %w", m.o.Group, jerr)
		}
		m.mu.Lock()
		m.memberID, m.generation, m.leader = resp.MemberID, resp.Generation, resp.LeaderID
		m.lastAlive = sent
		m.mu.Unlock()
		var assignments []kmsg.SyncGroupRequestGroupAssignment
		if resp.LeaderID == resp.MemberID {
			assignments, err = m.lead(resp.Members)
			if err != nil {
				return false, err
			}
		}
		return m.sync(ctx, resp.Generation, resp.MemberID, assignments)
	}
}

// lead computes the plan of a generation as the group's leader.
func (m *Member) lead(members []kmsg.JoinGroupResponseMember) ([]kmsg.SyncGroupRequestGroupAssignment, error) {
	var claims []claim
	names := map[string]string{}
	workSet := map[Unit]bool{}
	for _, mb := range members {
		var meta memberMetadata
		if err := json.Unmarshal(mb.ProtocolMetadata, &meta); err != nil {
			return nil, fmt.Errorf("member %s of group %s sent metadata this version cannot read: %w", mb.MemberID, m.o.Group, err)
		}
		claims = append(claims, claim{member: mb.MemberID, owned: meta.Owned, load: meta.Load, knows: append([]Unit{}, meta.Work...)})
		names[mb.MemberID] = meta.Name
		for _, u := range meta.Work {
			workSet[u] = true
		}
	}
	work := make([]Unit, 0, len(workSet))
	for u := range workSet {
		work = append(work, u)
	}
	m.mu.Lock()
	last := m.lastLoad
	m.mu.Unlock()
	p := assign(claims, work, last)
	loads := map[Unit]float64{}
	for u, l := range last {
		loads[u] = l
	}
	for _, c := range claims {
		for u, l := range c.load {
			loads[u] = l
		}
	}
	m.mu.Lock()
	m.lastLoad = loads
	m.mu.Unlock()
	var view []MemberView
	for _, c := range claims {
		view = append(view, MemberView{ID: c.member, Name: names[c.member], Units: p.assigned[c.member]})
	}
	var out []kmsg.SyncGroupRequestGroupAssignment
	for _, c := range claims {
		b, err := json.Marshal(memberAssignment{Units: p.assigned[c.member], Revoked: p.revoked[c.member], Members: view})
		if err != nil {
			return nil, err
		}
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = c.member, b
		out = append(out, a)
	}
	m.log.Info("group plan", zap.String("plan", p.describe()), zap.Int("units", len(work)))
	return out, nil
}

// sync sends SyncGroup and applies the assignment it answers.
func (m *Member) sync(ctx context.Context, gen int32, memberID string, assignments []kmsg.SyncGroupRequestGroupAssignment) (bool, error) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.Generation, req.MemberID = m.o.Group, gen, memberID
	req.ProtocolType, req.Protocol = kmsg.StringPtr(ProtocolType), kmsg.StringPtr(protocolName)
	req.GroupAssignment = assignments
	sent := time.Now()
	resp, err := req.RequestWith(ctx, m.o.Client)
	if err != nil {
		return false, fmt.Errorf("SyncGroup %s: %w", m.o.Group, err)
	}
	switch serr := kerr.ErrorForCode(resp.ErrorCode); {
	case errors.Is(serr, kerr.RebalanceInProgress):
		return true, nil // another member joined meanwhile: join again, keeping what runs
	case errors.Is(serr, kerr.UnknownMemberID), errors.Is(serr, kerr.IllegalGeneration):
		m.releaseAll(ctx, "the coordinator moved on without this member")
		if errors.Is(serr, kerr.UnknownMemberID) {
			m.mu.Lock()
			m.memberID = ""
			m.mu.Unlock()
		}
		return false, fmt.Errorf("SyncGroup %s: %w", m.o.Group, serr)
	case serr != nil:
		return false, fmt.Errorf("SyncGroup %s: %w", m.o.Group, serr)
	}
	var a memberAssignment
	if len(resp.MemberAssignment) > 0 {
		if err := json.Unmarshal(resp.MemberAssignment, &a); err != nil {
			return false, fmt.Errorf("SyncGroup %s: an assignment this version cannot read: %w", m.o.Group, err)
		}
	}
	m.mu.Lock()
	m.lastAlive = sent
	before := m.owned
	m.mu.Unlock()
	if err := m.o.Apply(ctx, a.Units); err != nil {
		// Whatever did not stop cleanly is still claimed, so that nobody else gets it.
		return false, fmt.Errorf("apply the assignment of generation %d: %w", gen, err)
	}
	moved := diff(before, a.Units)
	m.mu.Lock()
	m.owned, m.view, m.stable = a.Units, a.Members, true
	m.moves += int64(moved)
	m.mu.Unlock()
	m.log.Info("group assignment", zap.Int32("generation", gen), zap.String("member_id", memberID),
		zap.Int("units", len(a.Units)), zap.Int("revoked", len(a.Revoked)), zap.Int("moved", moved))
	return len(a.Revoked) > 0, nil
}

// heartbeatUntilRebalance heartbeats until the group rebalances, the member is expelled, its work changes or ctx
// ends.
func (m *Member) heartbeatUntilRebalance(ctx context.Context) {
	t := time.NewTicker(m.o.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.rejoin:
			return
		case <-t.C:
		}
		m.mu.Lock()
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = m.o.Group, m.generation, m.memberID
		m.mu.Unlock()
		sent := time.Now()
		hctx, cancel := context.WithTimeout(ctx, m.o.HeartbeatInterval)
		resp, err := req.RequestWith(hctx, m.o.Client)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if lerr := m.Lease(); lerr != nil {
				m.releaseAll(ctx, lerr.Error())
				return
			}
			continue
		}
		switch herr := kerr.ErrorForCode(resp.ErrorCode); {
		case herr == nil:
			m.alive(sent)
		case errors.Is(herr, kerr.RebalanceInProgress):
			m.alive(sent) // the coordinator still counts the member; it keeps its units through the rebalance
			return
		case errors.Is(herr, kerr.UnknownMemberID), errors.Is(herr, kerr.IllegalGeneration), errors.Is(herr, kerr.FencedInstanceID):
			m.releaseAll(ctx, "the coordinator expelled this member: "+herr.Error())
			if !errors.Is(herr, kerr.IllegalGeneration) {
				m.mu.Lock()
				m.memberID = ""
				m.mu.Unlock()
			}
			return
		default:
			if lerr := m.Lease(); lerr != nil {
				m.releaseAll(ctx, lerr.Error())
				return
			}
		}
	}
}

func (m *Member) alive(sent time.Time) {
	m.mu.Lock()
	if sent.After(m.lastAlive) {
		m.lastAlive = sent
	}
	m.mu.Unlock()
}

// releaseAll stops every unit: the member is out of the group (or may be) and another may get them.
func (m *Member) releaseAll(ctx context.Context, why string) {
	m.mu.Lock()
	owned := len(m.owned)
	m.stable = false
	m.mu.Unlock()
	if owned == 0 {
		return
	}
	m.log.Warn("stopping every unit of this member", zap.String("why", why), zap.Int("units", owned))
	if err := m.o.Apply(context.WithoutCancel(ctx), nil); err != nil {
		m.log.Error("stop the units of this member", zap.Error(err))
		return
	}
	m.mu.Lock()
	m.moves += int64(len(m.owned))
	m.owned = nil
	m.mu.Unlock()
}

// leave stops every unit and then leaves the group, so that the others take the units over at once instead of
// after the session timeout.
func (m *Member) leave() {
	m.releaseAll(context.Background(), "the daemon stops")
	m.mu.Lock()
	memberID := m.memberID
	m.mu.Unlock()
	if memberID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group, req.MemberID = m.o.Group, memberID
	mb := kmsg.NewLeaveGroupRequestMember()
	mb.MemberID = memberID
	mb.Reason = kmsg.StringPtr("the daemon stops")
	req.Members = []kmsg.LeaveGroupRequestMember{mb}
	if resp, err := req.RequestWith(ctx, m.o.Client); err != nil {
		m.log.Warn("leave the group", zap.Error(err))
	} else if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		m.log.Warn("leave the group", zap.Error(err))
	}
	m.mu.Lock()
	m.memberID, m.generation = "", 0
	m.mu.Unlock()
}

// CannotJoinError: the daemon cannot be a member of its group, and so must not run the link: the group id is used
// by a group of another protocol type, or the destination does not authorize the daemon for it. Run returns it.
type CannotJoinError struct{ Group, Reason, Fix string }

func (e *CannotJoinError) Error() string {
	return fmt.Sprintf("this daemon cannot join group %s on the destination: %s; %s", e.Group, e.Reason, e.Fix)
}

// diff counts the units in exactly one of a and b.
func diff(a, b []Unit) int {
	in := map[Unit]int{}
	for _, u := range a {
		in[u]++
	}
	for _, u := range b {
		in[u]--
	}
	n := 0
	for _, v := range in {
		if v != 0 {
			n++
		}
	}
	return n
}

// SortedUnits returns units sorted.
func SortedUnits(us []Unit) []Unit {
	out := append([]Unit(nil), us...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
