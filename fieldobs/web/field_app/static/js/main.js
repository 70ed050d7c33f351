// The field app: sign in, home, the checklist form, the outbox. Routes are in the URL's hash
// (#/, #/visit/<id>) so the one shell page serves every screen, online or not.

import { AuthError, HttpError, NetError, request, signIn } from "./api.js";
import { renderForm } from "./form.js";
import { all, byOwner, get, meta, put, setMeta, tx, req } from "./store.js";
import {
  STATE_LABELS, Sync, checklistVersion, finish, latestChecklist, oldestWaiting,
} from "./sync.js";
import { el, localTime, rfc3339, span, uuid4 } from "./util.js";

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const DAY = 86400000;
const LONG_WAIT = DAY;
const DUE_SOON = DAY;
const SYNC_EVERY = 60000;

let session = null;
let formView = null;
let inForm = false;
let updateReady = false;
const flash = { text: "" };

const sync = new Sync(
  async () => session,
  async () => {
    // The token is gone: forget it, keep everything else, ask to sign in again.
    session = { ...session, token: null, expired: true };
    await setMeta("session", session);
    // Mid-form, say so without taking the form away; elsewhere, ask to sign in.
    if (inForm) showExpired();
    else render();
  },
);
sync.addEventListener("change", () => showStatus());

function status() {
  return document.getElementById("sync-status");
}

function showStatus() {
  const node = status();
  if (!node) return;
  const s = sync.status;
  const last = s.at ? ` · checked ${new Date(s.at).toLocaleTimeString([], {
    hour: "2-digit", minute: "2-digit" })}` : "";
  node.textContent = navigator.onLine
    ? `Online · ${s.text || "Ready"}${last}`
    : "Offline · visits send themselves later";
  if (!s.busy && !inForm && location.hash.replace(/^#\/?/, "") === "") refreshHome();
}

let refreshing = false;
async function refreshHome() {
  if (refreshing) return;
  refreshing = true;
  try {
    const lists = document.getElementById("home-lists");
    if (lists) lists.replaceChildren(...(await homeLists()));
  } finally {
    refreshing = false;
  }
}

// --- screens ------------------------------------------------------------------------------

function header(title, back) {
  const parts = [];
  if (back) {
    parts.push(el("a", { href: "#/", class: "back" }, "← Home"));
  }
  parts.push(el("h1", {}, title));
  if (session?.token) {
    parts.push(el("p", { id: "sync-status", class: "sync-status", "aria-live": "polite" }));
  }
  return el("header", { class: "top" }, parts);
}

function signInScreen() {
  document.title = "Sign in · fieldobs";
  const expired = session?.expired;
  const errors = el("div", { class: "error-summary", role: "alert", tabindex: "-1", hidden: true });
  const user = el("input", {
    id: "username", name: "username", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true, value: session?.username || "",
  });
  const pass = el("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password",
    required: true,
  });
  const button = el("button", { type: "submit", class: "primary big" }, "Sign in");
  const fail = (message, field) => {
    errors.replaceChildren(el("h2", {}, "There is a problem"), el("ul", {}, el("li", {},
      el("a", { href: `#${field.id}`, onclick: (e) => { e.preventDefault(); field.focus(); } },
        message))));
    errors.hidden = false;
    errors.focus();
  };
  const form = el("form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (!user.value.trim()) return fail("Enter your username", user);
      if (!pass.value) return fail("Enter your password", pass);
      button.disabled = true;
      try {
        const answer = await signIn(user.value.trim(), pass.value);
        if (!["shopper", "manager"].includes(answer.role)) {
          return fail("This app is for shoppers and store managers: use the console.", user);
        }
        session = {
          username: user.value.trim(), role: answer.role, token: answer.token,
          expires_at: answer.expires_at || null, expired: false,
        };
        await setMeta("session", session);
        // Ask the browser not to clear drafts and the outbox when space runs low.
        if (navigator.storage?.persist) {
          await setMeta("persisted", await navigator.storage.persist().catch(() => false));
        }
        location.hash = "#/";
        render();
        sync.run({ force: true });
      } catch (error) {
        if (error instanceof NetError) {
          fail("No connection: signing in needs the network once.", user);
        } else if (error instanceof HttpError && error.status === 401) {
          fail("The username or password is not right.", pass);
        } else {
          fail(`Could not sign in: ${error.message}`, user);
        }
      } finally {
        button.disabled = false;
      }
    },
  },
  errors,
  expired ? el("div", { class: "notice warn" }, el("p", {},
    "Your session has ended. Sign in again to send your visits: your drafts and the outbox ",
    "are kept on this phone.")) : null,
  el("p", { class: "intro" }, "Mystery shops and store walk-throughs, with or without a ",
    "connection. Sign in once online; after that the app works offline."),
  el("label", { for: "username" }, "Username"), user,
  el("label", { for: "password" }, "Password"), pass,
  button);
  main.replaceChildren(header("Sign in"), el("div", { class: "page" }, form));
}

