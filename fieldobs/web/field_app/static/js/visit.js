// A visit: start one from an assignment or a store (finding its draft if there is one), take
// a returned visit back as a draft of its next revision, and the screen with its checklist form.

import { draftAnswers } from "./answers.js";
import { AuthError } from "./api.js";
import { app, header, showStatus } from "./app.js";
import { renderForm } from "./form.js";
import { get, put, tx, req } from "./store.js";
import { checklistVersion, finish } from "./sync.js";
import { el, measure, rfc3339, uuid4 } from "./util.js";

/** Find or create the draft for an assignment or a store walk-through, then open it. */
export async function startVisit({ checklist, location: store, assignment }) {
  const owner = app.session.username;
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
export async function correct(returned) {
  const owner = app.session.username;
  let checklist;
  try {
    checklist = await checklistVersion(owner, app.session.token, returned.checklist.slug,
      returned.checklist.version);
  } catch (error) {
    if (error instanceof AuthError) return;
    app.flash = "Connect once to fetch this visit's checklist.";
    return app.render();
  }
  const existing = await get("drafts", returned.id);
  if (!existing) {
    const sent = returned.visit;
    const answers = draftAnswers(sent.answers);
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

export async function visitScreen(id) {
  const draft = await get("drafts", id);
  if (!draft || draft.owner !== app.session.username) {
    app.flash = "That visit is not open on this phone any more.";
    location.hash = "#/";
    return;
  }
  let checklist;
  try {
    checklist = await checklistVersion(draft.owner, app.session.token, draft.checklist.slug,
      draft.checklist.version);
  } catch {
    app.main.replaceChildren(header("Visit", true), el("p", { class: "page" },
      "This checklist is not on the phone yet: connect once and try again."));
    return;
  }
  app.inForm = true;
  document.title = `${checklist.title} · fieldobs`;
  const root = el("div", { class: "page" });
  app.main.replaceChildren(
    header(checklist.title, true),
    el("p", { class: "page subtitle" }, draft.label?.store || ""),
    root);
  app.formView = renderForm(root, {
    draft,
    checklist,
    review: draft.review,
    save: (d) => put("drafts", d),
    finish: async () => {
      await put("drafts", draft);
      const entry = await finish(draft, checklist, draft.label);
      const finishMs = measure("finish-to-outbox", "finish-start");
      window.fieldapp = { ...(window.fieldapp || {}), finishMs };
      app.flash = entry.done
        ? "This visit was already sent."
        : "Visit finished and kept on this phone: it sends itself when there is a connection.";
      location.hash = "#/";
      app.sync.run();
    },
  });
  showStatus();
}
