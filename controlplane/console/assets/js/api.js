// The admin API, as the console calls it: the same Confluent REST v3 paths as the CLI. Credentials are the
// browser's (HTTP Basic with the token as the password, or a client certificate) or, after a sign-in, the token
// from this tab's session storage sent as a bearer token. Nothing secret ever goes into a URL.

const tokenKey = "clusterlink.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let clusterId = "-";
let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }
export function setToken(token) { sessionStorage.setItem(tokenKey, token); }
export function clusterPath() { return "/kafka/v3/clusters/" + encodeURIComponent(clusterId); }
export function linkPath(link) { return clusterPath() + "/links/" + encodeURIComponent(link); }

// request sends one call and returns its JSON answer (null for no content); a failure is an ApiError with the
// API's message, which lists every problem of a refused config, one a line.
export async function request(method, path, { query, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, String(v));
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "the daemon did not answer: " + e.message);
  }
  if (resp.status === 401) onUnauthorized();
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const msg = data && typeof data === "object" && data.message ? data.message : `${resp.status} ${resp.statusText}`;
    throw new ApiError(resp.status, msg);
  }
  return data;
}

export async function loadCluster() {
  const list = await request("GET", "/kafka/v3/clusters");
  clusterId = list.data[0].cluster_id;
  return clusterId;
}

export const links = () => request("GET", clusterPath() + "/links").then(r => r.data);
export const link = name => request("GET", linkPath(name));
export const linkConfigs = name => request("GET", linkPath(name) + "/configs").then(r => r.data);
export const mirrors = (name = "-") => request("GET", linkPath(name) + "/mirrors").then(r => r.data);

export function createLink(name, sourceClusterId, configs, validateOnly) {
  const body = { configs };
  if (sourceClusterId) body.source_cluster_id = sourceClusterId;
  return request("POST", clusterPath() + "/links", { query: { link_name: name, validate_only: validateOnly }, body });
}

export function alterConfigs(name, data, validateOnly) {
  return request("PUT", linkPath(name) + "/configs:alter", { query: { validate_only: validateOnly }, body: { data } });
}

export function createMirror(name, req, validateOnly) {
  return request("POST", linkPath(name) + "/mirrors", { query: { validate_only: validateOnly }, body: req });
}

// alterMirrors runs promote, failover, pause, resume or restart; the answer has one result per topic.
export function alterMirrors(name, op, topics) {
  return request("POST", linkPath(name) + "/mirrors:" + op, { body: { mirror_topic_names: topics } }).then(r => r.data);
}

export const verifyMirror = (name, topic) => request("GET", linkPath(name) + "/mirrors/" + encodeURIComponent(topic) + "/verify");

// metrics reads the daemon's Prometheus text (same listener, same rule); null when it is not served to us.
export async function metrics() {
  const headers = {};
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers.Authorization = "Bearer " + token;
  try {
    const resp = await fetch("/metrics", { headers, credentials: "same-origin", cache: "no-store" });
    return resp.ok ? await resp.text() : null;
  } catch {
    return null;
  }
}