function storeOf(pull, id, fallback = {}) {
  return pull?.locations?.[id] || { id, name: fallback.location_name || `Store ${id}`,
    timezone: fallback.timezone };
}

async function homeLists() {
  const owner = session.username;
  const pull = (await get("pull", owner)) || {};
  const outbox = await byOwner("outbox", owner);
  const drafts = await byOwner("drafts", owner);
  const others = (await all("outbox")).filter((e) => e.owner !== owner && !e.done).length;
  const blocks = [];

  const waited = await oldestWaiting(owner);
  if (waited > LONG_WAIT) {
    blocks.push(el("div", { class: "notice warn", role: "status" }, el("p", {},
      `Visits have waited ${span(waited)} to be sent. Connect to the internet and tap `,
      "“Send now”. Open the app from the home screen so the phone keeps them.")));
  }
  if ((await meta("persisted")) === false && outbox.some((e) => !e.done)) {
    blocks.push(el("p", { class: "hint" },
      "This browser may clear unsent visits after days unused: add the app to your home screen."));
  }
  if (others) {
    blocks.push(el("p", { class: "hint" },
      "Someone else has unsent visits on this phone; they are sent when that person signs in."));
  }

  const pending = outbox.filter((e) => !e.done).sort((a, b) => b.created_at - a.created_at);
  if (pending.length) {
    blocks.push(el("section", { class: "block", "aria-labelledby": "outbox-h" },
      el("h2", { id: "outbox-h" }, "Outbox"),
      el("ul", { class: "cards" }, pending.map((e) => outboxCard(e)))));
  }

  if (session.role === "shopper") {
    const notes = Object.values(pull.notifications || {});
    if (notes.length) {
      blocks.push(el("section", { class: "block", "aria-labelledby": "remind-h" },
        el("h2", { id: "remind-h" }, "Reminders"),
        el("ul", { class: "plain" }, notes.map((n) => el("li", { class: "notice info" }, n.message)))));
    }
    const returned = Object.values(pull.returned_visits || {}).filter(
      (r) => !outbox.some((e) => e.id === r.id && e.revision >= r.next_revision),
    );
    if (returned.length) {
      blocks.push(el("section", { class: "block", "aria-labelledby": "returned-h" },
        el("h2", { id: "returned-h" }, "Returned for correction"),
        el("ul", { class: "cards" }, returned.map((r) => {
          const store = storeOf(pull, r.location_id);
          const draft = drafts.find((d) => d.id === r.id);
          return el("li", { class: "card" },
            el("h3", {}, store.name),
            el("p", {}, el("strong", {}, "Reviewer’s note: "), r.note || ""),
            el("button", { type: "button", class: "primary", onclick: () => correct(r) },
              draft ? "Continue correction" : "Correct visit"));
        }))));
    }
    const assignments = Object.values(pull.assignments || {})
      .filter((a) => a.status === "open")
      .sort((a, b) => String(a.window_start).localeCompare(String(b.window_start)));
    blocks.push(el("section", { class: "block", "aria-labelledby": "assign-h" },
      el("h2", { id: "assign-h" }, "Your assignments"),
      assignments.length
        ? el("ul", { class: "cards" }, assignments.map((a) => assignmentCard(a, pull, outbox, drafts)))
        : el("p", { class: "hint" }, pull.cursor ? "No open assignments." :
          "Nothing here yet: connect once to fetch your assignments.")));
  } else {
    const walk = latestChecklist(pull, { kind: "walkthrough" });
    const stores = Object.values(pull.locations || {});
    blocks.push(el("section", { class: "block", "aria-labelledby": "walk-h" },
      el("h2", { id: "walk-h" }, "Walk-through"),
      !walk || !stores.length
        ? el("p", { class: "hint" }, pull.cursor && walk ? "No stores are assigned to you."
          : "Connect once to fetch your stores and the checklist.")
        : el("ul", { class: "cards" }, stores.map((store) => {
          const draft = drafts.find((d) => d.location_id === store.id && d.kind === "walkthrough");
          return el("li", { class: "card" },
            el("h3", {}, store.name),
            store.address ? el("p", { class: "address" }, store.address) : null,
            el("button", {
              type: "button", class: "primary",
              onclick: () => startVisit({ checklist: walk, location: store }),
            }, draft ? "Continue walk-through" : "Start a walk-through"));
        }))));
  }

  const loose = drafts.filter((d) => !d.assignment_id && d.kind !== "walkthrough" && d.revision === 1);
  if (loose.length) {
    blocks.push(el("section", { class: "block" }, el("h2", {}, "Drafts"),
      el("ul", { class: "cards" }, loose.map((d) => el("li", { class: "card" },
        el("h3", {}, d.label?.store || "Visit"),
        el("a", { class: "button primary", href: `#/visit/${d.id}` }, "Continue"))))));
  }

  const recent = recentVisits(pull, outbox);
  blocks.push(el("section", { class: "block", "aria-labelledby": "recent-h" },
    el("h2", { id: "recent-h" }, session.role === "manager" ? "Recent walk-throughs" : "Recent visits"),
    recent.length
      ? el("ul", { class: "cards" }, recent.map((v) => el("li", { class: "card compact" },
        el("h3", {}, storeOf(pull, v.location_id).name),
        // A shopper's own score stays with the reviewers: it could colour the next visit.
        el("p", {}, v.finished_at ? localTime(v.finished_at) : "",
          session.role === "manager" && v.score !== null && v.score !== undefined
            ? ` · score ${Math.round(v.score)}` : ""),
        el("p", { class: `state state-${v.status}` }, STATE_LABELS[v.status] || v.status))))
      : el("p", { class: "hint" }, "None yet.")));
  return blocks;
}

