// The field app: its shared state, routing, the service worker and start. Routes are in the
// URL's hash (#/, #/visit/<id>) so the one shell page serves every screen, online or not; the
// screens are in signin.js, home.js and visit.js.

import { app, header, showStatus } from "./app.js";
import { homeScreen, refreshHome } from "./home.js";
import { signInScreen } from "./signin.js";
import { byOwner, meta, setMeta } from "./store.js";
import { Sync } from "./sync.js";
import { el } from "./util.js";
import { visitScreen } from "./visit.js";

const SYNC_EVERY = 60000;

let updateReady = false;

// The screens call back into the router, and the status line into the home screen's lists.
app.render = render;
app.refreshHome = refreshHome;
app.sync = new Sync(
  async () => app.session,
  async () => {
    // The token is gone: forget it, keep everything else, ask to sign in again.
    app.session = { ...app.session, token: null, expired: true };
    await setMeta("session", app.session);
    // Mid-form, say so without taking the form away; elsewhere, ask to sign in.
    if (app.inForm) showExpired();
    else render();
  },
);
app.sync.addEventListener("change", () => showStatus());

// --- routing, service worker, start -------------------------------------------------------

async function render() {
  if (app.formView) {
    app.formView.close();
    app.formView = null;
  }
  app.inForm = false;
  if (updateReady) return applyUpdate();
  app.banner.replaceChildren();
  if (app.session?.expired || (app.session && !app.session.token)) {
    const owner = app.session.username;
    const unsent = (await byOwner("outbox", owner)).filter((e) => !e.done).length;
    if (app.session.expired && !location.hash.startsWith("#/visit/")) return signInScreen();
    if (app.session.expired) {
      showExpired(unsent);
    } else {
      return signInScreen();
    }
  }
  if (!app.session) return signInScreen();
  const route = location.hash.replace(/^#\/?/, "");
  if (route.startsWith("visit/")) return visitScreen(decodeURIComponent(route.slice(6)));
  return homeScreen();
}

let reloading = false;
function reloadOnce() {
  if (reloading) return;
  reloading = true;
  location.reload();
}

function showExpired(unsent) {
  const waiting = unsent ? `; ${unsent} finished visit(s) wait to be sent` : "";
  app.banner.replaceChildren(el("div", { class: "notice warn", role: "status" },
    `Your session has ended${waiting}. This visit is kept. `,
    el("a", { href: "#/" }, "Sign in again")));
}

function applyUpdate() {
  // Only between visits: a form in progress keeps the version it was opened with.
  updateReady = false;
  app.main.replaceChildren(header("Updating the app…"));
  const waiting = navigator.serviceWorker?.controller && registration?.waiting;
  if (!waiting) return reloadOnce();
  waiting.addEventListener("statechange", () => {
    if (waiting.state === "activated") reloadOnce();
  });
  waiting.postMessage({ type: "activate" });
}

let registration = null;

function waitForForm() {
  updateReady = true;
  app.banner.replaceChildren(el("div", { class: "notice info" },
    "A new version of the app is ready; it starts when you leave this visit."));
}
async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  // The first worker taking control (clients.claim) is no update: nothing to reload.
  let hadController = !!navigator.serviceWorker.controller;
  registration = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  const offer = () => {
    if (!registration.waiting || !navigator.serviceWorker.controller) return;
    if (app.inForm) waitForForm();
    else registration.waiting.postMessage({ type: "activate" });
  };
  registration.addEventListener("updatefound", () => {
    registration.installing?.addEventListener("statechange", offer);
  });
  offer();
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!hadController) {
      hadController = true;
      return;
    }
    // The new version is in charge; this page moves to it only when no visit is open.
    if (app.inForm) waitForForm();
    else reloadOnce();
  });
}

function insecure() {
  app.main.replaceChildren(header("fieldobs"), el("div", { class: "page" },
    el("div", { class: "notice warn", role: "alert" },
      el("h2", {}, "This connection is not secure"),
      el("p", {}, "The field app needs HTTPS: without it the phone cannot keep the app ",
        "offline, check photos or protect your password. Open this address with https:// ",
        "(ask whoever runs fieldobs for the right one)."),
      el("p", {}, `Address now: ${location.origin}`))));
}

async function start() {
  if (!window.isSecureContext || !crypto.subtle || !window.indexedDB) return insecure();
  app.session = (await meta("session")) || null;
  registerWorker().catch((error) => console.warn("service worker", error.message));
  window.addEventListener("hashchange", render);
  window.addEventListener("online", () => { showStatus(); app.sync.run({ force: true }); });
  window.addEventListener("offline", () => showStatus());
  setInterval(() => { if (navigator.onLine) app.sync.run(); }, SYNC_EVERY);
  await render();
  if (app.session?.token) app.sync.run({ force: true });
}

start();
