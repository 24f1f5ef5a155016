package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/group"
	"github.com/clusterlink/clusterlink/replicator"
)

// haCeiling is the ceiling run (kfake source serving a canned batch, kfake destination discarding writes, no
// brokers) with the mirror shared by 1, 2, ... members of one group, each a child process with its own replicator
// and group member (controlplane/group on kfake's coordinator): it shows the work splitting. The clock starts when
// every member holds a stable assignment (writes are held back until then) and stops when the last member has
// copied its partitions to the target.
func haCeiling(bytes int64, recordSize int, codecName string, partitions int32, members []int) ([]result, error) {
	c, err := codec(codecName)
	if err != nil {
		return nil, err
	}
	var out []result
	for _, n := range members {
		src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SyntheticFetch(kfake.SyntheticBatch{
			RecordBytes: recordSize, RandomFrac: 0.5, Compression: c,
		}))
		if err != nil {
			return out, err
		}
		dst, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce())
		if err != nil {
			src.Close()
			return out, err
		}
		const topic = "ceiling"
		if err := src.CreateTopic(topic, partitions, nil); err != nil {
			return out, err
		}
		records := bytes / int64(recordSize)
		perPartition := (records + int64(partitions) - 1) / int64(partitions)
		r, err := runMembers(n, src.ListenAddrs(), dst.ListenAddrs(), topic, perPartition)
		src.Close()
		dst.Close()
		if err != nil {
			return out, fmt.Errorf("%d members: %w", n, err)
		}
		r.Name = fmt.Sprintf("clusterlink ceiling, %d member(s)", n)
		r.Bytes, r.Records = perPartition*int64(partitions)*int64(recordSize), perPartition*int64(partitions)
		r.MBps = float64(r.Bytes) / 1e6 / r.Seconds
		r.RecordsPerS = float64(r.Records) / r.Seconds
		fmt.Printf("  %d member(s): %.1f s, %.0f MB/s\n", n, r.Seconds, r.MBps)
		out = append(out, r)
	}
	return out, nil
}

// memberLine is a line a member child printed ("ready T", "done T", "owns P T", "wrote P T": T in Unix
// nanoseconds), or its exit (err set).
type memberLine struct {
	member int
	words  []string // the line's words before the time
	at     time.Time
	err    error
}

// startMembers starts n member children of one group and sends every line they print.
func startMembers(n int, src, dst []string, topic string, target int64, env ...string) ([]*exec.Cmd, <-chan memberLine, error) {
	lines := make(chan memberLine, 1024)
	var cmds []*exec.Cmd
	for i := 0; i < n; i++ {
		cmd := childCommand("member", src, dst, topic, target)
		cmd.Env = append(cmd.Env, append([]string{"BENCH_MEMBERS=" + strconv.Itoa(n)}, env...)...)
		cmd.Stdout = nil
		pipe, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			return cmds, lines, err
		}
		cmds = append(cmds, cmd)
		go func() {
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 2 {
					continue
				}
				ns, err := strconv.ParseInt(f[len(f)-1], 10, 64)
				if err != nil {
					continue
				}
				lines <- memberLine{member: i, words: f[:len(f)-1], at: time.Unix(0, ns)}
			}
			lines <- memberLine{member: i, err: fmt.Errorf("member %d exited: %v", i, cmd.Wait())}
		}()
	}
	return cmds, lines, nil
}

// runMembers runs n member children until each has copied its partitions to perPartition offsets, and measures
// from the first "ready" to the last "done" they print.
func runMembers(n int, src, dst []string, topic string, perPartition int64) (result, error) {
	cmds, events, err := startMembers(n, src, dst, topic, perPartition)
	defer func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}()
	if err != nil {
		return result{}, err
	}
	var first, last time.Time
	done := 0
	timeout := time.After(10 * time.Minute)
	for done < n {
		select {
		case e := <-events:
			switch {
			case e.err != nil:
				return result{}, e.err
			case e.words[0] == "ready" && (first.IsZero() || e.at.Before(first)):
				first = e.at
			case e.words[0] == "done":
				done++
				if e.at.After(last) {
					last = e.at
				}
			}
		case <-timeout:
			return result{}, fmt.Errorf("%d of %d members done after 10 minutes", done, n)
		}
	}
	return result{Seconds: last.Sub(first).Seconds()}, nil
}

