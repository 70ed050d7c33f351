"""What the field app benchmark runs inside the page: marks, IndexedDB puts, photo copies, sync."""

from __future__ import annotations

# Added to every page before its own scripts: marks when the sign-in form and a usable home
# (an assignment's "Start visit" button) first reach the document, and each form submitted.
# Watched from outside the app, so the figure does not rest on the app's own "home-ready" mark.
MARKS_SCRIPT = """
(() => {
  const wanted = {
    "bench-sign-in-form": () => document.getElementById("username"),
    "bench-home-usable": () => [...document.querySelectorAll("#home-lists button")]
      .some((button) => button.textContent === "Start visit"),
  };
  const observer = new MutationObserver(() => {
    for (const [name, found] of Object.entries(wanted)) {
      if (found()) {
        performance.mark(name);
        delete wanted[name];
      }
    }
    if (!Object.keys(wanted).length) observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true });
  document.addEventListener("submit", () => performance.mark("bench-submit"), true);
})();
"""
MARK = "(name) => performance.getEntriesByName(name)[0]?.startTime ?? null"
PARSED = "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
# The app's modules, imported by URL: the same instances the page runs.
MODULES = """
const load = (name) => import(new URL(`js/${name}.js`, location.href).href);
"""
OUTBOX_BODY = f"""async () => {{
  {MODULES}
  const store = await load("store");
  const session = await store.meta("session");
  const entries = await store.byOwner("outbox", session.username);
  return entries.sort((a, b) => b.created_at - a.created_at)[0].body;
}}"""
RAW_PUT = """async (body) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("bench-baseline", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("outbox", { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const started = performance.now();
  await new Promise((resolve, reject) => {
    // The app's own transactions ask for strict durability too.
    const t = db.transaction("outbox", "readwrite", { durability: "strict" });
    t.objectStore("outbox").put({ key: crypto.randomUUID(), body });
    t.oncomplete = resolve;
    t.onabort = () => reject(t.error);
  });
  const took = performance.now() - started;
  db.close();
  return took;
}"""
ADD_FILE_INPUT = """() => {
  const input = document.createElement("input");
  input.type = "file";
  input.id = "bench-photo";
  input.hidden = true;
  document.body.append(input);
}"""
PHOTO_COPIES = f"""async (runs) => {{
  {MODULES}
  const photos = await load("photos");
  const file = document.getElementById("bench-photo").files[0];
  const decode = async () => (await createImageBitmap(file, {{ imageOrientation: "from-image" }}))
    .close();
  await decode();
  let prepared = await photos.prepare(file);
  const copying = [];
  const decoding = [];
  for (let run = 0; run < runs; run += 1) {{
    let started = performance.now();
    await decode();
    decoding.push(performance.now() - started);
    started = performance.now();
    prepared = await photos.prepare(file);
    copying.push(performance.now() - started);
  }}
  return {{ picked: file.size, sent: prepared.size, type: prepared.content_type, copying,
    decoding }};
}}"""
# Drafts answered like a person would (every value item), put in the outbox by the app's own
# finish(): the same bytes "Finish" writes.
FILL_OUTBOX = f"""async ({{ count, locationId }}) => {{
  {MODULES}
  const [store, sync, util] = await Promise.all(["store", "sync", "util"].map(load));
  const owner = (await store.meta("session")).username;
  const checklist = sync.latestChecklist(await store.get("pull", owner), {{
    slug: "mystery-shop" }});
  const valueOf = (item) => ({{
    yes_no: true, choice: item.options?.[0]?.id, scale: item.max, duration: 65, number: 3,
    text: "Helpful and calm.",
  }})[item.type];
  const bodies = [];
  for (let n = 0; n < count; n += 1) {{
    const answers = {{}};
    for (const section of checklist.sections) {{
      for (const item of section.items) {{
        if (item.type === "photo") continue;
        answers[item.id] = {{ value: valueOf(item), na: false, comment: "", photos: [] }};
      }}
    }}
    const draft = {{
      id: util.uuid4(), owner, revision: 1, kind: checklist.kind,
      checklist: {{ slug: checklist.slug, version: checklist.version }},
      location_id: locationId, assignment_id: null,
      started_at: util.rfc3339(new Date(Date.now() - 1200000)), updated_at: Date.now(),
      answers, notes: "", label: {{ store: "Bench", title: checklist.title }},
    }};
    await store.put("drafts", draft);
    bodies.push((await sync.finish(draft, checklist, draft.label)).body);
  }}
  return bodies;
}}"""
# Notes when the network comes back, and keeps every request's timing from then on: the
# sync is timed from the page's own record of its requests, with nothing polling meanwhile.
WATCH_ONLINE = """() => {
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(100000);
  window.benchOnline = new Promise((resolve) => {
    addEventListener("online", () => resolve(performance.now()), { once: true });
  });
}"""
# The ms from the network coming back to the answer of the last GET /api/v1/visits/<id>
# confirming one of these visits (the app then marks it done and it leaves the outbox).
LAST_CONFIRMED = """async (ids) => {
  const online = await window.benchOnline;
  // The app confirms with one listing of what changed (GET /visits?since=...) and asks for a
  // visit on its own (GET /visits/<id>) only when the listing missed it.
  const resources = performance.getEntriesByType("resource")
    .filter((entry) => entry.startTime >= online);
  const one = new Set(ids.map((id) => `/api/v1/visits/${id}`));
  const listing = resources.find((entry) => {
    const url = new URL(entry.name);
    return url.pathname === "/api/v1/visits" && url.searchParams.has("since");
  });
  const confirmations = resources.filter((entry) => one.has(new URL(entry.name).pathname));
  if (!listing && confirmations.length < ids.length) {
    throw new Error("not every visit was confirmed");
  }
  const ends = [...confirmations, ...(listing ? [listing] : [])].map((entry) => entry.responseEnd);
  return Math.max(...ends) - online;
}"""
SYNC_IDLE = f"""async () => {{
  {MODULES}
  const locks = await navigator.locks.query();
  if ([...locks.held, ...locks.pending].some((lock) => lock.name === "fieldobs-sync")) {{
    return false;
  }}
  const store = await load("store");
  const owner = (await store.meta("session")).username;
  return !(await store.byOwner("outbox", owner)).some((entry) => !entry.done);
}}"""
# The baseline: the same visits (new ids) sent with nothing but fetch and the app's token.
SEND_DIRECTLY = f"""async (bodies) => {{
  {MODULES}
  const store = await load("store");
  const headers = {{
    "Content-Type": "application/json",
    Authorization: `Bearer ${{(await store.meta("session")).token}}`,
  }};
  const renamed = () => bodies.map((body) => ({{ ...JSON.parse(body), id: crypto.randomUUID() }}));
  const one = renamed();
  let started = performance.now();
  for (const visit of one) {{
    const response = await fetch(`/api/v1/visits/${{visit.id}}`, {{
      method: "PUT", headers, body: JSON.stringify(visit) }});
    if (response.status !== 201) throw new Error(`PUT answered ${{response.status}}`);
  }}
  const putMs = performance.now() - started;
  const batch = renamed();
  started = performance.now();
  const response = await fetch("/api/v1/sync/visits", {{
    method: "POST", headers, body: JSON.stringify({{ visits: batch }}) }});
  const results = (await response.json()).results;
  const batchMs = performance.now() - started;
  if (results.filter((r) => r.status === 201).length !== batch.length) {{
    throw new Error(`batch: ${{JSON.stringify(results.slice(0, 2))}}`);
  }}
  return {{ putMs, batchMs }};
}}"""
