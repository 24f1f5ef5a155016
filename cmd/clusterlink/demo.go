package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator"
)

func newDemoCommand() *cobra.Command {
	var records int
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a link between two embedded clusters and show it mirror",
		Long: `demo starts two in-process Kafka clusters (kfake), fills source topics shaped like a real deployment, links them
with clusterlink and prints the mirrors as they catch up, then checks that every record sits at the same offset on
both sides. Nothing needs to be installed.`,
		Example: "  clusterlink demo\n  clusterlink demo --records 50000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := zap.NewNop()
			if verbose {
				log, _ = zap.NewDevelopment()
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), log, records)
		},
	}
	cmd.Flags().IntVar(&records, "records", 20000, "records to produce to each source topic")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log what the replicator does")
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

func runDemo(ctx context.Context, out io.Writer, log *zap.Logger, records int) error {
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
	fmt.Fprintf(out, "source cluster:      %v\ndestination cluster: %v\n\n", srcCluster.ListenAddrs(), dstCluster.ListenAddrs())

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

	r := replicator.New(src, dst, replicator.Logger(log), replicator.MetadataRefresh(time.Second))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for _, t := range demoTopics {
		if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: t.name}); err != nil {
			return err
		}
	}
	// Data keeps flowing while the link copies.
	if err := produceDemo(ctx, src, records/4); err != nil {
		return err
	}
	if err := waitDemoCaughtUp(ctx, r, src); err != nil {
		return err
	}
	fmt.Fprintln(out, "clusterlink mirror list")
	printMirrorList(out, "demo-link", r.Status())
	fmt.Fprintln(out)
	for _, t := range demoTopics {
		n, err := compareDemo(ctx, src, dst, t.name, t.partitions)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-55s %7d records at identical offsets on both clusters\n", t.name, n)
	}
	return nil
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

func waitDemoCaughtUp(ctx context.Context, r *replicator.Replicator, src *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		caughtUp := len(r.Status()) == len(demoTopics)
		for _, m := range r.Status() {
			if m.Status != replicator.StatusActive || m.MaxLag() > 0 {
				caughtUp = false
			}
			if m.Status == replicator.StatusFailed {
				return fmt.Errorf("mirror %s failed: %s %s", m.MirrorTopic, m.ErrorCode, m.ErrorMessage)
			}
		}
		if caughtUp {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mirrors did not catch up: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func compareDemo(ctx context.Context, src, dst *kgo.Client, topic string, partitions int32) (int, error) {
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

// printMirrorList prints mirrors with the columns of Confluent's `mirror list`.
func printMirrorList(out io.Writer, linkName string, mirrors []replicator.MirrorStatus) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Link Name\tMirror Topic Name\tNum Partition\tMax Per Partition Mirror Lag\tSource Topic Name\tMirror Status\tStatus Time Ms")
	for _, m := range mirrors {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", linkName, m.MirrorTopic, len(m.Partitions), m.MaxLag(),
			m.SourceTopic, m.Status, m.StatusTime.UnixMilli())
	}
	tw.Flush()
}