// runMember is one member child: it joins the group of BENCH_MEMBERS members, holds its writes back until the group
// is stable with all of them, copies its partitions to BENCH_TARGET offsets each, prints "ready" and "done" with the
// times, and stays in the group until SIGTERM (leaving earlier would move its finished partitions to the others).
func runMember() int {
	topic := os.Getenv("BENCH_TOPIC")
	want, _ := strconv.Atoi(os.Getenv("BENCH_MEMBERS"))
	target, _ := strconv.ParseInt(os.Getenv("BENCH_TARGET"), 10, 64)
	srcCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_SRC"), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer srcCl.Close()
	dstCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_DST"), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer dstCl.Close()
	groupCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_DST"), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer groupCl.Close()
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()

	var member *group.Member
	var started atomic.Bool
	guard := func() error {
		if started.Load() {
			return member.Lease()
		}
		v := member.View()
		if !v.Stable || len(v.Members) != want {
			return fmt.Errorf("waiting for %d members", want)
		}
		started.Store(true)
		fmt.Printf("ready %d\n", time.Now().UnixNano())
		return nil
	}
	r, err := replicator.New(srcCl, dstCl, replicator.Logger(zap.NewNop()), replicator.OwnedPartitionsOnly(), replicator.WriteGuard(guard))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	session, heartbeat := 6*time.Second, time.Second
	takeover := os.Getenv("BENCH_TAKEOVER") != ""
	if takeover {
		// The takeover is measured with the daemon's own timeouts.
		session, heartbeat = group.DefaultSessionTimeout, group.DefaultHeartbeatInterval
	}
	member, err = group.New(group.Options{Client: groupCl, Group: "clusterlink-bench", Name: strconv.Itoa(os.Getpid()),
		SessionTimeout: session, HeartbeatInterval: heartbeat,
		Work: func() []group.Unit {
			var us []group.Unit
			for t, n := range r.Partitions() {
				for p := int32(0); p < n; p++ {
					us = append(us, group.PartitionUnit(t, p))
				}
			}
			return us
		},
		Apply: func(ctx context.Context, units []group.Unit) error {
			owned := map[string][]int32{}
			for _, u := range units {
				if t, p, ok := u.Partition(); ok {
					owned[t] = append(owned[t], p)
				}
			}
			return r.SetOwned(ctx, owned)
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: topic}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = member.Run(ctx) }()
	finished := make(chan error, 1)
	go func() { finished <- r.Run(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	reported := false
	gainedAt := map[int32]int64{} // takeover: each owned partition's mirror end when this member got it
	wrote := map[int32]bool{}
	for {
		select {
		case <-ctx.Done():
			<-finished
			return 0
		case err := <-finished:
			fmt.Fprintln(os.Stderr, "replicator stopped:", err)
			return 1
		case <-tick.C:
		}
		if reported || !started.Load() {
			continue
		}
		st, _ := r.MirrorStatus(topic)
		if takeover {
			reportWrites(st, gainedAt, wrote)
			continue
		}
		owned, doneParts := 0, 0
		for _, p := range st.Partitions {
			if p.Status == replicator.StatusFailed {
				fmt.Fprintln(os.Stderr, "mirror failed:", p.ErrorCode, p.ErrorMessage)
				return 1
			}
			if p.NotOwned {
				continue
			}
			owned++
			if p.MirrorLogEndOffset >= target {
				doneParts++
			}
		}
		if owned > 0 && doneParts == owned {
			reported = true
			fmt.Printf("done %d\n", time.Now().UnixNano())
		}
	}
}

// reportWrites prints, for the takeover measurement, "owns P T" when this member gets partition P and "wrote P T"
// when it first wrote it after that (T in Unix nanoseconds).
func reportWrites(st replicator.MirrorStatus, gainedAt map[int32]int64, wrote map[int32]bool) {
	now := time.Now().UnixNano()
	for _, p := range st.Partitions {
		if p.NotOwned {
			delete(gainedAt, p.Partition)
			delete(wrote, p.Partition)
			continue
		}
		at, ok := gainedAt[p.Partition]
		switch {
		case p.Status == replicator.StatusFailed && !wrote[-1-p.Partition]:
			wrote[-1-p.Partition] = true // said once
			fmt.Fprintf(os.Stderr, "partition %d FAILED: %s %s\n", p.Partition, p.ErrorCode, p.ErrorMessage)
		case p.Status == replicator.StatusFailed:
		case !ok:
			gainedAt[p.Partition] = p.MirrorLogEndOffset
			fmt.Printf("owns %d %d\n", p.Partition, now)
		case !wrote[p.Partition] && p.MirrorLogEndOffset > at:
			wrote[p.Partition] = true
			fmt.Printf("wrote %d %d\n", p.Partition, now)
		}
	}
}

// takeoverResult is one kill -9 of a member: from the kill to the first and to the last of its partitions written
// by the other member.
type takeoverResult struct {
	Partitions   int
	First, Until time.Duration
}

// haTakeover measures the takeover after a kill -9 with the daemon's default session timeout: two members share
// a mirror of partitions between two kfake clusters that keep their records (the new owner checks the mirror's tail
// against the source when it takes a partition over), a producer writes every partition all along, one member is
// killed once both write, and the clock runs until the other has written each of the killed member's partitions.
func haTakeover(rounds int, partitions int32, codecName string, recordSize int) ([]takeoverResult, error) {
	c, err := codec(codecName)
	if err != nil {
		return nil, err
	}
	var out []takeoverResult
	for round := 0; round < rounds; round++ {
		r, err := takeoverRound(partitions, c, recordSize)
		if err != nil {
			return out, fmt.Errorf("round %d: %w", round+1, err)
		}
		fmt.Printf("  round %d: %d partitions moved, first written %.1f s after the kill, all %.1f s\n", round+1,
			r.Partitions, r.First.Seconds(), r.Until.Seconds())
		out = append(out, r)
	}
	return out, nil
}

func takeoverRound(partitions int32, c kgo.CompressionCodec, recordSize int) (takeoverResult, error) {
	src, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return takeoverResult{}, err
	}
	defer src.Close()
	dst, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return takeoverResult{}, err
	}
	defer dst.Close()
	const topic = "takeover"
	if err := src.CreateTopic(topic, partitions, nil); err != nil {
		return takeoverResult{}, err
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...), kgo.ProducerBatchCompression(c),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		return takeoverResult{}, err
	}
	defer prod.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		value := make([]byte, recordSize)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			for range partitions {
				prod.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, nil)
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()
	return takeoverOnce(src.ListenAddrs(), dst.ListenAddrs(), topic, partitions)
}

