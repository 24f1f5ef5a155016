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

async function route() {
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
  try {
    if (page === "links" && parts.length === 2) await linkPage(main, parts[1]);
    else if (page === "create") createPage(main);
    else if (page === "mirrors") stopPage = mirrorsPage(main, params);
    else await linksPage(main);
  } catch (e) {
    replace(main, errorBox(e.message));
  }
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
