// The create-link form's meaning, without the DOM: what the form's choices become as link configs (Confluent's
// names and filter JSON, as config/filters.go and config/aclfilters.go parse them), and which field each problem
// of the daemon's answer belongs to.

export const ALL_TOPICS = '{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}';
export const ALL_GROUPS = '{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}';
export const ALL_ACLS = '{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},' +
  '"accessFilter":{"operation":"any","permissionType":"any"}}]}';

// The three choices of the origin document's UI: each is off, "all", or a custom filter.
export const choices = [
  { key: "topics", legend: "Topics", all: "All topics", enable: "auto.create.mirror.topics.enable",
    filters: "auto.create.mirror.topics.filters", allJSON: ALL_TOPICS,
    help: "Mirror topics are created for every source topic the filter includes." },
  { key: "groups", legend: "Consumer offsets", all: "All consumer offsets", enable: "consumer.offset.sync.enable",
    filters: "consumer.offset.group.filters", allJSON: ALL_GROUPS,
    help: "Committed offsets of the groups the filter includes are synced to the destination." },
  { key: "acls", legend: "ACLs", all: "All ACLs", enable: "acl.sync.enable", filters: "acl.filters", allJSON: ALL_ACLS,
    help: "Source ACLs the filter includes are created on the destination." },
];

const loginModules = {
  PLAIN: "org.apache.kafka.common.security.plain.PlainLoginModule",
  "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
  "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
};

const quote = s => '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';

// jaasConfig is the sasl.jaas.config of a username and password, as Kafka's Java clients write it.
export function jaasConfig(mechanism, username, password) {
  return `${loginModules[mechanism]} required username=${quote(username)} password=${quote(password)};`;
}

// parseExtra reads "name=value" lines (blank lines and # comments skipped).
export function parseExtra(text) {
  const configs = [];
  const problems = [];
  (text || "").split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq <= 0) {
      problems.push(`line ${i + 1}: "${line.length > 40 ? line.slice(0, 40) + "…" : line}" is not name=value`);
      return;
    }
    configs.push({ name: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  });
  return { configs, problems };
}

// buildConfigs turns the form's values into the request's configs, and says which field each config came from
// (field ids: "bootstrap", "protocol", "mechanism", "password", "topics", "groups", "acls", "extra").
export function buildConfigs(v) {
  const configs = [];
  const field = {};
  const add = (name, value, from) => { configs.push({ name, value }); field[name] = from; };
  add("bootstrap.servers", v.bootstrap.trim(), "bootstrap");
  if (v.protocol && v.protocol !== "PLAINTEXT") add("security.protocol", v.protocol, "protocol");
  if (v.protocol && v.protocol.startsWith("SASL_")) {
    add("sasl.mechanism", v.mechanism, "mechanism");
    if (v.username || v.password) add("sasl.jaas.config", jaasConfig(v.mechanism, v.username, v.password), "password");
  }
  for (const c of choices) {
    const choice = v[c.key] || "none";
    if (choice === "none") continue;
    add(c.enable, "true", c.key);
    add(c.filters, choice === "all" ? c.allJSON : (v[c.key + "Custom"] || "").trim(), c.key);
  }
  const extra = parseExtra(v.extra);
  for (const c of extra.configs) {
    configs.push(c);
    if (!(c.name in field)) field[c.name] = "extra";
  }
  return { configs, field, problems: extra.problems };
}

const configName = /^[a-z][a-z0-9._-]*$/i;

// problemsByField splits the daemon's answer (one problem a line, each starting with the config it is about, as
// config.ParseLink writes them) into the fields they belong to; what names no field is under "general".
export function problemsByField(message, field) {
  const out = { general: [] };
  const put = (f, line) => { (out[f] = out[f] || []).push(line); };
  for (const line of message.split("\n").map(l => l.trim()).filter(Boolean)) {
    let names = [];
    const twice = line.match(/^config (\S+) is given twice/);
    if (twice) names = [twice[1]];
    else if (/^link name:/.test(line) || /^link \S+ already exists/.test(line) || /^link_name /.test(line)) {
      put("name", line);
      continue;
    } else {
      const head = line.split(": ")[0];
      if (head !== line) {
        const parts = head.split(", ").map(p => p.split("=")[0]);
        if (parts.every(p => configName.test(p) && p.includes("."))) names = parts;
      }
    }
    const fields = [...new Set(names.map(n => field[n]).filter(Boolean))];
    if (fields.length === 0) put("general", line);
    for (const f of fields) put(f, line);
  }
  return out;
}