function recentVisits(pull, outbox) {
  const seen = new Map();
  for (const v of pull.recent || []) {
    if (session.role === "manager" && v.kind !== "walkthrough") continue;
    seen.set(v.id, v);
  }
  for (const e of outbox.filter((x) => x.done)) {
    if (!seen.has(e.id)) {
      const body = JSON.parse(e.body);
      seen.set(e.id, { id: e.id, status: e.state, location_id: e.location_id,
        finished_at: body.finished_at, score: e.score });
    }
  }
  return [...seen.values()]
    .sort((a, b) => String(b.finished_at).localeCompare(String(a.finished_at)))
    .slice(0, 10);
}

/** Take a visit the server refused as invalid back into a draft (same id and revision). */
async function reopen(entry) {
  const visit = JSON.parse(entry.body);
  await tx(["drafts", "outbox"], "readwrite", async (s) => {
    const answers = {};
    for (const a of visit.answers) {
      answers[a.item] = { value: a.value ?? null, na: !!a.na, comment: a.comment || "",
        photos: a.photos || [] };
    }
    s.drafts.put({
      id: visit.id, owner: entry.owner, revision: visit.revision, kind: entry.kind,
      checklist: visit.checklist, location_id: visit.location_id,
      assignment_id: visit.assignment_id || null, started_at: visit.started_at,
      updated_at: Date.now(), answers, notes: visit.notes || "", label: entry.label,
    });
    s.outbox.delete(entry.key);
  });
  location.hash = `#/visit/${visit.id}`;
}

async function discard(entry) {
  // Never silently: the person decides that this visit is not to be sent.
  if (!window.confirm("Discard this visit? It will not be sent.")) return;
  await tx("outbox", "readwrite", async (s) => { s.outbox.delete(entry.key); });
  refreshHome();
}

function outboxCard(entry) {
  const error = entry.error?.error || entry.error;
  const fields = error?.fields;
  const actions = entry.state !== "attention" ? null : el("div", { class: "row" },
    entry.status === 422
      ? el("button", { type: "button", class: "primary", onclick: () => reopen(entry) },
        "Fix and send again")
      : null,
    el("button", { type: "button", class: "danger", onclick: () => discard(entry) }, "Discard"));
  return el("li", { class: "card" },
    el("h3", {}, entry.label?.store || "Visit"),
    el("p", {}, entry.label?.title || "", entry.revision > 1 ? ` · correction ${entry.revision}` : ""),
    el("p", { class: `state state-${entry.state}` }, STATE_LABELS[entry.state] || entry.state),
    entry.state === "attention" || (error?.message && entry.state === "waiting")
      ? el("p", { class: "field-error" }, error?.message || "",
        fields ? ` ${Object.entries(fields).map(([k, v]) => `${k}: ${[v].flat().join(" ")}`)
          .join("; ")}` : "")
      : null,
    actions);
}

