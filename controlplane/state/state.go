// Package state keeps the daemon's durable state in a compacted topic on the destination cluster: the links created
// at runtime and their configs, each mirror's status and status time, and the ACLs each link created. One record per
// key, the latest wins. A restarted daemon reads the topic from its start and finds everything as it was. It does
// not decide anything: the link runtime says what to store.
//
// Everything read back is untrusted input: with state keys every record is sealed (seal.go) and a record that
// does not authenticate is rejected, never applied; every record is checked for its shape and for the key it
// claims. Rejected records are kept for the daemon to report.
//
// Every daemon of a state topic follows it while it runs (follow.go), so all of them hold the same records in the
// same order. A link shared by several daemons has one writer at a time, fenced by the destination's transaction
// coordinator (writer.go).
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator"
)

// Origin says where a link or mirror came from.
type Origin string

// Origins of links and mirrors.
const (
	OriginFile Origin = "file" // the daemon's config file declares it
	OriginAPI  Origin = "api"  // created through the admin API
	OriginAuto Origin = "auto" // a mirror auto-created by auto.create.mirror.topics.filters
)

// Link is a link's stored record. For a link of the config file, Configs holds only what the API changed on top of
// the file (Reset lists keys the API set back to their default); for a link created through the API it holds every
// config the user gave.
type Link struct {
	Name      string            `json:"name"`
	ID        string            `json:"id"`
	Origin    Origin            `json:"origin"`
	Configs   map[string]string `json:"configs"`
	Reset     []string          `json:"reset,omitempty"`
	CreatedMs int64             `json:"created_ms"`
}

// Mirror is a mirror topic's stored record.
type Mirror struct {
	Link         string            `json:"link"`
	Topic        string            `json:"topic"`
	SourceTopic  string            `json:"source_topic"`
	Origin       Origin            `json:"origin"`
	Status       replicator.Status `json:"status"` // ACTIVE, PAUSED, PENDING_STOPPED, STOPPED
	StatusTimeMs int64             `json:"status_time_ms"`
	// Partitions is the mirror's partition count as last known (shown once the mirror is STOPPED).
	Partitions int32 `json:"partitions,omitempty"`
	// PendingOp is promote or failover while Status is PENDING_STOPPED, so a restart finishes it.
	PendingOp string `json:"pending_op,omitempty"`
	// SourceConfigs are the source topic's configs as last synced: a failover restores them when the source is gone.
	SourceConfigs map[string]string `json:"source_configs,omitempty"`
	// Failures are the partitions that stopped with an error (FAILED): a restarted daemon keeps them FAILED until
	// `mirror restart` checks them against the source.
	Failures []Failure `json:"failures,omitempty"`
	// Failback is a reverse-and-start, reverse-and-pause or truncate-and-restore under way on this STOPPED mirror
	// (see controlplane/link/failback.go): a restarted daemon finishes it from the step stored here.
	Failback *Failback `json:"failback,omitempty"`
}

// Failback is the stored progress of a failback operation on a STOPPED mirror: the operation, the step reached,
// and what the first step found, so that a resumed operation reports the same result and never deletes a topic it
// recreated.
type Failback struct {
	Op string `json:"op"`
	// ID names this run of the operation: it is in the headers of every record saved to DivergedTopic, so a resumed
	// save continues after its own records only.
	ID   string `json:"id"`
	Step string `json:"step"`
	// Paused: the reversed mirror starts PAUSED (reverse-and-pause).
	Paused bool `json:"paused,omitempty"`
	// DivergedTopic is where truncate-and-restore saves the old source's divergent records.
	DivergedTopic string `json:"diverged_topic,omitempty"`
	// OldTopicID is the id of the old source's topic that truncate-and-restore deletes; a topic with another id is
	// never deleted.
	OldTopicID string `json:"old_topic_id,omitempty"`
	// Partitions are the per-partition truncation points and divergent record counts found at the start.
	Partitions []Truncation `json:"partitions,omitempty"`
}

// Truncation is one partition's divergence as truncate-and-restore found it: the old source's records from
// TruncatedTo to its log end (Messages of them) are not on the new primary.
type Truncation struct {
	Partition   int32 `json:"partition"`
	TruncatedTo int64 `json:"truncated_to"`
	Messages    int64 `json:"messages"`
}

// ReverseLink is the name under which a link's reversed mirrors (copying from the destination back to the link's
// source, link.mode=BIDIRECTIONAL) are stored: "~" is not allowed in link names, so it names no other link.
func ReverseLink(link string) string { return link + "~reverse" }

