// The outbox and the sync engine: finish a draft into the outbox, push visits in batches,
// upload photos with tus, confirm with the server, pull the feed. Everything it sends belongs
// to the signed-in person: another person's outbox waits for them on the device.

import { answersOf } from "./answers.js";
import { AuthError, getJson, HttpError, request } from "./api.js";
import { req, tx, byOwner, photosOf, get } from "./store.js";
import { upload, Refused } from "./tus.js";
import { backoff, rfc3339 } from "./util.js";

export const STATE_LABELS = {
  waiting: "Waiting to send",
  sent: "Sent, sending photos",
  awaiting_photos: "Waiting for photos",
  submitted: "Submitted",
  returned: "Returned for correction",
  released: "Released",
  attention: "Needs attention",
};
const BATCH = 100;
const RECENT_DAYS = 60;
const SKEW_MARGIN = 86400000;
// Beyond this many pages of changes, the visits not yet seen are asked for one by one.
const CONFIRM_PAGES = 5;
const RECENT_PAGES = 50;

/**
 * Put a finished draft into the outbox, once: the visit's body is serialised here and never
 * again, and the draft leaves in the same transaction, so a second tap or a second tab finds
 * the entry already there and adds nothing.
 */
export async function finish(draft, checklist, label) {
  const photos = [];
  const ids = new Set();
  for (const answer of answersOf(draft, checklist)) for (const id of answer.photos || []) ids.add(id);
  for (const id of ids) {
    const photo = await get("photos", id);
    if (!photo) throw new Error("A photo of this visit is missing from the phone.");
    const entry = { id, sha256: photo.sha256, size: photo.size, content_type: photo.content_type };
    if (photo.item) entry.item = photo.item;
    photos.push(entry);
  }
  const visit = {
    id: draft.id,
    revision: draft.revision,
    checklist: { slug: checklist.slug, version: checklist.version },
    location_id: draft.location_id,
    started_at: draft.started_at,
    finished_at: rfc3339(),
    answers: answersOf(draft, checklist),
    photos,
  };
  if (draft.assignment_id) visit.assignment_id = draft.assignment_id;
  if ((draft.notes || "").trim()) visit.notes = draft.notes.trim();
  const key = `${draft.id}#${draft.revision}`;
  return tx(["drafts", "outbox"], "readwrite", async (s) => {
    const existing = await req(s.outbox.get(key));
    if (existing) return existing;
    const current = await req(s.drafts.get(draft.id));
    if (!current || current.owner !== draft.owner) throw new Error("This draft is gone.");
    const entry = {
      key,
      id: draft.id,
      revision: draft.revision,
      owner: draft.owner,
      kind: checklist.kind,
      assignment_id: draft.assignment_id || null,
      location_id: draft.location_id,
      label,
      body: JSON.stringify(visit),
      photos: [...ids],
      state: "waiting",
      done: false,
      attempts: 0,
      next_at: 0,
      error: null,
      created_at: Date.now(),
    };
    s.outbox.put(entry);
    s.drafts.delete(draft.id);
    return entry;
  });
}

async function updateEntry(key, change) {
  return tx("outbox", "readwrite", async (s) => {
    const entry = await req(s.outbox.get(key));
    if (!entry) return null;
    Object.assign(entry, change(entry) || {});
    s.outbox.put(entry);
    return entry;
  });
}

async function updatePhoto(id, change) {
  return tx("photos", "readwrite", async (s) => {
    const photo = await req(s.photos.get(id));
    if (!photo) return null;
    Object.assign(photo, change);
    s.photos.put(photo);
    return photo;
  });
}

/** Apply one page of the pull feed and its cursor in one transaction. */
async function applyPage(owner, page, fresh) {
  return tx("pull", "readwrite", async (s) => {
    const old = (await req(s.pull.get(owner))) || { owner, checklists: {} };
    const record = fresh
      // A fresh pull replaces what may have changed, once its first page is here.
      ? { owner, checklists: old.checklists || {}, recent: old.recent || [] }
      : old;
    for (const key of ["locations", "assignments", "notifications", "returned_visits"]) {
      record[key] = record[key] || {};
    }
    for (const c of page.checklists || []) record.checklists[`${c.slug}@${c.version}`] = c;
    for (const key of ["locations", "assignments", "notifications", "returned_visits"]) {
      for (const item of page[key] || []) record[key][item.id] = item;
      for (const id of (page.deleted || {})[key] || []) delete record[key][id];
    }
    record.cursor = page.cursor;
    record.server_time = page.server_time;
    record.pulled_at = Date.now();
    s.pull.put(record);
  });
}

/** Return the latest checklist of a slug, or of a kind, that the device holds. */
export function latestChecklist(pull, { slug, kind }) {
  let best = null;
  for (const c of Object.values(pull?.checklists || {})) {
    if ((slug && c.slug !== slug) || (kind && c.kind !== kind)) continue;
    if (!best || c.version > best.version) best = c;
  }
  return best;
}

