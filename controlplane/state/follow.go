package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file keeps the store following its topic: every daemon of a state topic reads every record written to it,
// by any daemon, for as long as it runs, in the topic's order. So the daemons sharing a link all hold the state its
// writer committed (writer.go), and a daemon that becomes a link's writer first reads everything the previous
// writer committed.

// follow reads the state topic from its start until ctx ends, applying every committed record in order. Control
// records are kept so that the position reaches the last stable offset even when the topic ends with a marker.
func (s *Store) follow(ctx context.Context, rd *kgo.Client) {
	defer close(s.followDone)
	for {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.followErr = err
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			s.followErr = nil
			if !r.Attrs.IsControl() {
				key := string(r.Key)
				if last, ok := s.keyOffset[key]; !ok || r.Offset > last {
					s.keyOffset[key] = r.Offset
					s.read(key, r.Value, r.Offset)
				}
			}
			s.pos = r.Offset + 1
		})
		close(s.moved)
		s.moved = make(chan struct{})
		s.mu.Unlock()
	}
}

// Moved is closed when the store has read more of the topic (any daemon's write); take it again after each wake.
func (s *Store) Moved() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.moved
}

// CatchUp waits until the store has applied every record committed to the state topic when it is called.
func (s *Store) CatchUp(ctx context.Context) error {
	end, err := s.stableEnd(ctx)
	if err != nil {
		return err
	}
	return s.awaitPosition(ctx, end)
}

// awaitPosition waits until the follower has read the topic up to offset end (exclusive).
func (s *Store) awaitPosition(ctx context.Context, end int64) error {
	for {
		s.mu.Lock()
		pos, moved, ferr := s.pos, s.moved, s.followErr
		s.mu.Unlock()
		if pos >= end {
			return nil
		}
		if ferr != nil {
			// An error the client does not retry (an authorization failure, for one): say it at once.
			return fmt.Errorf("read the state topic %s: %w", s.topic, ferr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("read the state topic %s up to offset %d (read up to %d): %w", s.topic, end, pos, ctx.Err())
		case <-s.followDone:
			return fmt.Errorf("read the state topic %s: the store is closed", s.topic)
		case <-moved:
		}
	}
}

// stableEnd is the state topic's last stable offset: every record below it is committed or aborted. A topic created
// a moment ago may not be known to every broker yet, so it retries for up to 30 seconds.
func (s *Store) stableEnd(ctx context.Context) (int64, error) {
	adm := kadm.NewClient(s.cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListCommittedOffsets(ctx, s.topic)
		if err == nil {
			end, ok := ends.Lookup(s.topic, 0)
			switch {
			case ok && end.Err == nil:
				return end.Offset, nil
			case ok:
				err = end.Err
			default:
				err = kerr.UnknownTopicOrPartition
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("read the end of the state topic %s: %w", s.topic, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close stops following the topic and releases the writers the store holds.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.stopFollow()
		<-s.followDone
		s.reader.Close()
		s.mu.Lock()
		ws := s.writers
		s.writers = map[string]*linkWriter{}
		s.mu.Unlock()
		for _, w := range ws {
			w.cl.Close()
		}
	})
}
