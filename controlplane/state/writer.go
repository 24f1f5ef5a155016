package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file gives each link's state one writer at a time, fenced by the destination's transaction coordinator:
// the daemon that holds a link's writer writes the link's records in transactions of a producer whose transactional
// id is the same on every daemon (TransactionalID). Taking the writer over is an InitProducerId: it bumps the epoch,
// which aborts the previous holder's open transaction and makes every later write of it fail (PRODUCER_FENCED), and
// the new holder then reads the topic past its own first record, so it starts from everything the previous one
// committed. A link the store was told is shared (RequireWriter) is written only so; other daemons of the link send
// their partitions' failures as reports (Report) that the writer applies.

// Writer is who holds a link's state writer, as its "writer/<link>" record says.
type Writer struct {
	Member     string `json:"member"`    // the daemon's name (host and process id)
	MemberID   string `json:"member_id"` // its member id in the link's group
	Generation int32  `json:"generation"`
	SinceMs    int64  `json:"since_ms"`
}

// Report is a partition owner's news for the link's writer: its partition failed, or copies again after a
// restart (Failure nil). The writer applies it to the mirror's record while the reporter is a member of the group.
type Report struct {
	Link       string   `json:"link"`
	Topic      string   `json:"topic"`
	Partition  int32    `json:"partition"`
	MemberID   string   `json:"member_id"`
	Member     string   `json:"member"`
	Generation int32    `json:"generation"`
	Failure    *Failure `json:"failure,omitempty"`
	TimeMs     int64    `json:"time_ms"`
}

func (r Report) key() string { return fmt.Sprintf("report/%s/%s/%d", r.Link, r.Topic, r.Partition) }

// NotWriterError refuses a write of a shared link's state by a daemon that does not hold the link's writer.
type NotWriterError struct {
	Link   string
	Writer Writer // the holder as last recorded (zero if none yet)
}

func (e *NotWriterError) Error() string {
	if e.Writer.Member == "" {
		return fmt.Sprintf("the state of link %s is written by the daemon that runs the link's loops, and none does yet: try again in a few seconds", e.Link)
	}
	return fmt.Sprintf("the state of link %s is written by daemon %s (generation %d), not this one: send the request to it (clusterlink daemon list --link %s)",
		e.Link, e.Writer.Member, e.Writer.Generation, e.Link)
}

// FencedError is a write refused by the destination because another daemon took the link's writer over: nothing of
// it is in the state topic.
type FencedError struct {
	Link string
	Err  error
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("the state of link %s: another daemon took the link's state writer over, this write was refused by the destination (%v)", e.Link, e.Err)
}

func (e *FencedError) Unwrap() error { return e.Err }

// TransactionalID is the transactional id of a link's state writer: the same on every daemon of the state topic.
func TransactionalID(topic, link string) string { return "clusterlink-" + link + "-state." + topic }

// writerTxnTimeout bounds how long an open transaction of a writer that died blocks the topic's readers when no
// daemon takes the writer over.
const writerTxnTimeout = 10 * time.Second

type linkWriter struct {
	mu sync.Mutex // one transaction at a time
	cl *kgo.Client
}

// RequireWriter (on) makes every later write of the link's records go through the link's writer (AcquireWriter):
// while this daemon does not hold it they wait up to writerWait for it, then are refused with a NotWriterError.
// Reports are the exception. Off: the link does not run in a group here, its records are written plainly.
func (s *Store) RequireWriter(link string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.requireWriter[link] = true
	} else {
		delete(s.requireWriter, link)
	}
}

// writerWait is how long a write of a shared link waits for this daemon to take the writer over (a daemon that
// just started, or just got the loops unit) before it is refused.
const writerWait = 5 * time.Second

// awaitWriter waits until this daemon holds the link's writer, the link no longer requires one, writerWait passed
// or ctx ended; it returns the writer, nil if none.
func (s *Store) awaitWriter(ctx context.Context, link string) (lw *linkWriter, required bool) {
	deadline := time.NewTimer(writerWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		lw, required = s.writers[link], s.requireWriter[link]
		changed := s.writersChanged
		s.mu.Unlock()
		if lw != nil || !required {
			return lw, required
		}
		select {
		case <-ctx.Done():
			return nil, true
		case <-deadline.C:
			return nil, true
		case <-changed:
		}
	}
}