function assignmentCard(a, pull, outbox, drafts) {
  const store = storeOf(pull, a.location_id, a);
  const checklist = latestChecklist(pull, { slug: a.checklist });
  const draft = drafts.find((d) => d.assignment_id === a.id);
  const finished = outbox.find((e) => e.assignment_id === a.id);
  const end = Date.parse(a.window_end);
  const soon = end - Date.now() < DUE_SOON && end > Date.now();
  const tz = store.timezone || a.timezone;
  return el("li", { class: "card" },
    el("h3", {}, store.name, soon ? el("strong", { class: "badge due" }, "Due soon") : null),
    store.address ? el("p", { class: "address" }, store.address) : null,
    el("p", {}, `${localTime(a.window_start, tz)} – ${localTime(a.window_end, tz)}`,
      el("span", { class: "hint" }, ` (store time${tz ? `, ${tz}` : ""})`)),
    el("p", {}, checklist?.title || a.checklist),
    a.scenario ? el("p", {}, el("strong", {}, "Scenario: "), a.scenario) : null,
    finished
      ? el("p", { class: `state state-${finished.state}` },
        `Visit finished · ${STATE_LABELS[finished.state]}`)
      : el("button", {
        type: "button", class: "primary",
        disabled: !checklist,
        onclick: () => startVisit({ checklist, location: store, assignment: a }),
      }, draft ? "Continue visit" : "Start visit"));
}

function homeScreen() {
  document.title = "fieldobs";
  const send = el("button", {
    type: "button", class: "secondary", onclick: () => sync.run({ force: true }),
  }, "Send now");
  const out = el("button", { type: "button", class: "link", onclick: signOut }, "Sign out");
  main.replaceChildren(
    header(session.role === "manager" ? "Your stores" : "Your visits"),
    el("div", { class: "page" },
      flash.text ? el("div", { class: "notice success", role: "status" }, flash.text) : null,
      el("div", { class: "row send-row" }, send),
      el("div", { id: "home-lists" }),
      el("footer", { class: "row spread page-foot" },
        el("span", { class: "who" }, `Signed in as ${session.username}`), out)));
  flash.text = "";
  showStatus();
  return refreshHome().then(() => performance.mark("home-ready"));
}

async function signOut() {
  const token = session.token;
  session = { username: session.username, role: session.role, token: null, expired: false };
  await setMeta("session", session);
  // The drafts and outbox stay, bound to this person, until they sign in again.
  request("auth/token", { method: "DELETE", token }).catch(() => {});
  render();
}

/** Find or create the draft for an assignment or a store walk-through, then open it. */
async function startVisit({ checklist, location: store, assignment }) {
  const owner = session.username;
  const id = await tx("drafts", "readwrite", async (s) => {
    const mine = await req(s.drafts.index("owner").getAll(owner));
    const existing = mine.find((d) => (assignment
      ? d.assignment_id === assignment.id
      : d.location_id === store.id && d.kind === checklist.kind && !d.assignment_id));
    if (existing) return existing.id;
    // The visit's id is made once, here, and kept with the draft: every later step names it.
    const draft = {
      id: uuid4(), owner, revision: 1, kind: checklist.kind,
      checklist: { slug: checklist.slug, version: checklist.version },
      location_id: store.id, assignment_id: assignment?.id || null,
      started_at: rfc3339(), updated_at: Date.now(), answers: {}, notes: "",
      label: { store: store.name, title: checklist.title },
    };
    s.drafts.put(draft);
    return draft.id;
  });
  location.hash = `#/visit/${id}`;
}

/** Open a returned visit as a draft of its next revision, prefilled with what was sent. */
async function correct(returned) {
  const owner = session.username;
  let checklist;
  try {
    checklist = await checklistVersion(owner, session.token, returned.checklist.slug,
      returned.checklist.version);
  } catch (error) {
    if (error instanceof AuthError) return;
    flash.text = "Connect once to fetch this visit's checklist.";
    return render();
  }
  const existing = await get("drafts", returned.id);
  if (!existing) {
    const sent = returned.visit;
    const answers = {};
    for (const a of sent.answers) {
      answers[a.item] = { value: a.value ?? null, na: !!a.na, comment: a.comment || "",
        photos: a.photos || [] };
    }
    // Photos already on the server stay in the manifest; they need no new upload.
    for (const p of sent.photos || []) {
      if (!(await get("photos", p.id))) {
        await put("photos", { ...p, owner, visit_id: sent.id, remote: true, state: "done",
          blob: null });
      }
    }
    const store = (await get("pull", owner))?.locations?.[sent.location_id];
    await put("drafts", {
      id: sent.id, owner, revision: returned.next_revision, kind: checklist.kind,
      checklist: { slug: checklist.slug, version: checklist.version },
      location_id: sent.location_id, assignment_id: sent.assignment_id || null,
      started_at: sent.started_at, updated_at: Date.now(), answers, notes: sent.notes || "",
      label: { store: store?.name || "Visit", title: checklist.title },
      review: { note: returned.note, item_comments: returned.item_comments || {} },
    });
  }
  location.hash = `#/visit/${returned.id}`;
}

