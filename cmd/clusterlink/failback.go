package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

// This file is the failback commands (Confluent's `mirror reverse-and-start`, `reverse-and-pause` and
// `truncate-and-restore`): each prints one row per partition with where the old source's topic is restored from
// and how many of its records diverged (saved to the topic named in the row, never dropped).

// failbackOut is one row of a failback command.
type failbackOut struct {
	MirrorTopicName   string `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	Partition         int32  `json:"partition" yaml:"partition"`
	OffsetTruncatedTo int64  `json:"offset_truncated_to" yaml:"offset_truncated_to"`
	MessagesTruncated int64  `json:"messages_truncated" yaml:"messages_truncated"`
	DivergedTopicName string `json:"diverged_topic_name" yaml:"diverged_topic_name"`
	ErrorMessage      string `json:"error_message" yaml:"error_message"`
	ErrorCode         string `json:"error_code" yaml:"error_code"`
}

func newMirrorFailbackCommands(f *clientFlags) []*cobra.Command {
	var out []*cobra.Command
	for _, op := range []struct{ name, short, long, example string }{
		{adminapi.OpReverseAndStart, "Make the old source's topic of a promoted or failed-over mirror a mirror of it",
			`reverse-and-start turns the mirror around (the link needs link.mode=BIDIRECTIONAL): the old source's topic
becomes a read-only mirror of this topic and copies from its own log end offset, so nothing it has is copied again.
Its last records must equal this topic's at the same offsets (compared as mirror verify does); if they do not, it
is refused: see truncate-and-restore. Consumer offsets follow the reversed direction. An ACTIVE mirror is promoted
first. With --dry-run it shows each partition's check and changes nothing.`,
			"  clusterlink mirror reverse-and-start orders --link my-link --dry-run\n  clusterlink mirror reverse-and-start orders --link my-link"},
		{adminapi.OpReverseAndPause, "Reverse a promoted or failed-over mirror and leave the reversed mirror paused",
			"reverse-and-pause is reverse-and-start, leaving the old source's topic a PAUSED mirror (resume starts it).",
			"  clusterlink mirror reverse-and-pause orders --link my-link"},
		{adminapi.OpTruncateAndRestore, "Restore the old source's topic exactly from this topic, saving its divergent records",
			`truncate-and-restore is for an old source that took writes this topic never got (after a failover): it finds
where each partition's committed records stop matching, saves every record beyond that point, with its original
partition, offset and timestamp (in headers), to <topic>.diverged on the old source, then deletes the old topic and
recreates it as a mirror of this one, copied from its log start (a stock broker cannot truncate a log's tail).
Stop the producers on the old source first. Where no partition diverged it is reverse-and-start. With --dry-run it
shows each partition's truncation point and how many records would be saved, and changes nothing.`,
			"  clusterlink mirror truncate-and-restore orders --link my-link --dry-run\n  clusterlink mirror truncate-and-restore orders --link my-link"},
	} {
		out = append(out, newMirrorFailbackCommand(f, op.name, op.short, op.long, op.example))
	}
	return out
}

func newMirrorFailbackCommand(f *clientFlags, op, short, long, example string) *cobra.Command {
	var link string
	var dryRun bool
	cmd := &cobra.Command{
		Use:     strings.TrimSuffix(op, "-mirror") + " TOPIC... --link LINK",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A failback reads and may copy whole partitions: bounded by the command's context only.
			results, err := f.client().AlterMirrors(cmd.Context(), link, op, args,
				adminapi.AlterOptions{ValidateOnly: dryRun, IncludePartitionLevelTruncationData: true})
			if err != nil {
				return err
			}
			out := []failbackOut{}
			var failed []string
			for _, r := range results {
				code := ""
				if r.ErrorCode != nil {
					code = strconv.Itoa(*r.ErrorCode)
				}
				if r.Failed() {
					failed = append(failed, r.MirrorTopicName)
				}
				if len(r.PartitionLevelTruncationData) == 0 {
					out = append(out, failbackOut{MirrorTopicName: r.MirrorTopicName, Partition: -1, OffsetTruncatedTo: -1,
						DivergedTopicName: r.DivergedTopicName, ErrorMessage: r.Message(), ErrorCode: code})
				}
				for i, p := range r.PartitionLevelTruncationData {
					row := failbackOut{MirrorTopicName: r.MirrorTopicName, Partition: p.PartitionID, OffsetTruncatedTo: p.OffsetTruncatedTo,
						MessagesTruncated: p.MessagesTruncated, DivergedTopicName: r.DivergedTopicName}
					if i == 0 {
						row.ErrorMessage, row.ErrorCode = r.Message(), code
					}
					out = append(out, row)
				}
			}
			err = f.print(cmd.OutOrStdout(), out, func() error {
				t := table{header: []string{"Mirror Topic Name", "Partition", "Offset Truncated To", "Messages Truncated",
					"Diverged Topic Name", "Error Message", "Error Code"}}
				for _, r := range out {
					if r.Partition < 0 {
						t.add(r.MirrorTopicName, "-", "-", "-", r.DivergedTopicName, r.ErrorMessage, r.ErrorCode)
						continue
					}
					t.add(r.MirrorTopicName, r.Partition, r.OffsetTruncatedTo, r.MessagesTruncated, r.DivergedTopicName, r.ErrorMessage, r.ErrorCode)
				}
				return t.write(cmd.OutOrStdout())
			})
			if err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("%s failed for %s (see the table above)", strings.TrimSuffix(op, "-mirror"), strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "the mirror topics' link (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and show, per partition, what the operation would do; change nothing")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}
