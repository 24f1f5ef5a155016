package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/replicator"
)

// runDemoShared is `demo --daemons N`: N daemons of one config share the link between two embedded clusters; the
// demo shows the group, stops one daemon while data flows, shows its partitions moved, and ends with every topic
// compared record by record at identical offsets.
func runDemoShared(ctx context.Context, out io.Writer, log *zap.Logger, records, n int) error {
	srcCluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("start the embedded source cluster: %w", err)
	}
	defer srcCluster.Close()
	dstCluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("start the embedded destination cluster: %w", err)
	}
	defer dstCluster.Close()
	srcAddrs := strings.Join(srcCluster.ListenAddrs(), ",")
	fmt.Fprintf(out, "source cluster:      %s\ndestination cluster: %s\n", srcAddrs, strings.Join(dstCluster.ListenAddrs(), ","))
	src, err := kgo.NewClient(kgo.SeedBrokers(srcCluster.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := kgo.NewClient(kgo.SeedBrokers(dstCluster.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer dst.Close()
	var mirrors []config.Mirror
	for _, t := range demoTopics {
		if err := srcCluster.CreateTopic(t.name, t.partitions, nil); err != nil {
			return fmt.Errorf("create source topic %s: %w", t.name, err)
		}
		mirrors = append(mirrors, config.Mirror{Topic: t.name, SourceTopic: t.name})
	}
	if err := produceDemo(ctx, src, records); err != nil {
		return err
	}
	linkCfg, err := config.ParseLink(demoLink, map[string]string{"bootstrap.servers": srcAddrs})
	if err != nil {
		return err
	}
	linkCfg.Mirrors = mirrors
	cfg := &config.Config{
		Destination: config.Cluster{BootstrapServers: dstCluster.ListenAddrs()},
		Admin:       config.Admin{Listen: "127.0.0.1:0"},
		State:       config.State{Topic: config.DefaultStateTopic},
		Links:       []*config.Link{linkCfg},
	}

	type running struct {
		name   string
		client *adminapi.Client
		addr   string
		stop   func()
	}
	var daemons []*running
	defer func() {
		for _, d := range daemons {
			d.stop()
		}
	}()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("daemon-%d", i)
		d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log.With(zap.String("daemon", name)), MemberName: name,
			ReplicatorOpts: []replicator.Opt{replicator.MetadataRefresh(time.Second)}})
		if err != nil {
			return err
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		stopped := false
		r := &running{name: name, stop: func() {
			if !stopped {
				stopped = true
				cancel()
				<-done
				d.Close()
			}
		}}
		daemons = append(daemons, r)
		if r.addr, err = waitDemoDaemon(ctx, d, done); err != nil {
			return err
		}
		r.client = adminapi.NewClient(r.addr, "")
		fmt.Fprintf(out, "clusterlink %s: http://%s\n", name, r.addr)
	}
	var all int
	for _, t := range demoTopics {
		all += int(t.partitions)
	}
	cli := func(address string, args ...string) error {
		fmt.Fprintf(out, "\n$ clusterlink %s\n", strings.Join(args, " "))
		root := newRootCommand()
		root.SetArgs(append(args, "--address", address))
		root.SetOut(out)
		root.SetErr(out)
		return root.ExecuteContext(ctx)
	}
	last := daemons[len(daemons)-1]
	if err := waitDemoGroup(ctx, last.client, n, all); err != nil {
		return err
	}
	if err := cli(last.addr, "daemon", "list", "--link", demoLink); err != nil {
		return err
	}

	// Data keeps flowing while one daemon stops mid-copy; its partitions move to the others.
	produced := make(chan error, 1)
	go func() { produced <- produceDemo(ctx, src, records) }()
	time.Sleep(200 * time.Millisecond)
	fmt.Fprintf(out, "\nstopping %s while data flows...\n", daemons[0].name)
	daemons[0].stop()
	if err := waitDemoGroup(ctx, last.client, n-1, all); err != nil {
		return err
	}
	if err := cli(last.addr, "daemon", "list", "--link", demoLink); err != nil {
		return err
	}
	if err := <-produced; err != nil {
		return err
	}
	if err := waitDemoEnds(ctx, src, dst); err != nil {
		return err
	}
	fmt.Fprintln(out)
	for _, t := range demoTopics {
		got, err := compareDemo(ctx, src, dst, t.name, t.partitions, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-55s %7d records at identical offsets on both clusters\n", t.name, got)
	}
	return nil
}

// waitDemoGroup waits until the daemon sees a stable group of n members sharing all partitions.
func waitDemoGroup(ctx context.Context, client *adminapi.Client, n, partitions int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		g, err := client.LinkDaemons(ctx, demoLink)
		owned := 0
		for _, m := range g.Members {
			owned += m.PartitionCount
		}
		if err == nil && g.Stable && len(g.Members) == n && owned == partitions {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no stable group of %d daemons sharing %d partitions (last %+v, %v): %w", n, partitions, g, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitDemoEnds waits until every mirror partition's log end equals its source's.
func waitDemoEnds(ctx context.Context, src, dst *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		same := true
		for _, t := range demoTopics {
			s, err1 := kadm.NewClient(src).ListEndOffsets(ctx, t.name)
			d, err2 := kadm.NewClient(dst).ListEndOffsets(ctx, t.name)
			if err1 != nil || err2 != nil {
				same = false
				break
			}
			s.Each(func(o kadm.ListedOffset) {
				if do, ok := d.Lookup(t.name, o.Partition); !ok || do.Offset != o.Offset {
					same = false
				}
			})
		}
		if same {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the mirrors did not catch up: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