// writersMovedLocked wakes the writes waiting for a writer. s.mu is held.
func (s *Store) writersMovedLocked() {
	close(s.writersChanged)
	s.writersChanged = make(chan struct{})
}

// AcquireWriter takes the link's writer over: every other daemon's write of the link's records is refused from now
// on, and the store holds every record the previous writer committed when it returns.
func (s *Store) AcquireWriter(ctx context.Context, link string, w Writer) error {
	s.ReleaseWriter(link)
	cl, err := kgo.NewClient(append(s.cl.Opts(), kgo.TransactionalID(TransactionalID(s.topic, link)),
		kgo.TransactionTimeout(writerTxnTimeout), kgo.ClientID("clusterlink-state-"+link))...)
	if err != nil {
		return fmt.Errorf("the state writer of link %s: %w", link, err)
	}
	lw := &linkWriter{cl: cl}
	w.SinceMs = time.Now().UnixMilli()
	data, _ := json.Marshal(w)
	// The first transaction's InitProducerId is the fence; its record says who writes now.
	offs, err := s.commit(ctx, lw, link, []change{{key: "writer/" + link, data: data}})
	if err != nil {
		cl.Close()
		return fmt.Errorf("take over the state writer of link %s: %w", link, err)
	}
	if err := s.awaitPosition(ctx, offs[0]+1); err != nil {
		cl.Close()
		return err
	}
	s.mu.Lock()
	s.writers[link] = lw
	s.writersMovedLocked()
	s.mu.Unlock()
	return nil
}

// ReleaseWriter stops writing the link's state here (another daemon may take it over).
func (s *Store) ReleaseWriter(link string) {
	s.mu.Lock()
	lw := s.writers[link]
	s.mu.Unlock()
	if lw != nil {
		s.dropWriter(link, lw)
	}
}

// dropWriter forgets the link's writer lw and closes its client, unless another call dropped it already: the
// client is closed exactly once, after the transaction it may be in.
func (s *Store) dropWriter(link string, lw *linkWriter) {
	s.mu.Lock()
	current := s.writers[link] == lw
	if current {
		delete(s.writers, link)
	}
	s.mu.Unlock()
	if current {
		lw.mu.Lock()
		lw.cl.Close()
		lw.mu.Unlock()
	}
}

// HoldsWriter says whether this daemon writes the link's state.
func (s *Store) HoldsWriter(link string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writers[link] != nil
}

// LinkWriter is the link's writer as last recorded in the topic.
func (s *Store) LinkWriter(link string) (Writer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.writerRecs[link]
	return w, ok
}

// change is one record of a batch: a key and its JSON (nil: a deletion).
type change struct {
	key  string
	data []byte
}