/** Return a checklist version from the device, fetching it when missing and online. */
export async function checklistVersion(owner, token, slug, version) {
  const pull = await get("pull", owner);
  const found = pull?.checklists?.[`${slug}@${version}`];
  if (found) return found;
  const fetched = await getJson(`checklists/${encodeURIComponent(slug)}/versions/${version}`, {
    token,
  });
  await tx("pull", "readwrite", async (s) => {
    const record = (await req(s.pull.get(owner))) || { owner, checklists: {} };
    record.checklists[`${slug}@${version}`] = fetched;
    s.pull.put(record);
  });
  return fetched;
}

export class Sync extends EventTarget {
  /** `session()` returns {username, token} or null; `lost()` is called on a 401. */
  constructor(session, lost) {
    super();
    this.session = session;
    this.lost = lost;
    this.running = false;
    this.again = false;
    this.status = { text: "", at: null, offline: !navigator.onLine };
  }

  emit(text, extra = {}) {
    this.status = { ...this.status, text, ...extra };
    this.dispatchEvent(new Event("change"));
  }

  /** Run one sync now; `force` ignores the backoff (the "Send now" button). */
  async run({ force = false } = {}) {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        // One tab at a time sends (Web Locks where the browser has them); a tab that finds
        // another one sending waits its turn, since that run may have started too early to
        // see this tab's newest visit.
        if (navigator.locks) {
          await navigator.locks.request("fieldobs-sync", () => this.once(force));
        } else {
          await this.once(force);
        }
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  async once(force) {
    const session = await this.session();
    if (!session || !session.token) return;
    const { username: owner, token } = session;
    if (!navigator.onLine) {
      this.emit("Offline: visits wait in the outbox", { offline: true, busy: false });
      return;
    }
    this.emit("Sending…", { busy: true });
    try {
      await this.push(owner, token, force);
      await this.uploadPhotos(owner, token);
      await this.confirm(owner, token);
      await this.pull(owner, token);
      await this.refreshVisits(owner, token);
      this.emit("Up to date", { busy: false, at: Date.now(), offline: false });
    } catch (error) {
      if (error instanceof AuthError) {
        await this.lost();
        this.emit("Sign in again to send", { busy: false });
      } else if (error instanceof HttpError && !error.transient) {
        this.emit(`The server refused a request: ${error.message}`, { busy: false });
      } else {
        this.emit(navigator.onLine ? "Could not reach the server; will retry" : "Offline", {
          busy: false,
          offline: !navigator.onLine,
        });
      }
    }
  }

  async push(owner, token, force) {
    const now = Date.now();
    const due = (await byOwner("outbox", owner))
      .filter((e) => e.state === "waiting" && (force || e.next_at <= now))
      .sort((a, b) => a.created_at - b.created_at);
    for (let i = 0; i < due.length; i += BATCH) {
      const batch = due.slice(i, i + BATCH);
      // The exact bytes serialised at Finish: a replay then matches the server's fingerprint.
      const body = `{"visits":[${batch.map((e) => e.body).join(",")}]}`;
      let results;
      try {
        results = (await getJson("sync/visits", { method: "POST", token, json: body })).results;
      } catch (error) {
        if (error instanceof AuthError) throw error;
        for (const e of batch) await this.later(e, error.message);
        throw error; // the server is unwell: photos and pull wait for the next run
      }
      const byId = new Map(results.map((r) => [r.id, r]));
      for (const e of batch) {
        const result = byId.get(e.id);
        const status = result?.status;
        if (status === 200 || status === 201) {
          await updateEntry(e.key, () => ({ state: "sent", error: null, attempts: 0 }));
        } else if ([409, 413, 422].includes(status)) {
          await updateEntry(e.key, () => ({ state: "attention", error: result.error, status }));
        } else {
          await this.later(e, result?.error?.message || "no answer for this visit");
        }
      }
    }
  }

  async later(entry, message) {
    await updateEntry(entry.key, (e) => ({
      attempts: e.attempts + 1,
      next_at: Date.now() + backoff(e.attempts),
      error: { message },
    }));
  }

  async uploadPhotos(owner, token) {
    const entries = (await byOwner("outbox", owner)).filter(
      (e) => e.state === "sent" || e.state === "awaiting_photos",
    );
    for (const entry of entries) {
      for (const photo of await photosOf(entry.id)) {
        if (photo.owner !== owner || photo.state === "done" || !photo.blob) continue;
        if (!entry.photos.includes(photo.id)) continue;
        try {
          await upload(photo, token, {
            saveUrl: (target) => updatePhoto(photo.id, { upload_url: target }),
            onProgress: (sent, total) =>
              this.emit(`Sending photo: ${Math.round((100 * sent) / total)} %`),
          });
          // Sent: the copy on the phone is no longer needed.
          await updatePhoto(photo.id, { state: "done", blob: null, upload_url: null });
        } catch (error) {
          if (!(error instanceof Refused)) throw error;
          await updatePhoto(photo.id, { state: "refused" });
          await updateEntry(entry.key, () => ({ state: "attention", error: error.body || {
            error: { message: error.message },
          } }));
        }
      }
    }
  }

  async confirm(owner, token) {
    const entries = [];
    for (const entry of await byOwner("outbox", owner)) {
      if (entry.state !== "sent" && entry.state !== "awaiting_photos") continue;
      const local = await photosOf(entry.id);
      if (!local.some((p) => entry.photos.includes(p.id) && p.state !== "done")) entries.push(entry);
    }
    if (!entries.length) return;
    // One listing of what changed since the oldest was finished (a day early: the phone's clock
    // may run ahead) answers for all of them; a visit it misses is asked for on its own.
    const earliest = Math.min(...entries.map((e) => e.created_at));
    const since = new Date(earliest - SKEW_MARGIN).toISOString();
    const changed = await this.changedSince(token, since, CONFIRM_PAGES);
    for (const entry of entries) {
      let visit = changed.get(entry.id);
      try {
        visit ??= await getJson(`visits/${entry.id}`, { token });
      } catch (error) {
        if (error instanceof HttpError && error.status === 404) continue;
        throw error;
      }
      const received = (visit.photos || []).every((p) => p.state === "received");
      if (visit.revision < entry.revision) continue;
      if ((visit.photos || []).some((p) => p.state === "rejected")) {
        await updateEntry(entry.key, () => ({
          state: "attention",
          error: { error: { message: "The server refused a photo of this visit." } },
        }));
      } else if (visit.status !== "awaiting_photos" && received) {
        // The server has the visit and every photo: it leaves the outbox.
        await updateEntry(entry.key, () => ({ state: visit.status, done: true, score: visit.score }));
      } else {
        await updateEntry(entry.key, () => ({ state: "awaiting_photos" }));
      }
    }
  }

  async pull(owner, token) {
    const record = await get("pull", owner);
    let cursor = record?.cursor || null;
    let fresh = !cursor;
    for (let page = 0; page < 1000; page += 1) {
      const query = new URLSearchParams({ limit: "200" });
      if (cursor) query.set("cursor", cursor);
      let data;
      try {
        data = await getJson(`sync/changes?${query}`, { token });
      } catch (error) {
        if (error instanceof HttpError && error.status === 410 && cursor) {
          cursor = null; // stale or foreign: start over, keeping the old data until then
          fresh = true;
          continue;
        }
        throw error;
      }
      await applyPage(owner, data, fresh);
      fresh = false;
      cursor = data.cursor;
      if (!data.has_more) return;
    }
  }

  /** Return the person's visits changed at or after `since`, by id (at most `pages` pages). */
  async changedSince(token, since, pages) {
    const found = new Map();
    let cursor = null;
    for (let page = 0; page < pages; page += 1) {
      const query = new URLSearchParams({ since, limit: "200" });
      if (cursor) query.set("cursor", cursor);
      const data = await getJson(`visits?${query}`, { token });
      for (const v of data.visits) found.set(v.id, v);
      cursor = data.cursor;
      if (!data.has_more) break;
    }
    return found;
  }

  async refreshVisits(owner, token) {
    const since = new Date(Date.now() - RECENT_DAYS * 86400000).toISOString();
    const found = await this.changedSince(token, since, RECENT_PAGES);
    const recent = [...found.values()]
      .map((v) => ({
        id: v.id, revision: v.revision, status: v.status, kind: v.kind,
        location_id: v.location_id, checklist: v.checklist, score: v.score,
        finished_at: v.finished_at, observer: v.observer || null,
      }))
      .sort((a, b) => String(b.finished_at).localeCompare(String(a.finished_at)))
      .slice(0, 30);
    await tx(["pull", "outbox"], "readwrite", async (s) => {
      const record = (await req(s.pull.get(owner))) || { owner, checklists: {} };
      record.recent = recent;
      s.pull.put(record);
      // Visits already out of the outbox follow the server's state (returned, released).
      for (const entry of await req(s.outbox.index("owner").getAll(owner))) {
        const v = found.get(entry.id);
        if (entry.done && v && v.revision === entry.revision && v.status !== entry.state) {
          entry.state = v.status;
          s.outbox.put(entry);
        }
      }
    });
  }
}

/** Return how long the oldest unsent visit of this person has waited, in ms (0: none). */
export async function oldestWaiting(owner) {
  const waiting = (await byOwner("outbox", owner)).filter((e) => !e.done);
  if (!waiting.length) return 0;
  return Date.now() - Math.min(...waiting.map((e) => e.created_at));
}
