package daemon

import (
	"context"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/link"
)

// failback runs a failback operation (adminapi.FailbackOps) on each topic; the link's slot is held shared. The
// results carry Confluent's messages_truncated (the divergent records, all partitions) and, when asked,
// partition_level_truncation_data, plus clusterlink's diverged_topic_name, where those records are saved.
func failback(ctx context.Context, l *link.Link, op string, topics []string, o adminapi.AlterOptions) ([]adminapi.AlterMirrorResult, error) {
	if o.Force {
		return nil, adminapi.BadRequest("force applies to promote and failover only, not %s", op)
	}
	run := map[string]func(context.Context, string, link.FailbackOptions) (link.FailbackResult, error){
		adminapi.OpReverseAndStart: l.ReverseAndStart, adminapi.OpReverseAndPause: l.ReverseAndPause,
		adminapi.OpTruncateAndRestore: l.TruncateAndRestore,
	}[op]
	var out []adminapi.AlterMirrorResult
	for _, topic := range topics {
		fr, err := run(ctx, topic, link.FailbackOptions{ValidateOnly: o.ValidateOnly})
		res := adminapi.AlterMirrorResult{MirrorTopicName: topic, MirrorLags: mirrorLags(fr.Mirror), DivergedTopicName: fr.DivergedTopic}
		if op == adminapi.OpTruncateAndRestore && len(fr.Partitions) > 0 {
			var total int64
			for _, p := range fr.Partitions {
				total += p.Divergent
			}
			res.MessagesTruncated = &total
		}
		if o.IncludePartitionLevelTruncationData {
			for _, p := range fr.Partitions {
				res.PartitionLevelTruncationData = append(res.PartitionLevelTruncationData, adminapi.PartitionTruncation{
					PartitionID: p.Partition, OffsetTruncatedTo: p.TruncatedTo, MessagesTruncated: p.Divergent})
			}
		}
		if err != nil {
			res.Fail(apiError(err))
		}
		out = append(out, res)
	}
	return out, nil
}
