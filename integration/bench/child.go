package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator"
)

const childEnv = "CLUSTERLINK_BENCH_CHILD"

// runChild is clusterlink's replicator in a process of its own, mirroring BENCH_TOPIC from BENCH_SRC to BENCH_DST:
// "catchup" until the mirror's log end reaches the source's end at start, "ceiling" until it has copied
// BENCH_TARGET offsets, "steady" until SIGTERM.
func runChild(mode string) int {
	topic := os.Getenv("BENCH_TOPIC")
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
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()

	var target func(p int32) int64
	switch mode {
	case "catchup":
		ends, err := kadm.NewClient(srcCl).ListEndOffsets(ctx, topic)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		target = func(p int32) int64 { e, _ := ends.Lookup(topic, p); return e.Offset }
	case "ceiling":
		total, _ := strconv.ParseInt(os.Getenv("BENCH_TARGET"), 10, 64)
		return mirrorUntil(ctx, srcCl, dstCl, topic, func(st replicator.MirrorStatus) bool {
			var copied int64
			for _, p := range st.Partitions {
				copied += p.MirrorLogEndOffset
			}
			return copied >= total
		})
	case "member":
		return runMember()
	case "scale":
		n, _ := strconv.Atoi(os.Getenv("BENCH_TARGET"))
		return scaleChild(ctx, topic, n)
	case "steady":
		return mirrorUntil(ctx, srcCl, dstCl, topic, func(replicator.MirrorStatus) bool { return false })
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode", mode)
		return 2
	}
	return mirrorUntil(ctx, srcCl, dstCl, topic, func(st replicator.MirrorStatus) bool {
		for _, p := range st.Partitions {
			if p.MirrorLogEndOffset < target(p.Partition) {
				return false
			}
		}
		return len(st.Partitions) > 0
	})
}

// mirrorUntil mirrors topic until done says so or ctx ends, and returns the exit code.
func mirrorUntil(ctx context.Context, srcCl, dstCl *kgo.Client, topic string, done func(replicator.MirrorStatus) bool) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := zap.NewNop()
	if os.Getenv("BENCH_DEBUG") != "" {
		log, _ = zap.NewDevelopment()
	}
	debug.SetMemoryLimit(replicator.SoftMemoryLimit(replicator.DefaultMemoryBudget)) // as clusterlink run does
	r, err := replicator.New(srcCl, dstCl, replicator.Logger(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: topic}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	finished := make(chan error, 1)
	go func() { finished <- r.Run(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
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
		st, _ := r.MirrorStatus(topic)
		for _, p := range st.Partitions {
			if p.Status == replicator.StatusFailed {
				fmt.Fprintln(os.Stderr, "mirror failed:", p.ErrorCode, p.ErrorMessage)
				return 1
			}
		}
		if done(st) {
			cancel()
			<-finished
			return 0
		}
	}
}
