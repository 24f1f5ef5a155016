// The Links page (every link, its state and the tasks in error) and the Create link page (the origin document's
// form: source, credentials, then all topics, all consumer offsets, all ACLs), with a dry run.

import * as api from "./api.js";
import { h, replace, table, state, errorBox } from "./dom.js";
import { choices, buildConfigs, problemsByField } from "./linkform.js";

export async function linksPage(main) {
  const list = await api.links();
  const rows = list.map(l => {
    const bad = (l.tasks || []).filter(t => t.state === "IN_ERROR");
    return [
      h("a", { href: "#/links/" + encodeURIComponent(l.link_name) }, l.link_name),
      l.link_id,
      l.source_cluster_id,
      state(l.link_state),
      l.link_error && l.link_error !== "NO_ERROR" ? `${l.link_error}: ${l.link_error_message}` : "",
      bad.length === 0 ? "none" : h("ul", { class: "plain" }, bad.map(t =>
        h("li", {}, h("strong", {}, t.task_name), " ", (t.errors || []).map(e => `${e.error_code}: ${e.error_message}`).join("; ")))),
      String((l.topic_names || []).length),
    ];
  });
  replace(main,
    h("h1", {}, "Links"),
    list.length === 0 ? h("p", {}, "No links yet. ", h("a", { href: "#/create" }, "Create one."))
      : table(null, ["Link Name", "Link ID", "Source Cluster", "State", "Error", "Tasks In Error", "Mirror Topics"], rows, { id: "links-table" }));
}

// field builds a labelled control with its help text and the slot its problems go to.
function field(id, label, control, help) {
  control.id = "f-" + id;
  const describedBy = [help ? "help-" + id : null, "err-" + id].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describedBy);
  return h("div", { class: "field", "data-field": id },
    h("label", { for: control.id }, label),
    control,
    help ? h("p", { class: "help", id: "help-" + id }, help) : null,
    h("div", { class: "problems", id: "err-" + id, "aria-live": "polite" }));
}

function choiceFieldset(c) {
  const name = "choice-" + c.key;
  const radio = (value, label) => h("label", { class: "inline" },
    h("input", { type: "radio", name, value, checked: value === "none", id: `f-${c.key}-${value}` }), " ", label);
  const custom = h("textarea", { id: "f-" + c.key + "Custom", name: c.key + "Custom", rows: 3, spellcheck: false,
    value: c.allJSON, disabled: true, "aria-describedby": "help-" + c.key + " err-" + c.key });
  const fs = h("fieldset", { class: "choice", "data-field": c.key, "aria-describedby": "err-" + c.key },
    h("legend", {}, c.legend),
    h("div", { class: "radios" }, radio("none", "None"), radio("all", c.all), radio("custom", "Custom filter")),
    h("label", { for: custom.id, class: "sub" }, `${c.filters} (JSON)`),
    custom,
    h("p", { class: "help", id: "help-" + c.key }, c.help, " Sets ", h("code", {}, c.enable), " and ", h("code", {}, c.filters), "."),
    h("div", { class: "problems", id: "err-" + c.key, "aria-live": "polite" }));
  fs.addEventListener("change", () => { custom.disabled = fs.querySelector(`input[name=${name}]:checked`).value !== "custom"; });
  return fs;
}

