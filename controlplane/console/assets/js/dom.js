// Small DOM helpers: elements are built with properties and listeners, never from HTML strings, so nothing the
// daemon answers is ever parsed as markup and the page needs no inline script or style.

// h builds an element: attrs sets properties ("class" → className, "on*" → listeners, "data-*"/"aria-*" as
// attributes); children are nodes, strings or arrays of them.
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:") ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k.startsWith("data-") || k.startsWith("aria-") || el instanceof SVGElement || k === "for" || k === "role") el.setAttribute(k, v === true ? "" : v);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// table builds a table with a caption and column headers; rows are arrays of cells (nodes or text).
export function table(caption, columns, rows, attrs = {}) {
  return h("div", { class: "scroll" },
    h("table", attrs,
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(c => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map(r => h("tr", {}, r.map(c => h("td", {}, c)))))));
}

// state renders a Confluent state (ACTIVE, IN_ERROR, STOPPED, ...) as a labelled badge.
export function state(s) {
  const kind = /ERROR|FAILED|UNAVAILABLE/.test(s) ? "bad" : /PAUSED|PENDING/.test(s) ? "warn" : s === "ACTIVE" ? "ok" : "plain";
  return h("span", { class: "badge " + kind, "data-state": s }, s);
}

// confirm asks in a modal dialog (keyboard: Tab between the buttons, Esc cancels) and resolves to true on Confirm.
export function confirm(title, text, okLabel = "Confirm") {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise(resolve => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "cancel";
    dlg.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export function errorBox(message) {
  return h("div", { class: "error", role: "alert" }, message.split("\n").map(l => h("p", {}, l)));
}

export function fmtMs(ms) {
  if (!ms || ms <= 0) return "";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// lagRecords and lagSeconds show -1 (the daemon does not know yet) as "unknown".
export const lagRecords = n => (n < 0 ? "unknown" : String(n));
export function lagSeconds(ms) {
  if (ms < 0) return "unknown";
  return ms === 0 ? "0 s" : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + " s";
}
export function catchUp(s) {
  if (s < 0) return "unknown";
  if (s === 0) return "caught up";
  if (s < 120) return Math.ceil(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}
