package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

func newMirrorCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:   "mirror",
		Short: "List, describe, create, verify, promote, fail over, pause, resume, restart and fail back mirror topics",
		Example: `  clusterlink mirror list
  clusterlink mirror promote orders --link my-link`,
	})
	cmd.AddCommand(newMirrorListCommand(f), newMirrorDescribeCommand(f), newMirrorCreateCommand(f), newMirrorVerifyCommand(f),
		newMirrorStateTransitionErrorCommand(f))
	for _, op := range []struct{ name, short, long, example string }{
		{adminapi.OpPromote, "Make mirror topics writable once they have caught up with the source",
			`promote waits until each mirror has copied every record its source had when asked, syncs its consumer offsets
a last time, stops mirroring and makes the topic a normal writable topic with its source's configs (STOPPED).`,
			"  clusterlink mirror promote orders --link my-link\n  clusterlink mirror promote orders payments --link my-link --dry-run"},
		{adminapi.OpFailover, "Make mirror topics writable now, without waiting for the source",
			`failover stops mirroring at once and makes each topic a normal writable topic (STOPPED), whatever its lag and
whether the source answers: use it when the source cluster is lost.`,
			"  clusterlink mirror failover orders --link my-link"},
		{adminapi.OpPause, "Stop copying mirror topics; they stay read-only and keep their position",
			"pause stops copying; resume continues from each mirror's log end offset.",
			"  clusterlink mirror pause orders --link my-link"},
		{adminapi.OpResume, "Copy paused mirror topics again",
			"resume continues copying paused mirror topics from their log end offsets.",
			"  clusterlink mirror resume orders --link my-link"},
		{adminapi.OpRestart, "Recover FAILED mirror topics once the cause is fixed",
			`restart compares each failed partition with its source (the mirror's last records must equal the source's at the
same offsets, and the mirror must not end beyond the source); if every one is still an exact prefix of its source,
the failures are forgotten and copying continues from the mirror's log end offset. A mirror that diverged stays
FAILED and the answer names the partition and the first differing offset. resume does not recover a FAILED mirror.`,
			"  clusterlink mirror restart orders --link my-link\n  clusterlink mirror restart orders --link my-link --dry-run"},
	} {
		cmd.AddCommand(newMirrorAlterCommand(f, op.name, op.short, op.long, op.example))
	}
	cmd.AddCommand(newMirrorFailbackCommands(f)...)
	return cmd
}

