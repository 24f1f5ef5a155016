// A mirror's recent lag and throughput as a small inline SVG: two lines, each scaled to its own maximum, drawn with
// the DOM (no library, nothing the page's content security policy would refuse).

import { h } from "./dom.js";

const W = 132, H = 34, PAD = 2;

function points(values) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? (W - 2 * PAD) / (values.length - 1) : 0;
  return values.map((v, i) => `${(PAD + i * step).toFixed(1)},${(H - PAD - (v / max) * (H - 2 * PAD)).toFixed(1)}`).join(" ");
}

// sparkline draws samples ({lag, rate}) oldest first; label says the latest values in words.
export function sparkline(samples, label) {
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": label, class: "spark" },
    h("svg:title", {}, label),
    h("svg:rect", { x: 0, y: 0, width: W, height: H, class: "spark-bg" }));
  if (samples.length > 0) {
    svg.append(h("svg:polyline", { points: points(samples.map(s => Math.max(0, s.rate))), class: "spark-rate" }));
    svg.append(h("svg:polyline", { points: points(samples.map(s => Math.max(0, s.lag))), class: "spark-lag" }));
  }
  return svg;
}