// Failure is why a mirror partition stopped.
type Failure struct {
	Partition int32  `json:"partition"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	TimeMs    int64  `json:"time_ms"`
	// Diverged: the mirror no longer equals its source at this partition (promote and failover refuse it).
	Diverged bool `json:"diverged,omitempty"`
}

// ACL is an ACL a link created on the destination, in the form the aclsync package remembers it.
type ACL = json.RawMessage

// Options open a Store.
type Options struct {
	// Keys seal every record (nil: records are written and read in clear, unauthenticated).
	Keys *Keys
	// AdoptUnsealed, with Keys, takes records found in clear (written before keys were set) as they are, once, and
	// seals them; without it they are rejected.
	AdoptUnsealed bool
}

// Rejection is a state record the store did not apply.
type Rejection struct {
	Key    string
	Offset int64
	Reason string
}

// Store reads and writes the state topic. Its methods are safe for concurrent use.
type Store struct {
	cl     *kgo.Client
	topic  string
	sealer *sealer // nil without keys
	adopt  bool

	mu       sync.Mutex
	rejected []Rejection
	// sealedWithoutKey is the key id of a sealed record found by a store without keys.
	sealedWithoutKey string
	reseal           map[string]bool  // keys to seal again with the current key (old key, adopted)
	written          map[string]int64 // when each key's sealed record was written, to refuse a replayed older one
	links            map[string]Link
	mirrors          map[string]Mirror          // by link + "/" + topic
	acls             map[string]json.RawMessage // by link: an aclManifest (or, written by an older version, the list)
	aclChunks        map[string]json.RawMessage // by link + "/" + generation + "/" + index: a list of ACLs
	writerRecs       map[string]Writer          // by link: the last "writer" record
	reports          map[string]Report          // by key

	// Following the topic (follow.go): keyOffset is the offset of the record each key holds now, so a record read
	// back never undoes a newer one; pos is the offset after the last record read.
	reader     *kgo.Client
	stopFollow context.CancelFunc
	followDone chan struct{}
	closeOnce  sync.Once
	keyOffset  map[string]int64
	pos        int64
	moved      chan struct{} // closed and replaced whenever pos moves
	followErr  error

	writers        map[string]*linkWriter // the links whose writer this store holds
	writersChanged chan struct{}          // closed and replaced when writers changes
	requireWriter  map[string]bool
}

// aclManifest is a link's "acls" record: its ACLs are in chunks [0, Chunks) of Generation ("aclchunk" records),
// each a list small enough for any destination's max.message.bytes. A new list is written as a new generation,
// chunks first and the manifest last, then the old generation's chunks are deleted: a crash at any point leaves
// the manifest naming a complete generation.
type aclManifest struct {
	Generation int `json:"generation"`
	Chunks     int `json:"chunks"`
}

// aclChunkBytes bounds one chunk's JSON (a sealed record grows by a few dozen bytes; Kafka's default
// max.message.bytes is 1 MiB).
const aclChunkBytes = 256 << 10

// Open creates the state topic if it does not exist (compacted, one partition, replication factor up to 3), starts
// following it and reads it to its last stable offset. cl is the destination client; it must not consume anything
// else. Close stops the following.
//
// With o.Keys every record read must authenticate; records sealed with an old key are sealed again with the current
// one before Open returns. Without keys, a topic that holds sealed records is an error: the daemon must be given
// its key.
func Open(ctx context.Context, cl *kgo.Client, topic string, o Options) (*Store, error) {
	s := &Store{cl: cl, topic: topic, links: map[string]Link{}, mirrors: map[string]Mirror{}, acls: map[string]json.RawMessage{},
		aclChunks: map[string]json.RawMessage{}, writerRecs: map[string]Writer{}, reports: map[string]Report{},
		reseal: map[string]bool{}, written: map[string]int64{}, adopt: o.AdoptUnsealed,
		keyOffset: map[string]int64{}, moved: make(chan struct{}), followDone: make(chan struct{}),
		writers: map[string]*linkWriter{}, writersChanged: make(chan struct{}), requireWriter: map[string]bool{}}
	if o.Keys != nil {
		var err error
		if s.sealer, err = newSealer(*o.Keys); err != nil {
			return nil, err
		}
	}
	if err := s.ensureTopic(ctx); err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if err := s.resealAll(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Sealed reports whether the store seals its records.
func (s *Store) Sealed() bool { return s.sealer != nil }

// Topic is the state topic's name.
func (s *Store) Topic() string { return s.topic }

// Rejected returns the records the store did not apply when it read the topic.
func (s *Store) Rejected() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// RejectedFor returns the rejected records that name a link (its record, its mirrors', its ACLs').
func (s *Store) RejectedFor(link string) []Rejection {
	var out []Rejection
	for _, r := range s.Rejected() {
		_, rest, _ := strings.Cut(r.Key, "/")
		if name, _, _ := strings.Cut(rest, "/"); name == link {
			out = append(out, r)
		}
	}
	return out
}

// resealAll writes again, sealed with the current key, every record that was read sealed with an old key or
// adopted from clear text.
func (s *Store) resealAll(ctx context.Context) error {
	s.mu.Lock()
	keys := slices.Sorted(maps.Keys(s.reseal))
	s.mu.Unlock()
	for _, key := range keys {
		if _, err := s.producePlain(ctx, []change{{key: key, data: s.currentValue(key)}}); err != nil {
			return fmt.Errorf("seal state record %s with the current key: %w", key, err)
		}
	}
	s.mu.Lock()
	s.reseal = map[string]bool{}
	s.mu.Unlock()
	return nil
}

// currentValue is the JSON of what the store holds for a record key now (nil: nothing).
func (s *Store) currentValue(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind, rest, _ := strings.Cut(key, "/")
	var v any
	switch kind {
	case "link":
		if l, ok := s.links[rest]; ok {
			v = l
		}
	case "mirror":
		if m, ok := s.mirrors[rest]; ok {
			v = m
		}
	case "acls":
		if a, ok := s.acls[rest]; ok {
			return a
		}
	case "aclchunk":
		if a, ok := s.aclChunks[rest]; ok {
			return a
		}
	}
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

func (s *Store) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(s.cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("list destination brokers for the state topic %s: %w", s.topic, err)
	}
	rf := int16(min(3, len(brokers)))
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": &compact}, s.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create the state topic %s on the destination: %w", s.topic, err)
	}
	return nil
}

// load starts following the topic and waits until everything committed to it is read.
func (s *Store) load(ctx context.Context) error {
	rd, err := kgo.NewClient(append(s.cl.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("read the state topic %s: %w", s.topic, err)
	}
	fctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.reader, s.stopFollow = rd, stop
	go s.follow(fctx, rd)
	if err := s.CatchUp(ctx); err != nil {
		s.Close()
		return err
	}
	s.mu.Lock()
	sealedWithoutKey := s.sealedWithoutKey
	s.mu.Unlock()
	if sealedWithoutKey != "" {
		s.Close()
		return fmt.Errorf("the state topic %s holds sealed records (state key %s): give the daemon its key (state.encryption.key in its file); "+
			"without it, it cannot read its links", s.topic, sealedWithoutKey)
	}
	return nil
}

// read takes one record of the topic: it opens it when sealed, checks it, and applies it or rejects it. s.mu is
// held.
func (s *Store) read(key string, value []byte, offset int64) {
	reject := func(reason string) {
		s.rejected = append(s.rejected, Rejection{Key: key, Offset: offset, Reason: reason})
	}
	env, err := parseEnvelope(value)
	switch {
	case err != nil && !errors.Is(err, errNotSealed):
		reject(err.Error())
		return
	case s.sealer == nil && err == nil:
		s.sealedWithoutKey = env.Key
		return
	case s.sealer == nil:
		// No keys: records are in clear, as the daemon writes them without keys.
	case err != nil && !s.adopt:
		reject("not sealed, but the daemon seals its state records: written by someone else (or before state.encryption.key was set: see adopt)")
		return
	case err != nil:
		s.reseal[key] = true
	default:
		content, old, err := s.sealer.open(s.topic, key, env)
		if err != nil {
			reject(err.Error())
			return
		}
		if content.WrittenMs < s.written[key] {
			reject(fmt.Sprintf("an older record of this key written again (written at %d, after one written at %d)", content.WrittenMs, s.written[key]))
			return
		}
		s.written[key] = content.WrittenMs
		if old {
			s.reseal[key] = true
		}
		value = content.Value
		if string(value) == "null" {
			value = nil
		}
	}
	if err := s.apply(key, value); err != nil {
		reject(err.Error())
		return
	}
	// A rejected record that a good one of the same key follows does not matter any more.
	s.rejected = slices.DeleteFunc(s.rejected, func(r Rejection) bool { return r.Key == key })
}

// apply changes what the store holds for a record (value nil: a deletion), after checking the record's shape and
// that it describes the key it is stored under.
func (s *Store) apply(key string, value []byte) error {
	kind, rest, _ := strings.Cut(key, "/")
	switch kind {
	case "link":
		if value == nil {
			delete(s.links, rest)
			return nil
		}
		var l Link
		if err := json.Unmarshal(value, &l); err != nil {
			return fmt.Errorf("link record: %w", err)
		}
		if err := l.check(rest); err != nil {
			return err
		}
		s.links[rest] = l
	case "mirror":
		if value == nil {
			delete(s.mirrors, rest)
			return nil
		}
		var m Mirror
		if err := json.Unmarshal(value, &m); err != nil {
			return fmt.Errorf("mirror record: %w", err)
		}
		if err := m.check(rest); err != nil {
			return err
		}
		s.mirrors[rest] = m
	case "acls":
		if value == nil {
			delete(s.acls, rest)
			return nil
		}
		var list []json.RawMessage
		var m aclManifest
		if json.Unmarshal(value, &list) != nil && (json.Unmarshal(value, &m) != nil || m.Generation < 1 || m.Chunks < 0) {
			return errors.New("ACL record: neither a list of ACLs nor a manifest of chunks")
		}
		s.acls[rest] = append(json.RawMessage(nil), value...)
	case "aclchunk":
		if value == nil {
			delete(s.aclChunks, rest)
			return nil
		}
		var list []json.RawMessage
		if json.Unmarshal(value, &list) != nil {
			return errors.New("ACL chunk record: not a list of ACLs")
		}
		s.aclChunks[rest] = append(json.RawMessage(nil), value...)
	case "writer":
		if value == nil {
			delete(s.writerRecs, rest)
			return nil
		}
		var w Writer
		if err := json.Unmarshal(value, &w); err != nil || w.Member == "" {
			return errors.New("writer record: not a daemon of the link's group")
		}
		s.writerRecs[rest] = w
	case "report":
		if value == nil {
			delete(s.reports, key)
			return nil
		}
		var r Report
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("report record: %w", err)
		}
		if r.key() != key {
			return fmt.Errorf("report record describes %s but is stored as %s", r.key(), key)
		}
		s.reports[key] = r
	default:
		return fmt.Errorf("unknown record kind %q", kind)
	}
	return nil
}

func sortReports(rs []Report) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Topic != rs[j].Topic {
			return rs[i].Topic < rs[j].Topic
		}
		return rs[i].Partition < rs[j].Partition
	})
}

// check validates a link record stored under name.
func (l Link) check(name string) error {
	switch {
	case l.Name != name:
		return fmt.Errorf("link record names link %q but is stored as %q", l.Name, name)
	case l.Origin != OriginFile && l.Origin != OriginAPI:
		return fmt.Errorf("link record has origin %q", l.Origin)
	}
	return nil
}

// check validates a mirror record stored under "link/topic".
func (m Mirror) check(key string) error {
	switch m.Status {
	case replicator.StatusActive, replicator.StatusPaused, replicator.StatusPendingStopped, replicator.StatusStopped:
	default:
		return fmt.Errorf("mirror record has status %q", m.Status)
	}
	if m.Link+"/"+m.Topic != key {
		return fmt.Errorf("mirror record describes %s/%s but is stored as %s", m.Link, m.Topic, key)
	}
	if m.Failback != nil && m.Status != replicator.StatusStopped {
		return fmt.Errorf("mirror record is %s with a %s under way (only a STOPPED mirror is failed back)", m.Status, m.Failback.Op)
	}
	if m.Status == replicator.StatusPendingStopped && m.PendingOp != "promote" && m.PendingOp != "failover" {
		return fmt.Errorf("mirror record is PENDING_STOPPED with operation %q", m.PendingOp)
	}
	return nil
}

// write stores one record and waits until the destination has it (acks=all).
func (s *Store) write(ctx context.Context, key string, value any) error {
	var data []byte
	if value != nil {
		var err error
		if data, err = json.Marshal(value); err != nil {
			return fmt.Errorf("encode state %s: %w", key, err)
		}
	}
	return s.writeChanges(ctx, []change{{key: key, data: data}})
}

// Links returns the stored links, sorted by name.
func (s *Store) Links() []Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Link, 0, len(s.links))
	for _, l := range s.links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Link returns a stored link.
func (s *Store) Link(name string) (Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[name]
	return l, ok
}

// PutLink stores a link.
func (s *Store) PutLink(ctx context.Context, l Link) error { return s.write(ctx, "link/"+l.Name, l) }

// DeleteLink removes a link with its mirrors and ACL records, and those of its reversed mirrors (ReverseLink).
func (s *Store) DeleteLink(ctx context.Context, name string) error {
	for _, n := range []string{ReverseLink(name), name} {
		var changes []change
		for _, m := range s.Mirrors(n) {
			changes = append(changes, change{key: "mirror/" + n + "/" + m.Topic})
		}
		for _, r := range s.Reports(n) {
			changes = append(changes, change{key: r.key()})
		}
		changes = append(changes, change{key: "acls/" + n})
		s.mu.Lock()
		for _, k := range s.chunkKeysLocked(n) {
			changes = append(changes, change{key: "aclchunk/" + k})
		}
		s.mu.Unlock()
		if n == name {
			changes = append(changes, change{key: "link/" + name})
		}
		if err := s.writeChanges(ctx, changes); err != nil {
			return err
		}
	}
	return nil
}

// Mirrors returns a link's stored mirrors, sorted by topic.
func (s *Store) Mirrors(link string) []Mirror {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Mirror
	for _, m := range s.mirrors {
		if m.Link == link {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// Mirror returns one stored mirror of a link.
func (s *Store) Mirror(link, topic string) (Mirror, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mirrors[link+"/"+topic]
	return m, ok
}

// PutMirror stores a mirror's record.
func (s *Store) PutMirror(ctx context.Context, m Mirror) error {
	return s.write(ctx, "mirror/"+m.Link+"/"+m.Topic, m)
}

// DeleteMirror forgets a mirror.
func (s *Store) DeleteMirror(ctx context.Context, link, topic string) error {
	return s.write(ctx, "mirror/"+link+"/"+topic, nil)
}

// ACLs returns the ACLs a link stored with PutACLs, nil if none.
func (s *Store) ACLs(link string) ([]ACL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.acls[link]
	if !ok {
		return nil, nil
	}
	var list []ACL
	if json.Unmarshal(raw, &list) == nil {
		return list, nil // one record, as an older version wrote it
	}
	var m aclManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("the ACL manifest of link %s: %w", link, err)
	}
	for i := range m.Chunks {
		chunk, ok := s.aclChunks[aclChunkKey(link, m.Generation, i)]
		if !ok {
			return nil, fmt.Errorf("the ACLs of link %s: chunk %d of generation %d is missing from the state topic", link, i, m.Generation)
		}
		var part []ACL
		if err := json.Unmarshal(chunk, &part); err != nil {
			return nil, fmt.Errorf("the ACLs of link %s: chunk %d: %w", link, i, err)
		}
		list = append(list, part...)
	}
	return list, nil
}

// PutACLs stores a link's created ACLs, in chunks of at most aclChunkBytes, as a new generation.
func (s *Store) PutACLs(ctx context.Context, link string, acls []ACL) error {
	s.mu.Lock()
	var old aclManifest
	_ = json.Unmarshal(s.acls[link], &old) // a list (older version) or nothing: generation 0
	oldChunks := s.chunkKeysLocked(link)
	s.mu.Unlock()
	gen := old.Generation + 1
	var chunks [][]ACL
	size := 0
	for _, a := range acls {
		if len(chunks) == 0 || size+len(a)+1 > aclChunkBytes {
			chunks, size = append(chunks, nil), 2
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], a)
		size += len(a) + 1
	}
	// One write, chunks first and the manifest after them (one transaction for a link's writer).
	var changes []change
	for i, c := range chunks {
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		changes = append(changes, change{key: "aclchunk/" + aclChunkKey(link, gen, i), data: data})
	}
	manifest, _ := json.Marshal(aclManifest{Generation: gen, Chunks: len(chunks)})
	changes = append(changes, change{key: "acls/" + link, data: manifest})
	for _, k := range oldChunks {
		changes = append(changes, change{key: "aclchunk/" + k})
	}
	return s.writeChanges(ctx, changes)
}

func aclChunkKey(link string, gen, i int) string { return fmt.Sprintf("%s/%d/%d", link, gen, i) }

// chunkKeysLocked lists the ACL chunk keys stored for a link (every generation). s.mu must be held.
func (s *Store) chunkKeysLocked(link string) []string {
	var out []string
	for k := range s.aclChunks {
		if name, _, _ := strings.Cut(k, "/"); name == link {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