func newMirrorListCommand(f *clientFlags) *cobra.Command {
	var link, status string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List mirror topics of every link, or of one",
		Example: "  clusterlink mirror list\n  clusterlink mirror list --link my-link --mirror-status active",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" {
				var err error
				if status, err = adminapi.ParseMirrorStatus(status); err != nil {
					return fmt.Errorf("--mirror-status: %w", err)
				}
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			mirrors, err := f.client().MirrorsInStatus(ctx, link, status)
			if err != nil {
				return err
			}
			out := []mirrorListOut{}
			for _, m := range mirrors {
				out = append(out, mirrorListOut{LinkName: m.LinkName, MirrorTopicName: m.MirrorTopicName, NumPartition: m.NumPartitions,
					MaxPerPartitionMirrorLag: m.MaxLag(), SourceTopicName: m.SourceTopicName, MirrorStatus: m.MirrorStatus, StatusTimeMs: m.StateTimeMs})
			}
			return f.print(cmd.OutOrStdout(), out, func() error {
				t := table{header: []string{"Link Name", "Mirror Topic Name", "Num Partition", "Max Per Partition Mirror Lag",
					"Source Topic Name", "Mirror Status", "Status Time Ms"}}
				for _, m := range out {
					t.add(m.LinkName, m.MirrorTopicName, m.NumPartition, lagText(m.MaxPerPartitionMirrorLag), m.SourceTopicName, m.MirrorStatus, m.StatusTimeMs)
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "only this link's mirror topics")
	cmd.Flags().StringVar(&status, "mirror-status", "", "only mirror topics in this status, any case: "+strings.ToLower(strings.Join(adminapi.MirrorStatuses, ", ")))
	return cmd
}

func catchUp(seconds float64) string {
	if seconds < 0 {
		return "-"
	}
	return strconv.FormatFloat(seconds, 'f', -1, 64) + "s"
}

func newMirrorDescribeCommand(f *clientFlags) *cobra.Command {
	var link string
	cmd := &cobra.Command{
		Use:     "describe TOPIC --link LINK",
		Short:   "Show a mirror topic partition by partition: lag, positions, estimated catch-up time",
		Example: "  clusterlink mirror describe orders --link my-link",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			m, err := f.client().Mirror(ctx, link, args[0])
			if err != nil {
				return err
			}
			out := []mirrorPartitionOut{}
			for _, l := range m.MirrorLags {
				out = append(out, mirrorPartitionOut{LinkName: m.LinkName, MirrorTopicName: m.MirrorTopicName, Partition: l.Partition,
					PartitionMirrorLag: l.Lag, SourceTopicName: m.SourceTopicName, MirrorStatus: m.MirrorStatus,
					MirrorTopicError: m.MirrorTopicError, StatusTimeMs: m.StateTimeMs, LastSourceFetchOffset: l.LastSourceFetchOffset,
					CatchUpSeconds: l.CatchUpSeconds, TimeLagMs: l.TimeLagMs, ErrorCode: l.ErrorCode, ErrorMessage: l.ErrorMessage})
			}
			return f.print(cmd.OutOrStdout(), out, func() error {
				t := table{header: []string{"Link Name", "Mirror Topic Name", "Partition", "Partition Mirror Lag", "Source Topic Name",
					"Mirror Status", "Status Time Ms", "Last Source Fetch Offset", "Catch Up", "Time Lag", "Error Code"}}
				for _, p := range out {
					t.add(p.LinkName, p.MirrorTopicName, p.Partition, lagText(p.PartitionMirrorLag), p.SourceTopicName, p.MirrorStatus, p.StatusTimeMs,
						p.LastSourceFetchOffset, catchUp(p.CatchUpSeconds), timeLagText(p.TimeLagMs), p.ErrorCode)
				}
				if err := t.write(cmd.OutOrStdout()); err != nil {
					return err
				}
				if m.MirrorTopicError != "NO_ERROR" || m.ErrorMessage() != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "error: %s: %s\n", m.MirrorTopicError, m.ErrorMessage())
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "the mirror topic's link (required)")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}

func newMirrorStateTransitionErrorCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:     "state-transition-error",
		Short:   "Show why a mirror topic is in an error state",
		Example: "  clusterlink mirror state-transition-error list orders --link my-link",
	})
	var link string
	list := &cobra.Command{
		Use:     "list TOPIC --link LINK",
		Short:   "List a mirror topic's state transition errors",
		Example: "  clusterlink mirror state-transition-error list orders --link my-link",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			m, err := f.client().Mirror(ctx, link, args[0])
			if err != nil {
				return err
			}
			out := []stateTransitionErrorOut{}
			for _, e := range m.MirrorStateTransitionErrors {
				out = append(out, stateTransitionErrorOut(e))
			}
			return f.print(cmd.OutOrStdout(), out, func() error {
				t := table{header: []string{"Mirror State Transition Error Code", "Mirror State Transition Error Message"}}
				for _, e := range out {
					t.add(e.ErrorCode, e.ErrorMessage)
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	}
	list.Flags().StringVar(&link, "link", "", "the mirror topic's link (required)")
	_ = list.MarkFlagRequired("link")
	cmd.AddCommand(list)
	return cmd
}

func newMirrorCreateCommand(f *clientFlags) *cobra.Command {
	var link, sourceTopic string
	var replicationFactor int32
	var cf configFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "create TOPIC --link LINK",
		Short: "Create a mirror topic of a source topic",
		Long: `create makes a new read-only mirror topic on the destination, with the source topic's partitions and configs, and
starts copying it at the same offsets. The source topic defaults to TOPIC without the link's cluster.link.prefix.
--replication-factor is accepted as the Confluent CLI has it; mirror topics get the destination's
default.replication.factor. --config is refused by the daemon: a mirror topic takes its source topic's configs.`,
		Example: "  clusterlink mirror create orders --link my-link\n  clusterlink mirror create src_orders --link my-link --source-topic orders",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			configs, err := cf.collect()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("replication-factor") && replicationFactor < 1 {
				return fmt.Errorf("--replication-factor %d: give at least 1", replicationFactor)
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			// Without --source-topic the daemon takes TOPIC without the link's cluster.link.prefix.
			req := adminapi.CreateMirrorRequest{MirrorTopicName: args[0], SourceTopicName: sourceTopic,
				ReplicationFactor: replicationFactor, Configs: configs}
			if err := f.client().CreateMirror(ctx, link, req, dryRun); err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "[DRY RUN] Mirror topic %q is valid (not created).\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Created mirror topic %q.\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "the link to mirror through (required)")
	cmd.Flags().StringVar(&sourceTopic, "source-topic", "", "the source topic (default: TOPIC without cluster.link.prefix)")
	cmd.Flags().Int32Var(&replicationFactor, "replication-factor", 0, "accepted; mirror topics get the destination's default.replication.factor")
	cf.register(cmd, "topic configs")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate only")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}

func newMirrorAlterCommand(f *clientFlags, op, short, long, example string) *cobra.Command {
	var link string
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:     op + " TOPIC... --link LINK",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// promote waits for lag 0 and is bounded by the command's context only; the others are quick.
			ctx, cancel := cmd.Context(), func() {}
			if op != adminapi.OpPromote && op != adminapi.OpFailover {
				ctx, cancel = requestContext(cmd)
			}
			defer cancel()
			results, err := f.client().AlterMirrors(ctx, link, op, args, adminapi.AlterOptions{ValidateOnly: dryRun, Force: force})
			if err != nil {
				return err
			}
			out := []alterMirrorOut{}
			var failed []string
			for _, r := range results {
				code := ""
				if r.ErrorCode != nil {
					code = strconv.Itoa(*r.ErrorCode)
				}
				if r.Failed() {
					failed = append(failed, r.MirrorTopicName)
					out = append(out, alterMirrorOut{MirrorTopicName: r.MirrorTopicName, Partition: -1, PartitionMirrorLag: -1,
						ErrorMessage: r.Message(), ErrorCode: code, LastSourceFetchOffset: -1})
					continue
				}
				for _, l := range r.MirrorLags {
					out = append(out, alterMirrorOut{MirrorTopicName: r.MirrorTopicName, Partition: l.Partition, PartitionMirrorLag: l.Lag,
						LastSourceFetchOffset: l.LastSourceFetchOffset})
				}
			}
			err = f.print(cmd.OutOrStdout(), out, func() error {
				t := table{header: []string{"Mirror Topic Name", "Partition", "Partition Mirror Lag", "Error Message", "Error Code",
					"Last Source Fetch Offset"}}
				for _, r := range out {
					if r.Partition < 0 {
						t.add(r.MirrorTopicName, "-", "-", r.ErrorMessage, r.ErrorCode, "-")
						continue
					}
					t.add(r.MirrorTopicName, r.Partition, lagText(r.PartitionMirrorLag), r.ErrorMessage, r.ErrorCode, r.LastSourceFetchOffset)
				}
				return t.write(cmd.OutOrStdout())
			})
			if err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("%s failed for %s (see the table above)", op, strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "the mirror topics' link (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check that the operation would be accepted, change nothing")
	if op == adminapi.OpPromote || op == adminapi.OpFailover {
		cmd.Flags().BoolVar(&force, "force", false, "also "+op+" a mirror that diverged from its source (its topic does not hold the source's records)")
	}
	_ = cmd.MarkFlagRequired("link")
	return cmd
}

func newMirrorVerifyCommand(f *clientFlags) *cobra.Command {
	var link string
	var fromOffset, sample int64
	var partitions []int32
	cmd := &cobra.Command{
		Use:   "verify TOPIC --link LINK",
		Short: "Prove a mirror topic equals its source: batch by batch, record by record, marker by marker",
		Long: `verify reads the mirror and its source side by side: batches the link copied byte for byte must be equal but for
the header fields the broker owns (base offset, partition leader epoch, CRC); the others are compared record by record
(offset, key, value, headers, timestamp); transaction markers by offset and type. It prints per partition the offsets
compared, differing, only on one side, not yet copied (the lag, not a difference) and the first difference, and
exits non-zero if any partition differs. It only reads, and works on a copying, paused, failed or stopped mirror.`,
		Example: `  clusterlink mirror verify orders --link my-link
  clusterlink mirror verify orders --link my-link --sample 10000
  clusterlink mirror verify orders --link my-link --from-offset 5000000 --partitions 0,3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.checkOutput(); err != nil {
				return err
			}
			// Reading a whole topic takes as long as it takes: bounded by the command's context only.
			v, err := f.client().VerifyMirror(cmd.Context(), link, args[0],
				adminapi.VerifyOptions{FromOffset: fromOffset, Sample: sample, Partitions: partitions})
			if err != nil {
				return err
			}
			err = f.print(cmd.OutOrStdout(), v, func() error {
				t := table{header: []string{"Partition", "From Offset", "To Offset", "Offsets Compared", "By Batch", "Differing",
					"Only On Source", "Only On Mirror", "Not Yet Copied", "First Difference"}}
				for _, p := range v.Partitions {
					first := "-"
					if p.FirstDifference >= 0 {
						first = fmt.Sprintf("%d: %s", p.FirstDifference, p.Detail)
					}
					t.add(p.Partition, p.FromOffset, p.ToOffset, p.OffsetsCompared, p.OffsetsByBatch, p.OffsetsDiffering,
						p.OnlyOnSource, p.OnlyOnMirror, p.NotYetCopied, first)
				}
				return t.write(cmd.OutOrStdout())
			})
			if err != nil {
				return err
			}
			if !v.Identical {
				return fmt.Errorf("mirror topic %s differs from its source %s (see the table above)", v.MirrorTopicName, v.SourceTopicName)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "the mirror topic's link (required)")
	cmd.Flags().Int64Var(&fromOffset, "from-offset", -1, "compare from this offset (default: each partition's log start)")
	cmd.Flags().Int64Var(&sample, "sample", 0, "compare only the last N offsets of each partition (default: all)")
	cmd.Flags().Int32SliceVar(&partitions, "partitions", nil, "the partitions to compare, comma separated (default: all)")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}
