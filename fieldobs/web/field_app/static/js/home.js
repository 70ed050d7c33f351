// The home screen: the outbox, reminders, returned visits, assignments or a manager's stores,
// loose drafts and recent visits; an outbox entry the server refused is fixed or discarded here.

import { draftAnswers } from "./answers.js";
import { app, header, showStatus } from "./app.js";
import { signOut } from "./signin.js";
import { all, byOwner, get, meta, tx } from "./store.js";
import { STATE_LABELS, latestChecklist, oldestWaiting } from "./sync.js";
import { el, localTime, span } from "./util.js";
import { correct, startVisit } from "./visit.js";

const DAY = 86400000;
const LONG_WAIT = DAY;
const DUE_SOON = DAY;

let refreshing = null;
/** Redraw the home screen's lists; a call while one is drawing waits for that one. */
export function refreshHome() {
  // .finally runs as a later microtask, so the draw in flight is recorded before it clears.
  refreshing ??= drawLists().finally(() => { refreshing = null; });
  return refreshing;
}

async function drawLists() {
  const lists = document.getElementById("home-lists");
  if (lists) lists.replaceChildren(...(await homeLists()));
}

function storeOf(pull, id, fallback = {}) {
  return pull?.locations?.[id] || { id, name: fallback.location_name || `Store ${id}`,
    timezone: fallback.timezone };
}

async function homeLists() {
  const owner = app.session.username;
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

  if (app.session.role === "shopper") {
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
    el("h2", { id: "recent-h" }, app.session.role === "manager" ? "Recent walk-throughs" : "Recent visits"),
    recent.length
      ? el("ul", { class: "cards" }, recent.map((v) => el("li", { class: "card compact" },
        el("h3", {}, storeOf(pull, v.location_id).name),
        // A shopper's own score stays with the reviewers: it could colour the next visit.
        el("p", {}, v.finished_at ? localTime(v.finished_at) : "",
          app.session.role === "manager" && v.score !== null && v.score !== undefined
            ? ` · score ${Math.round(v.score)}` : ""),
        el("p", { class: `state state-${v.status}` }, STATE_LABELS[v.status] || v.status))))
      : el("p", { class: "hint" }, "None yet.")));
  return blocks;
}

function recentVisits(pull, outbox) {
  const seen = new Map();
  for (const v of pull.recent || []) {
    if (app.session.role === "manager" && v.kind !== "walkthrough") continue;
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
    const answers = draftAnswers(visit.answers);
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

export function homeScreen() {
  document.title = "fieldobs";
  const send = el("button", {
    type: "button", class: "secondary", onclick: () => app.sync.run({ force: true }),
  }, "Send now");
  const out = el("button", { type: "button", class: "link", onclick: signOut }, "Sign out");
  app.main.replaceChildren(
    header(app.session.role === "manager" ? "Your stores" : "Your visits"),
    el("div", { class: "page" },
      app.flash ? el("div", { class: "notice success", role: "status" }, app.flash) : null,
      el("div", { class: "row send-row" }, send),
      el("div", { id: "home-lists" }),
      el("footer", { class: "row spread page-foot" },
        el("span", { class: "who" }, `Signed in as ${app.session.username}`), out)));
  app.flash = "";
  showStatus();
  return refreshHome().then(() => performance.mark("home-ready"));
}
