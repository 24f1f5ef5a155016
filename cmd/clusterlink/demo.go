package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/replicator"
)

func newDemoCommand() *cobra.Command {
	var records, daemons int
	var verbose, keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a link between two embedded clusters: data flowing, mirrors, a promote",
		Long: `demo starts two in-process Kafka clusters (kfake) and a clusterlink daemon between them, with a link that
auto-creates mirrors for every source topic. It fills topics shaped like a real deployment while the link copies
them, then walks through the CLI: link describe, mirror list, mirror promote rest-api, mirror list again, a produce
to the promoted topic on the destination, and a record-by-record comparison of both clusters. Nothing needs to be
installed. With --keep the daemon stays up for you to explore with the other commands, or in the web console
(the URL it prints).`,
		Example: "  clusterlink demo\n  clusterlink demo --records 50000\n  clusterlink demo --keep   # then, in another shell: clusterlink mirror list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := zap.NewNop()
			if verbose {
				log, _ = zap.NewDevelopment()
			}
			if daemons > 1 {
				return runDemoShared(cmd.Context(), cmd.OutOrStdout(), log, records, daemons)
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), log, records, keep)
		},
	}
	cmd.Flags().IntVar(&records, "records", 20000, "records to produce to each source topic")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log what the daemon does")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the clusters and the daemon running after the walkthrough, until Ctrl-C")
	cmd.Flags().IntVar(&daemons, "daemons", 1, "run this many daemons sharing the link: shows the group, stops one while data flows, shows its partitions moved")
	return cmd
}

var demoTopics = []struct {
	name       string
	partitions int32
}{
	{"rest-api", 2},
	{"sensor-data-raw", 6},
	{"app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog", 6},
	{"app-KSTREAM-REDUCE-STATE-STORE-0000000003-changelog", 6},
}

const demoLink = "demo-link"