async function visitScreen(id) {
  const draft = await get("drafts", id);
  if (!draft || draft.owner !== session.username) {
    flash.text = "That visit is not open on this phone any more.";
    location.hash = "#/";
    return;
  }
  let checklist;
  try {
    checklist = await checklistVersion(draft.owner, session.token, draft.checklist.slug,
      draft.checklist.version);
  } catch {
    main.replaceChildren(header("Visit", true), el("p", { class: "page" },
      "This checklist is not on the phone yet: connect once and try again."));
    return;
  }
  inForm = true;
  document.title = `${checklist.title} · fieldobs`;
  const root = el("div", { class: "page" });
  main.replaceChildren(
    header(checklist.title, true),
    el("p", { class: "page subtitle" }, draft.label?.store || ""),
    root);
  formView = renderForm(root, {
    draft,
    checklist,
    review: draft.review,
    save: (d) => put("drafts", d),
    finish: async () => {
      await put("drafts", draft);
      const entry = await finish(draft, checklist, draft.label);
      performance.measure("finish-to-outbox", "finish-start");
      const last = performance.getEntriesByName("finish-to-outbox").pop();
      window.fieldapp = { ...(window.fieldapp || {}), finishMs: last.duration };
      flash.text = entry.done
        ? "This visit was already sent."
        : "Visit finished and kept on this phone: it sends itself when there is a connection.";
      location.hash = "#/";
      sync.run();
    },
  });
  showStatus();
}

// --- routing, service worker, start -------------------------------------------------------

async function render() {
  if (formView) {
    formView.close();
    formView = null;
  }
  inForm = false;
  if (updateReady) return applyUpdate();
  banner.replaceChildren();
  if (session?.expired || (session && !session.token)) {
    const owner = session.username;
    const unsent = (await byOwner("outbox", owner)).filter((e) => !e.done).length;
    if (session.expired && !location.hash.startsWith("#/visit/")) return signInScreen();
    if (session.expired) {
      showExpired(unsent);
    } else {
      return signInScreen();
    }
  }
  if (!session) return signInScreen();
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
  banner.replaceChildren(el("div", { class: "notice warn", role: "status" },
    `Your session has ended${waiting}. This visit is kept. `,
    el("a", { href: "#/" }, "Sign in again")));
}

function applyUpdate() {
  // Only between visits: a form in progress keeps the version it was opened with.
  updateReady = false;
  main.replaceChildren(header("Updating the app…"));
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
  banner.replaceChildren(el("div", { class: "notice info" },
    "A new version of the app is ready; it starts when you leave this visit."));
}
async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  // The first worker taking control (clients.claim) is no update: nothing to reload.
  let hadController = !!navigator.serviceWorker.controller;
  registration = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  const offer = () => {
    if (!registration.waiting || !navigator.serviceWorker.controller) return;
    if (inForm) waitForForm();
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
    if (inForm) waitForForm();
    else reloadOnce();
  });
}

function insecure() {
  main.replaceChildren(header("fieldobs"), el("div", { class: "page" },
    el("div", { class: "notice warn", role: "alert" },
      el("h2", {}, "This connection is not secure"),
      el("p", {}, "The field app needs HTTPS: without it the phone cannot keep the app ",
        "offline, check photos or protect your password. Open this address with https:// ",
        "(ask whoever runs fieldobs for the right one)."),
      el("p", {}, `Address now: ${location.origin}`))));
}

async function start() {
  if (!window.isSecureContext || !crypto.subtle || !window.indexedDB) return insecure();
  session = (await meta("session")) || null;
  registerWorker().catch((error) => console.warn("service worker", error.message));
  window.addEventListener("hashchange", render);
  window.addEventListener("online", () => { showStatus(); sync.run({ force: true }); });
  window.addEventListener("offline", () => showStatus());
  setInterval(() => { if (navigator.onLine) sync.run(); }, SYNC_EVERY);
  await render();
  if (session?.token) sync.run({ force: true });
}

start();
