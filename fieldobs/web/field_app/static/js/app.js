// The field app's shared state, which every screen reads and changes: who is signed in, the
// open form, the sync engine, the page's two regions; and the header every screen starts with.

import { el } from "./util.js";

export const app = {
  main: document.getElementById("main"),
  banner: document.getElementById("banner"),
  /** The signed-in person ({ username, role, token, expires_at, expired }), or null. */
  session: null,
  /** The open checklist form (renderForm's answer), closed when the screen changes. */
  formView: null,
  /** A visit form is on screen: app updates and sign-in prompts wait until it is left. */
  inForm: false,
  /** A message for the next home screen, shown once. */
  flash: "",
  /** The Sync engine (main.js makes it). */
  sync: null,
  /** Draw the screen the URL names (main.js's router). */
  render: null,
  /** Redraw the home screen's lists (home.js). */
  refreshHome: null,
};

/** The top of every screen: a way home if `back`, the title, the sync status line. */
export function header(title, back) {
  const parts = [];
  if (back) {
    parts.push(el("a", { href: "#/", class: "back" }, "← Home"));
  }
  parts.push(el("h1", {}, title));
  if (app.session?.token) {
    parts.push(el("p", { id: "sync-status", class: "sync-status", "aria-live": "polite" }));
  }
  return el("header", { class: "top" }, parts);
}

function status() {
  return document.getElementById("sync-status");
}

/** Say how sync stands; on the home screen, with sync idle, redraw the lists. */
export function showStatus() {
  const node = status();
  if (!node) return;
  const s = app.sync.status;
  const last = s.at ? ` · checked ${new Date(s.at).toLocaleTimeString([], {
    hour: "2-digit", minute: "2-digit" })}` : "";
  node.textContent = navigator.onLine
    ? `Online · ${s.text || "Ready"}${last}`
    : "Offline · visits send themselves later";
  if (!s.busy && !app.inForm && location.hash.replace(/^#\/?/, "") === "") app.refreshHome();
}
