// The Mirrors page: the `mirror list` columns, live (polled every 2 s, updated in place so that focus and open
// panels stay), per-partition lag in records and seconds, the catch-up estimate, a lag/throughput chart per
// mirror, copy fidelity counters, and the operations on mirrors, each confirmed first, with the result in words.

import * as api from "./api.js";
import { h, replace, table, state, errorBox, confirm, fmtMs, lagRecords, lagSeconds, catchUp } from "./dom.js";
import { sparkline } from "./chart.js";
import { fidelity, parseFidelity } from "./metrics.js";

const POLL_MS = 2000;
const HISTORY = 60;

const operations = {
  pause: { label: "Pause", done: "paused",
    text: t => `Pause mirroring ${t}. Nothing is copied until you resume it; resume continues where it stopped.` },
  resume: { label: "Resume", done: "resumed", text: t => `Resume mirroring ${t} from where it stopped.` },
  promote: { label: "Promote", done: "promoted",
    text: t => `Promote ${t}: wait until it has every record the source has now, sync consumer offsets a last time, then make it a writable topic (STOPPED). Mirroring of ${t} ends for good.` },
  failover: { label: "Failover", done: "failed over",
    text: t => `Fail over ${t} now, without waiting for the source: records not yet copied stay behind. It becomes a writable topic (STOPPED) and mirroring of ${t} ends for good.` },
  restart: { label: "Restart", done: "restarted",
    text: t => `Restart ${t} out of FAILED: the daemon checks each failed partition against the source before copying again.` },
  verify: { label: "Verify", done: "verified",
    text: t => `Verify ${t}: read it and its source on both clusters and compare them offset by offset. This reads the whole topic.` },
};