func runDemo(ctx context.Context, out io.Writer, log *zap.Logger, records int, keep bool) error {
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
	srcAddrs, dstAddrs := strings.Join(srcCluster.ListenAddrs(), ","), strings.Join(dstCluster.ListenAddrs(), ",")
	fmt.Fprintf(out, "source cluster:      %s\ndestination cluster: %s\n", srcAddrs, dstAddrs)

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
	for _, t := range demoTopics {
		if err := srcCluster.CreateTopic(t.name, t.partitions, nil); err != nil {
			return fmt.Errorf("create source topic %s: %w", t.name, err)
		}
	}
	if err := produceDemo(ctx, src, records); err != nil {
		return err
	}

	linkCfg, err := config.ParseLink(demoLink, map[string]string{
		"bootstrap.servers":                 srcAddrs,
		"auto.create.mirror.topics.enable":  "true",
		"auto.create.mirror.topics.filters": `{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
		"topic.config.sync.ms":              "1000",
	})
	if err != nil {
		return err
	}
	cfg := &config.Config{
		Destination: config.Cluster{BootstrapServers: dstCluster.ListenAddrs()},
		Admin:       config.Admin{Listen: "127.0.0.1:0"},
		State:       config.State{Topic: config.DefaultStateTopic},
		Links:       []*config.Link{linkCfg},
	}
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log,
		ReplicatorOpts: []replicator.Opt{replicator.MetadataRefresh(time.Second)}})
	if err != nil {
		return err
	}
	defer d.Close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	address, err := waitDemoDaemon(ctx, d, done)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "clusterlink daemon:  http://%s (link %s mirrors every source topic)\n", address, demoLink)

	// Data keeps flowing while the link copies.
	if err := produceDemo(ctx, src, records/4); err != nil {
		return err
	}
	client := adminapi.NewClient(address, "")
	if err := waitDemoCaughtUp(ctx, client); err != nil {
		return err
	}
	cli := func(args ...string) error {
		fmt.Fprintf(out, "\n$ clusterlink %s\n", strings.Join(args, " "))
		root := newRootCommand()
		root.SetArgs(append(args, "--address", address))
		root.SetOut(out)
		root.SetErr(out)
		return root.ExecuteContext(ctx)
	}
	for _, args := range [][]string{
		{"link", "describe", demoLink},
		{"mirror", "list"},
		{"mirror", "promote", "rest-api", "--link", demoLink},
		{"mirror", "list"},
	} {
		if err := cli(args...); err != nil {
			return fmt.Errorf("clusterlink %s: %w", strings.Join(args, " "), err)
		}
	}

	fmt.Fprintln(out)
	res := dst.ProduceSync(ctx, &kgo.Record{Topic: "rest-api", Partition: 0, Key: []byte("after-promote"), Value: []byte(`{"written":"on the destination"}`)})
	rec, err := res.First()
	if err != nil {
		return fmt.Errorf("produce to the promoted topic rest-api on the destination: %w", err)
	}
	fmt.Fprintf(out, "produced to the promoted topic rest-api on the destination: partition %d, offset %d\n\n", rec.Partition, rec.Offset)
	for _, t := range demoTopics {
		n, err := compareDemo(ctx, src, dst, t.name, t.partitions, t.name == "rest-api")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-55s %7d records at identical offsets on both clusters\n", t.name, n)
	}
	if keep {
		fmt.Fprintf(out, "\nThe daemon keeps running: try `clusterlink mirror list --address %s`, or the web console at http://%s/ui/. Ctrl-C stops it.\n", address, address)
		<-ctx.Done()
	}
	return nil
}

func waitDemoDaemon(ctx context.Context, d *daemon.Daemon, done <-chan error) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if d.Ready() {
			return d.Addr().String(), nil
		}
		select {
		case err := <-done:
			return "", fmt.Errorf("the daemon stopped: %w", err)
		case <-ctx.Done():
			return "", fmt.Errorf("the daemon did not start: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func produceDemo(ctx context.Context, cl *kgo.Client, n int) error {
	for _, t := range demoTopics {
		recs := make([]*kgo.Record, 0, n)
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: t.name, Key: []byte(fmt.Sprintf("key-%d", i%1000)),
				Value: []byte(fmt.Sprintf(`{"topic":%q,"seq":%d}`, t.name, i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s: %w", t.name, err)
		}
	}
	return nil
}

func waitDemoCaughtUp(ctx context.Context, client *adminapi.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		mirrors, err := client.Mirrors(ctx, demoLink)
		caughtUp := err == nil && len(mirrors) == len(demoTopics)
		for _, m := range mirrors {
			if m.MirrorStatus != "ACTIVE" || m.MaxLag() > 0 {
				caughtUp = false
			}
			if m.MirrorStatus == "FAILED" {
				return fmt.Errorf("mirror %s failed: %s %s", m.MirrorTopicName, m.MirrorTopicError, m.ErrorMessage())
			}
		}
		if caughtUp {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mirrors did not catch up (last answer %v): %w", err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// compareDemo checks that every source record is on the destination at its offset; a promoted topic may have more.
func compareDemo(ctx context.Context, src, dst *kgo.Client, topic string, partitions int32, promoted bool) (int, error) {
	read := func(cl *kgo.Client, p int32) ([]*kgo.Record, error) {
		c, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {p: kgo.NewOffset().AtStart()}}))...)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		var recs []*kgo.Record
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for {
			fs := c.PollFetches(ctx)
			if ctx.Err() != nil {
				return recs, nil
			}
			recs = append(recs, fs.Records()...)
			hwm := int64(-1)
			fs.EachPartition(func(fp kgo.FetchTopicPartition) { hwm = fp.HighWatermark })
			if len(recs) > 0 && recs[len(recs)-1].Offset == hwm-1 {
				return recs, nil
			}
		}
	}
	total := 0
	for p := int32(0); p < partitions; p++ {
		s, err := read(src, p)
		if err != nil {
			return 0, err
		}
		d, err := read(dst, p)
		if err != nil {
			return 0, err
		}
		if promoted && len(d) > len(s) {
			d = d[:len(s)]
		}
		if len(s) != len(d) {
			return 0, fmt.Errorf("%s[%d]: source has %d records, mirror %d", topic, p, len(s), len(d))
		}
		for i := range s {
			if s[i].Offset != d[i].Offset || string(s[i].Key) != string(d[i].Key) || string(s[i].Value) != string(d[i].Value) {
				return 0, fmt.Errorf("%s[%d] offset %d differs on the mirror", topic, p, s[i].Offset)
			}
		}
		total += len(s)
	}
	return total, nil
}
