// Copy fidelity counters from the daemon's Prometheus text: how many batches went byte for byte, how many were
// rewritten, and how many offsets were filled, per mirror topic (the per-partition series summed).

export const fidelity = [
  ["clusterlink_mirror_partition_records_total", "Records copied"],
  ["clusterlink_mirror_partition_bytes_total", "Bytes copied"],
  ["clusterlink_mirror_partition_batches_raw_total", "Batches byte for byte"],
  ["clusterlink_mirror_partition_batches_pipelined_total", "of which pipelined"],
  ["clusterlink_mirror_partition_batches_rewritten_total", "Batches with producer fields cleared"],
  ["clusterlink_mirror_partition_batches_reencoded_total", "Compacted runs re-encoded"],
  ["clusterlink_mirror_partition_batches_append_time_total", "LogAppendTime batches rewritten"],
  ["clusterlink_mirror_partition_filler_offsets_total", "Filler offsets"],
  ["clusterlink_mirror_partition_marker_offsets_total", "Marker offsets"],
  ["clusterlink_mirror_partition_verified_offsets_total", "Offsets verified in the background"],
  ["clusterlink_mirror_partition_divergences_total", "Divergences found"],
];

const wanted = new Set(fidelity.map(f => f[0]));
const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/;
const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;

// parseFidelity returns a Map from "link/topic" to {metric name: sum over partitions}.
export function parseFidelity(text) {
  const out = new Map();
  for (const line of (text || "").split("\n")) {
    const m = line.match(sample);
    if (!m || !wanted.has(m[1])) continue;
    const labels = {};
    for (const [, k, v] of m[2].matchAll(label)) labels[k] = v.replace(/\\(.)/g, "$1");
    const key = labels.link + "/" + labels.mirror_topic;
    const sums = out.get(key) || {};
    sums[m[1]] = (sums[m[1]] || 0) + Number(m[3]);
    out.set(key, sums);
  }
  return out;
}
