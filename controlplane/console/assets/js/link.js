// The link detail page: the link's state, its tasks and their states, and its configs as `link describe` shows
// them (sensitive values come masked from the daemon and stay masked), each editable through configs:alter with a
// dry run.

import * as api from "./api.js";
import { h, replace, table, state, errorBox } from "./dom.js";

export async function linkPage(main, name) {
  const [l, configs] = await Promise.all([api.link(name), api.linkConfigs(name)]);
  const tasks = table("Tasks", ["Task Name", "State", "Errors"], (l.tasks || []).map(t => [
    t.task_name, state(t.state), (t.errors || []).map(e => `${e.error_code}: ${e.error_message}`).join("; ")]), { id: "tasks-table" });
  const editor = h("div", { id: "config-editor", "aria-live": "polite" });
  const rows = configs.map(c => [
    h("code", {}, c.name),
    c.sensitive && c.value ? h("span", { class: "masked", title: "sensitive: the daemon never sends it" }, "[hidden]") : h("span", { class: "value" }, c.value),
    String(c.read_only), String(c.sensitive), c.source, (c.synonyms || []).join(", "),
    c.read_only ? "" : h("button", { type: "button", class: "small", "data-config": c.name, "aria-label": "Edit " + c.name,
      onclick: () => edit(editor, name, c, () => linkPage(main, name)) }, "Edit"),
  ]);
  const onlySet = h("input", { type: "checkbox", id: "f-only-set" });
  const configTable = table(null, ["Config Name", "Config Value", "Read Only", "Sensitive", "Source", "Synonyms", ""], rows,
    { id: "configs-table", "aria-labelledby": "configs-title" });
  configTable.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.source = configs[i].source; });
  onlySet.addEventListener("change", () => configTable.classList.toggle("only-set", onlySet.checked));
  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/links" }, "Links"), " / ", name),
    h("h1", {}, "Link ", name),
    h("dl", { class: "facts" },
      h("dt", {}, "State"), h("dd", {}, state(l.link_state)),
      h("dt", {}, "Error"), h("dd", {}, l.link_error === "NO_ERROR" ? "none" : `${l.link_error}: ${l.link_error_message}`),
      h("dt", {}, "Link ID"), h("dd", {}, l.link_id),
      h("dt", {}, "Source cluster"), h("dd", {}, l.source_cluster_id || "—"),
      h("dt", {}, "Mirror topics"), h("dd", {}, h("a", { href: "#/mirrors?link=" + encodeURIComponent(name) }, `${(l.topic_names || []).length} (watch them)`))),
    tasks,
    h("h2", { id: "configs-title" }, "Configs"),
    h("label", { class: "inline", for: onlySet.id }, onlySet, " Only the configs set on this link"),
    editor,
    configTable);
}

function edit(editor, link, c, rerender) {
  const input = c.sensitive
    ? h("input", { id: "edit-value", type: "password", autocomplete: "new-password", "aria-describedby": "edit-problems" })
    : h("textarea", { id: "edit-value", rows: c.value.length > 60 ? 3 : 1, value: c.value, spellcheck: false, "aria-describedby": "edit-problems" });
  const problems = h("div", { id: "edit-problems", class: "problems", "aria-live": "polite" });
  const status = h("p", { role: "status" });
  const run = async (op, dry) => {
    replace(problems);
    replace(status);
    const data = op === "DELETE" ? [{ name: c.name, operation: "DELETE" }] : [{ name: c.name, value: input.value }];
    try {
      await api.alterConfigs(link, data, dry);
      if (dry) replace(status, `Dry run: the daemon accepts ${c.name}${op === "DELETE" ? " back at its default" : ""}.`);
      else await rerender(); // the daemon's configs, as it now has them
    } catch (e) {
      input.setAttribute("aria-invalid", "true");
      replace(problems, errorBox(e.message));
    }
  };
  const form = h("form", { class: "edit", id: "edit-form" },
    h("label", { for: "edit-value" }, "New value of ", h("code", {}, c.name)),
    input,
    c.sensitive ? h("p", { class: "help" }, "Sensitive: the current value is not shown. Type the new one.") : null,
    problems,
    h("div", { class: "buttons" },
      h("button", { type: "button", id: "edit-dry", onclick: () => run("SET", true) }, "Dry run"),
      h("button", { type: "submit", id: "edit-save", class: "primary" }, "Save"),
      h("button", { type: "button", id: "edit-reset", onclick: () => run("DELETE", false) }, "Reset to default"),
      h("button", { type: "button", id: "edit-cancel", onclick: () => replace(editor) }, "Cancel")),
    status);
  form.addEventListener("submit", ev => { ev.preventDefault(); run("SET", false); });
  replace(editor, form);
  input.focus();
}