export function mirrorsPage(main, params) {
  const only = params.get("link") || "";
  const rows = new Map(); // "link/topic" → row state
  const tbody = h("tbody", {});
  // Not a live region: it changes every 2 s, which a screen reader would read out each time.
  const status = h("p", { class: "live", id: "mirrors-status" });
  const linkSelect = h("select", { id: "f-filter-link", name: "link" }, h("option", { value: "" }, "every link"));
  linkSelect.addEventListener("change", () => { location.hash = "#/mirrors" + (linkSelect.value ? "?link=" + encodeURIComponent(linkSelect.value) : ""); });
  const createForm = createMirrorForm();
  replace(main,
    h("h1", {}, "Mirrors"),
    h("div", { class: "toolbar" },
      h("label", { for: linkSelect.id }, "Show mirrors of "), linkSelect, status),
    h("div", { class: "scroll" }, h("table", { id: "mirrors-table" },
      h("thead", {}, h("tr", {}, ["Link Name", "Mirror Topic Name", "Num Partition", "Max Per Partition Mirror Lag",
        "Source Topic Name", "Mirror Status", "Status Time Ms", "Max Time Lag", "Catch Up", "Lag / Throughput", ""]
        .map(c => h("th", { scope: "col" }, c)))),
      tbody)),
    h("p", { class: "help" }, "The chart shows the last two minutes: lag (records, dark) and throughput (records/s, light), each on its own scale."),
    createForm.el);

  api.links().then(list => {
    for (const l of list) linkSelect.append(h("option", { value: l.link_name, selected: l.link_name === only }, l.link_name));
    createForm.setLinks(list.map(l => l.link_name), only);
  }).catch(() => {});

  let stopped = false;
  let timer = null;
  async function poll() {
    try {
      const mirrors = await api.mirrors(only || "-");
      const wantMetrics = [...rows.values()].some(r => r.open);
      const fid = wantMetrics ? parseFidelity(await api.metrics()) : null;
      if (stopped) return;
      update(mirrors, fid);
      replace(status, `Updated ${new Date().toLocaleTimeString()} · ${mirrors.length} mirror topic${mirrors.length === 1 ? "" : "s"}`);
      status.classList.remove("stale");
    } catch (e) {
      if (stopped) return;
      replace(status, "Not updated: " + e.message);
      status.classList.add("stale");
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  function update(mirrors, fid) {
    const now = Date.now();
    const seen = new Set();
    let added = false;
    for (const m of mirrors) {
      const key = m.link_name + "/" + m.mirror_topic_name;
      seen.add(key);
      let r = rows.get(key);
      if (!r) {
        r = newRow(m);
        rows.set(key, r);
        added = true;
      }
      r.mirror = m;
      const lags = m.mirror_lags || [];
      const known = lags.filter(l => l.lag >= 0);
      const leo = lags.reduce((s, l) => s + Math.max(0, l.mirror_log_end_offset), 0);
      const prev = r.history[r.history.length - 1];
      const rate = prev && now > prev.t ? Math.max(0, (leo - prev.leo) * 1000 / (now - prev.t)) : 0;
      const lagSum = known.reduce((s, l) => s + l.lag, 0);
      r.history.push({ t: now, leo, lag: lagSum, rate });
      if (r.history.length > HISTORY) r.history.shift();
      const maxLag = lags.some(l => l.lag < 0) ? -1 : Math.max(0, ...lags.map(l => l.lag));
      const timeLag = lags.some(l => l.time_lag_ms < 0) ? -1 : Math.max(0, ...lags.map(l => l.time_lag_ms));
      const eta = lags.some(l => l.catch_up_seconds < 0 && l.lag !== 0) ? -1 : Math.max(0, ...lags.map(l => Math.max(0, l.catch_up_seconds)));
      const c = r.cells;
      c.partitions.textContent = String(m.num_partitions);
      c.lag.textContent = lagRecords(maxLag);
      c.source.textContent = m.source_topic_name;
      if (c.status.dataset.state !== m.mirror_status) replace(c.status, state(m.mirror_status));
      c.status.dataset.state = m.mirror_status;
      c.time.textContent = String(m.state_time_ms);
      c.time.title = fmtMs(m.state_time_ms);
      c.timeLag.textContent = lagSeconds(timeLag);
      c.eta.textContent = m.mirror_status === "ACTIVE" || m.mirror_status === "PAUSED" ? catchUp(eta) : "";
      replace(c.chart, sparkline(r.history, `${m.mirror_topic_name}: lag ${lagSum} records, ${Math.round(rate)} records/s`));
      r.tr.dataset.status = m.mirror_status;
      r.tr.dataset.maxLag = String(maxLag);
      if (r.open) renderDetail(r, fid);
    }
    for (const [key, r] of rows) {
      if (!seen.has(key)) {
        r.tr.remove();
        r.detail.remove();
        rows.delete(key);
      }
    }
    if (added) {
      for (const m of mirrors) {
        const r = rows.get(m.link_name + "/" + m.mirror_topic_name);
        tbody.append(r.tr, r.detail);
      }
    }
    if (mirrors.length === 0 && !tbody.querySelector(".empty")) {
      tbody.append(h("tr", { class: "empty" }, h("td", { colSpan: 11 }, "No mirror topics yet.")));
    } else if (mirrors.length > 0) {
      tbody.querySelectorAll(".empty").forEach(e => e.remove());
    }
  }

  function newRow(m) {
    // data-label names each cell where a narrow screen shows a row as a card.
    const td = (label, cls) => h("td", { "data-label": label, class: cls });
    const cells = {
      partitions: td("Num Partition"), lag: td("Max Per Partition Mirror Lag", "num"), source: td("Source Topic Name"),
      status: td("Mirror Status"), time: td("Status Time Ms", "num"), timeLag: td("Max Time Lag", "num"),
      eta: td("Catch Up"), chart: td("Lag / Throughput"),
    };
    const r = { cells, history: [], open: false, mirror: m };
    const panelId = "detail-" + m.link_name + "-" + m.mirror_topic_name;
    const toggle = h("button", { type: "button", class: "small", "aria-expanded": "false", "aria-controls": panelId,
      "aria-label": "Details and actions for " + m.mirror_topic_name, "data-topic": m.mirror_topic_name }, "Details");
    r.tr = h("tr", { "data-topic": m.mirror_topic_name, "data-link": m.link_name },
      h("td", { "data-label": "Link Name" }, m.link_name), h("th", { scope: "row" }, m.mirror_topic_name), cells.partitions,
      cells.lag, cells.source, cells.status, cells.time, cells.timeLag, cells.eta, cells.chart, h("td", { class: "toggle" }, toggle));
    r.panel = h("div", { class: "panel", id: panelId });
    r.detail = h("tr", { class: "detail", hidden: true }, h("td", { colSpan: 11 }, r.panel));
    r.result = h("div", { class: "result", "aria-live": "polite", id: "result-" + m.mirror_topic_name });
    r.partitions = h("div", {});
    r.fidelity = h("div", {});
    r.errors = h("div", {});
    r.panel.append(
      h("h3", {}, m.mirror_topic_name, " on link ", m.link_name),
      r.errors,
      h("div", { class: "actions", role: "group", "aria-label": "Operations on " + m.mirror_topic_name },
        Object.entries(operations).map(([op, o]) => h("button", { type: "button", "data-op": op,
          class: op === "promote" || op === "failover" ? "danger" : "", onclick: () => run(r, op) }, o.label))),
      r.result, r.partitions, r.fidelity);
    toggle.addEventListener("click", async () => {
      r.open = !r.open;
      toggle.setAttribute("aria-expanded", String(r.open));
      r.detail.hidden = !r.open;
      if (r.open) renderDetail(r, parseFidelity(await api.metrics()));
    });
    return r;
  }

  async function run(r, op) {
    const m = r.mirror;
    const o = operations[op];
    if (!(await confirm(`${o.label} ${m.mirror_topic_name}?`, o.text(m.mirror_topic_name), o.label))) return;
    replace(r.result, h("p", { role: "status" }, `${o.label} ${m.mirror_topic_name}: waiting for the daemon…`));
    try {
      if (op === "verify") {
        replace(r.result, verification(await api.verifyMirror(m.link_name, m.mirror_topic_name)));
        return;
      }
      const results = await api.alterMirrors(m.link_name, op, [m.mirror_topic_name]);
      replace(r.result, alterResults(results, o));
    } catch (e) {
      replace(r.result, errorBox(`${o.label} ${m.mirror_topic_name} was refused (${e.status}): ${e.message}`));
    }
  }

  poll();
  return () => { stopped = true; clearTimeout(timer); };
}

function renderDetail(r, fid) {
  const m = r.mirror;
  const errs = m.mirror_state_transition_errors || [];
  replace(r.errors, m.mirror_topic_error !== "NO_ERROR" || errs.length
    ? errorBox([m.mirror_topic_error !== "NO_ERROR" ? "Mirror error: " + m.mirror_topic_error : null,
      ...errs.map(e => `${e.error_code}: ${e.error_message}`)].filter(Boolean).join("\n")) : null);
  const lags = m.mirror_lags || [];
  replace(r.partitions, lags.length === 0 ? h("p", { class: "help" }, `No partition positions: the mirror is ${m.mirror_status}.`) : table("Partitions", ["Partition", "Partition Mirror Lag", "Time Lag", "Catch Up",
    "Last Source Fetch Offset", "Source High Watermark", "Mirror Log End Offset", "Error"],
  lags.map(l => [String(l.partition), lagRecords(l.lag), lagSeconds(l.time_lag_ms),
    l.lag === 0 ? "caught up" : catchUp(l.catch_up_seconds), String(l.last_source_fetch_offset),
    String(l.source_high_watermark), String(l.mirror_log_end_offset),
    l.error_code ? `${l.error_code}: ${l.error_message || ""}` : ""]), { class: "partitions" }));
  const sums = fid && fid.get(m.link_name + "/" + m.mirror_topic_name);
  replace(r.fidelity, sums ? h("div", {}, h("h4", {}, "Copy fidelity"),
    h("dl", { class: "facts fidelity" }, fidelity.flatMap(([name, label]) => [h("dt", {}, label), h("dd", {}, String(sums[name] ?? 0))])))
    : fid ? h("p", { class: "help" }, "No copy counters yet.") : null);
}

// alterResults shows an operation's answer as the CLI's promote table, with each refusal in words.
function alterResults(results, o) {
  const lines = [];
  for (const res of results) {
    if (res.error_code !== null || res.error_message !== null) {
      lines.push(errorBox(`${res.mirror_topic_name} was not ${o.done} (${res.error_code}): ${res.error_message}`));
    } else {
      lines.push(h("p", { class: "ok", role: "status" }, `${res.mirror_topic_name} ${o.done}.`));
    }
  }
  const rows = results.flatMap(res => (res.mirror_lags && res.mirror_lags.length ? res.mirror_lags : [null]).map(l => [
    res.mirror_topic_name, l ? String(l.partition) : "", l ? lagRecords(l.lag) : "", res.error_message || "",
    res.error_code === null ? "" : String(res.error_code), l ? String(l.last_source_fetch_offset) : ""]));
  return h("div", {}, lines, table(null, ["Mirror Topic Name", "Partition", "Partition Mirror Lag", "Error Message",
    "Error Code", "Last Source Fetch Offset"], rows, { class: "op-result" }));
}

function verification(v) {
  return h("div", {},
    v.identical ? h("p", { class: "ok", role: "status" }, `${v.mirror_topic_name} is identical to ${v.source_topic_name} in every offset compared.`)
      : errorBox(`${v.mirror_topic_name} differs from ${v.source_topic_name}: see the partitions below.`),
    table("Verification", ["Partition", "From", "To", "Compared", "By Batch", "Batches Identical", "Differing",
      "Only On Source", "Only On Mirror", "Not Yet Copied", "Pending Compaction", "First Difference", "Detail"],
    v.partitions.map(p => [p.partition, p.from_offset, p.to_offset, p.offsets_compared, p.offsets_by_batch,
      p.batches_identical, p.offsets_differing, p.offsets_only_on_source, p.offsets_only_on_mirror,
      p.offsets_not_yet_copied, p.offsets_pending_compaction, p.first_difference < 0 ? "none" : p.first_difference,
      p.detail || ""].map(String)), { class: "verify-result" }));
}

// createMirrorForm creates a mirror topic on a link (confirmed, with a dry run first if you like).
function createMirrorForm() {
  const link = h("select", { id: "f-mirror-link", name: "link", required: true });
  const source = h("input", { id: "f-mirror-source", name: "source", required: true, spellcheck: false, autocomplete: "off",
    "aria-describedby": "err-mirror" });
  const mirror = h("input", { id: "f-mirror-name", name: "mirror", spellcheck: false, autocomplete: "off",
    "aria-describedby": "help-mirror-name err-mirror" });
  const problems = h("div", { id: "err-mirror", class: "problems", "aria-live": "polite" });
  const form = h("form", { id: "mirror-form", class: "compact", novalidate: true },
    h("h2", {}, "Create a mirror topic"),
    h("div", { class: "field" }, h("label", { for: link.id }, "Link"), link),
    h("div", { class: "field" }, h("label", { for: source.id }, "Source topic name"), source),
    h("div", { class: "field" }, h("label", { for: mirror.id }, "Mirror topic name (optional)"), mirror,
      h("p", { class: "help", id: "help-mirror-name" }, "Defaults to cluster.link.prefix + the source topic name.")),
    problems,
    h("div", { class: "buttons" },
      h("button", { type: "submit", value: "dry" }, "Dry run"),
      h("button", { type: "submit", value: "create", class: "primary" }, "Create mirror")));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const dry = ev.submitter && ev.submitter.value === "dry";
    replace(problems);
    if (!source.value.trim()) {
      replace(problems, h("p", { class: "problem" }, "source topic name: required"));
      source.focus();
      return;
    }
    const req = { source_topic_name: source.value.trim() };
    if (mirror.value.trim()) req.mirror_topic_name = mirror.value.trim();
    const name = req.mirror_topic_name || req.source_topic_name;
    if (!dry && !(await confirm(`Create mirror ${name}?`, `Create the read-only mirror topic ${name} on the destination and copy ${req.source_topic_name} from link ${link.value} into it at the same offsets.`, "Create mirror"))) return;
    try {
      await api.createMirror(link.value, req, dry);
      replace(problems, h("p", { class: "ok", role: "status" }, dry ? `Dry run: the daemon would create mirror ${name}.` : `Mirror ${name} created; it appears in the table above.`));
    } catch (e) {
      replace(problems, errorBox(e.message));
    }
  });
  return {
    el: form,
    setLinks(names, only) {
      replace(link, names.map(n => h("option", { value: n, selected: n === only }, n)));
    },
  };
}