// linkOf is the link a record key belongs to.
func linkOf(key string) string {
	kind, rest, _ := strings.Cut(key, "/")
	switch kind {
	case "link", "acls", "writer":
		return rest
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// writeChanges stores changes of one link and applies them here: in one transaction of the link's writer when this
// daemon holds it, refused when the link requires its writer, else produced plainly. Reports are always produced
// plainly: the writer decides what they are worth.
func (s *Store) writeChanges(ctx context.Context, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	link := linkOf(changes[0].key)
	for _, c := range changes[1:] {
		if linkOf(c.key) != link {
			return fmt.Errorf("one state write of records of links %s and %s", link, linkOf(c.key))
		}
	}
	report := strings.HasPrefix(changes[0].key, "report/")
	var lw *linkWriter
	required := false
	if !report {
		lw, required = s.awaitWriter(ctx, link)
	}
	var offs []int64
	var err error
	switch {
	case lw != nil && !report:
		offs, err = s.commit(ctx, lw, link, changes)
		var fenced *FencedError
		if errors.As(err, &fenced) {
			s.dropWriter(link, lw)
		}
	case required && !report:
		holder, _ := s.LinkWriter(link)
		return &NotWriterError{Link: link, Writer: holder}
	default:
		offs, err = s.producePlain(ctx, changes)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range changes {
		if last, ok := s.keyOffset[c.key]; ok && offs[i] < last {
			continue // a newer record of the key is applied already
		}
		s.keyOffset[c.key] = offs[i]
		if err := s.apply(c.key, c.data); err != nil {
			return err
		}
	}
	return nil
}

// records seals changes into records of the state topic.
func (s *Store) records(changes []change) ([]*kgo.Record, error) {
	recs := make([]*kgo.Record, len(changes))
	now := time.Now()
	for i, c := range changes {
		data := c.data
		if s.sealer != nil {
			var err error
			if data, err = s.sealer.seal(s.topic, c.key, data); err != nil {
				return nil, fmt.Errorf("seal state %s: %w", c.key, err)
			}
		}
		recs[i] = &kgo.Record{Topic: s.topic, Key: []byte(c.key), Value: data, Timestamp: now}
	}
	return recs, nil
}

func (s *Store) producePlain(ctx context.Context, changes []change) ([]int64, error) {
	recs, err := s.records(changes)
	if err != nil {
		return nil, err
	}
	res := s.cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return nil, fmt.Errorf("write state %s to %s: %w", changes[0].key, s.topic, err)
	}
	return offsetsOf(res), nil
}

// commit writes changes in one transaction of the link's writer.
func (s *Store) commit(ctx context.Context, lw *linkWriter, link string, changes []change) ([]int64, error) {
	recs, err := s.records(changes)
	if err != nil {
		return nil, err
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if err := lw.cl.BeginTransaction(); err != nil {
		return nil, fmt.Errorf("write state of link %s: %w", link, err)
	}
	res := lw.cl.ProduceSync(ctx, recs...)
	perr := res.FirstErr()
	end := kgo.TryCommit
	if perr != nil {
		end = kgo.TryAbort
	}
	eerr := lw.cl.EndTransaction(ctx, end)
	for _, err := range []error{perr, eerr} {
		if isFenced(err) {
			return nil, &FencedError{Link: link, Err: err}
		}
	}
	if err := errors.Join(perr, eerr); err != nil {
		return nil, fmt.Errorf("write state %s to %s: %w", changes[0].key, s.topic, err)
	}
	return offsetsOf(res), nil
}

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping)
}

func offsetsOf(res kgo.ProduceResults) []int64 {
	out := make([]int64, len(res))
	for i, r := range res {
		out[i] = r.Record.Offset
	}
	return out
}

// Batch is several changes of one link's records, written at once (in one transaction by a link's writer).
type Batch struct {
	changes []change
	err     error
}

func (b *Batch) put(key string, v any) {
	data, err := json.Marshal(v)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("encode state %s: %w", key, err)
	}
	b.changes = append(b.changes, change{key: key, data: data})
}

// PutMirror adds a mirror's record to the batch.
func (b *Batch) PutMirror(m Mirror) { b.put("mirror/"+m.Link+"/"+m.Topic, m) }

// DeleteReport adds the deletion of a report to the batch.
func (b *Batch) DeleteReport(r Report) { b.changes = append(b.changes, change{key: r.key()}) }

// Len is how many changes the batch holds.
func (b *Batch) Len() int { return len(b.changes) }

// Write stores a batch.
func (s *Store) Write(ctx context.Context, b *Batch) error {
	if b.err != nil {
		return b.err
	}
	return s.writeChanges(ctx, b.changes)
}

// PutReport stores a partition owner's report for the link's writer.
func (s *Store) PutReport(ctx context.Context, r Report) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.writeChanges(ctx, []change{{key: r.key(), data: data}})
}

// Reports are a link's reports not applied yet, in key order.
func (s *Store) Reports(link string) []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Report
	for _, r := range s.reports {
		if r.Link == link {
			out = append(out, r)
		}
	}
	sortReports(out)
	return out
}