func takeoverOnce(src, dst []string, topic string, partitions int32) (takeoverResult, error) {
	cmds, events, err := startMembers(2, src, dst, topic, 0, "BENCH_TAKEOVER=1")
	defer func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Kill()
		}
	}()
	if err != nil {
		return takeoverResult{}, err
	}
	wrote := func(e memberLine) (int32, bool) {
		if len(e.words) != 2 || e.words[0] != "wrote" {
			return 0, false
		}
		p, err := strconv.Atoi(e.words[1])
		return int32(p), err == nil
	}
	// Both write, every partition written by one: then member 0 is killed.
	writtenBy := map[int32]int{}
	timeout := time.After(2 * time.Minute)
	for len(writtenBy) < int(partitions) || !slices.Contains(slices.Collect(maps.Values(writtenBy)), 0) ||
		!slices.Contains(slices.Collect(maps.Values(writtenBy)), 1) {
		select {
		case e := <-events:
			switch {
			case e.err != nil:
				return takeoverResult{}, e.err
			default:
				if p, ok := wrote(e); ok {
					writtenBy[p] = e.member
				}
			}
		case <-timeout:
			return takeoverResult{}, fmt.Errorf("the two members did not both write within 2 minutes (%d of %d partitions written)", len(writtenBy), partitions)
		}
	}
	var lost []int32
	for p, m := range writtenBy {
		if m == 0 {
			lost = append(lost, p)
		}
	}
	if err := cmds[0].Process.Signal(syscall.SIGKILL); err != nil {
		return takeoverResult{}, err
	}
	killed := time.Now()
	res := takeoverResult{Partitions: len(lost)}
	left := map[int32]bool{}
	for _, p := range lost {
		left[p] = true
	}
	timeout = time.After(time.Minute)
	for len(left) > 0 {
		select {
		case e := <-events:
			switch {
			case e.err != nil && e.member == 0:
			case e.err != nil:
				return res, e.err
			default:
				if p, ok := wrote(e); ok && e.member == 1 && left[p] {
					delete(left, p)
					d := e.at.Sub(killed)
					if res.First == 0 || d < res.First {
						res.First = d
					}
					res.Until = max(res.Until, d)
				}
			}
		case <-timeout:
			return res, fmt.Errorf("%d of the killed member's %d partitions not written by the other within a minute", len(left), len(lost))
		}
	}
	return res, nil
}

// printTakeovers prints the takeover rounds and their median, with the target (2 x the session timeout).
func printTakeovers(rs []takeoverResult) {
	if len(rs) == 0 {
		return
	}
	firsts := make([]time.Duration, len(rs))
	alls := make([]time.Duration, len(rs))
	for i, r := range rs {
		firsts[i], alls[i] = r.First, r.Until
	}
	slices.Sort(firsts)
	slices.Sort(alls)
	fmt.Printf("\ntakeover after kill -9 (%d rounds): first write by the new owner %.1f s median (%.1f to %.1f), all partitions %.1f s median (%.1f to %.1f); target < %s (2 x the %s session timeout)\n",
		len(rs), firsts[len(rs)/2].Seconds(), firsts[0].Seconds(), firsts[len(rs)-1].Seconds(),
		alls[len(rs)/2].Seconds(), alls[0].Seconds(), alls[len(rs)-1].Seconds(),
		2*group.DefaultSessionTimeout, group.DefaultSessionTimeout)
}