export function createPage(main) {
  const protocol = h("select", { name: "protocol" },
    ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].map(p => h("option", { value: p }, p)));
  const mechanism = h("select", { name: "mechanism" },
    ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].map(m => h("option", { value: m }, m)));
  const sasl = h("div", { class: "sasl", hidden: true },
    field("mechanism", "SASL mechanism (sasl.mechanism)", mechanism),
    field("username", "Username", h("input", { name: "username", autocomplete: "off", spellcheck: false })),
    field("password", "Password (becomes sasl.jaas.config)", h("input", { name: "password", type: "password", autocomplete: "new-password" }),
      "Sent once, in the request body; the daemon never sends it back (it needs state.encryption.key to keep it)."));
  protocol.addEventListener("change", () => { sasl.hidden = !protocol.value.startsWith("SASL_"); });
  const general = h("div", { id: "err-general", "aria-live": "polite" });
  const result = h("div", { id: "create-result", "aria-live": "polite" });
  const form = h("form", { id: "create-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Link"),
      field("name", "Link name", h("input", { name: "name", required: true, autocomplete: "off", spellcheck: false, autofocus: true })),
      field("sourceId", "Source cluster id (optional)", h("input", { name: "sourceId", autocomplete: "off", spellcheck: false }))),
    h("fieldset", {}, h("legend", {}, "Source cluster"),
      field("bootstrap", "Bootstrap servers (bootstrap.servers)", h("input", { name: "bootstrap", required: true, spellcheck: false,
        placeholder: "broker1:9092,broker2:9092" }), "A comma-separated list of host:port."),
      field("protocol", "Security protocol (security.protocol)", protocol),
      sasl),
    h("fieldset", {}, h("legend", {}, "We link"), choices.map(choiceFieldset)),
    h("fieldset", {}, h("legend", {}, "Other link configs"),
      field("extra", "More configs, one name=value a line", h("textarea", { name: "extra", rows: 3, spellcheck: false,
        placeholder: "topic.config.sync.ms=5000\ncluster.link.prefix=dr." }), "Any link config with Confluent's name.")),
    general,
    h("div", { class: "buttons" },
      h("button", { type: "submit", name: "dry", value: "dry", id: "dry-run" }, "Dry run"),
      h("button", { type: "submit", name: "create", value: "create", id: "create", class: "primary" }, "Create link")),
    result);

  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const dry = ev.submitter && ev.submitter.value === "dry";
    const fd = new FormData(form);
    const v = Object.fromEntries(fd.entries());
    for (const c of choices) {
      v[c.key] = fd.get("choice-" + c.key);
      v[c.key + "Custom"] = form.querySelector("#f-" + c.key + "Custom").value;
    }
    const built = buildConfigs(v);
    form.querySelectorAll(".problems").forEach(p => p.replaceChildren());
    form.querySelectorAll("[aria-invalid]").forEach(el => el.removeAttribute("aria-invalid"));
    replace(general);
    replace(result);
    const show = problems => {
      let first = null;
      for (const [f, lines] of Object.entries(problems)) {
        if (lines.length === 0) continue;
        const slot = f === "general" ? general : form.querySelector("#err-" + f);
        replace(slot, lines.map(l => h("p", { class: "problem" }, l)));
        const ctl = form.querySelector("#f-" + f) || form.querySelector(`[data-field="${f}"]`);
        if (ctl && f !== "general") ctl.setAttribute("aria-invalid", "true");
        first = first || (ctl && ctl.matches("fieldset") ? ctl.querySelector("input:checked") : ctl);
      }
      if (first) first.focus();
    };
    const local = { general: [] };
    if (!v.name.trim()) local.name = ["link name: required"];
    if (built.problems.length) local.extra = built.problems;
    if (Object.keys(local).length > 1) {
      show(local);
      return;
    }
    const buttons = form.querySelectorAll("button");
    buttons.forEach(b => { b.disabled = true; });
    try {
      await api.createLink(v.name.trim(), (v.sourceId || "").trim(), built.configs, dry);
      if (dry) {
        replace(result, h("p", { class: "ok", role: "status" }, `Dry run: the daemon accepts link ${v.name.trim()} with these ${built.configs.length} configs.`),
          configList(built.configs));
      } else {
        location.hash = "#/links/" + encodeURIComponent(v.name.trim());
      }
    } catch (e) {
      if (e.status === 400 || e.status === 409) show(problemsByField(e.message, { ...built.field }));
      else replace(general, errorBox(e.message));
    } finally {
      buttons.forEach(b => { b.disabled = false; });
    }
  });

  replace(main, h("h1", {}, "Create link"),
    h("p", {}, "The destination is the cluster this daemon writes to. Source credentials are given here once; ",
      "use Dry run to have the daemon check every config without creating anything."),
    form);
}

function configList(configs) {
  return table("Configs the link will have", ["Config Name", "Config Value"],
    configs.map(c => [c.name, c.name === "sasl.jaas.config" ? "[hidden]" : c.value]));
}
