// The console's entry: finds the destination cluster, routes the page in the URL's fragment (#/links,
// #/links/NAME, #/create, #/mirrors?link=NAME: names only, never a secret) and shows a sign-in when the daemon
// answers 401.

import * as api from "./api.js";
import { errorBox, replace } from "./dom.js";
import { linksPage, createPage } from "./links.js";
import { linkPage } from "./link.js";
import { mirrorsPage } from "./mirrors.js";

const main = document.getElementById("main");
const signin = document.getElementById("signin");
let stopPage = null;

api.setUnauthorizedHandler(() => {
  signin.hidden = false;
  document.getElementById("signin-token").focus();
});

document.getElementById("signin-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const input = document.getElementById("signin-token");
  api.setToken(input.value);
  input.value = "";
  signin.hidden = true;
  start();
});

// route renders the page of the URL's fragment into a new view and shows it only if no later route began
// meanwhile (a page that waits for the daemon must not replace the page the user went to next).
let routes = 0;
async function route() {
  const gen = ++routes;
  if (stopPage) stopPage();
  stopPage = null;
  const [path, query] = (location.hash.slice(1) || "/links").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const page = parts[0] || "links";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === page && parts.length === 1) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = "clusterlink · " + (parts.length > 1 ? parts[1] : page);
  const view = document.createElement("div");
  let stop = null;
  try {
    if (page === "links" && parts.length === 2) await linkPage(view, parts[1]);
    else if (page === "create") createPage(view);
    else if (page === "mirrors") stop = mirrorsPage(view, params);
    else await linksPage(view);
  } catch (e) {
    replace(view, errorBox(e.message));
  }
  if (gen !== routes) {
    if (stop) stop();
    return;
  }
  stopPage = stop;
  main.replaceChildren(view);
  const first = view.querySelector("[autofocus]");
  if (first) first.focus();
}

async function start() {
  try {
    const id = await api.loadCluster();
    document.getElementById("cluster").textContent = "destination cluster " + id;
  } catch (e) {
    replace(main, errorBox("The admin API did not answer: " + e.message));
    return;
  }
  await route();
}

window.addEventListener("hashchange", route);
start();
