// The device's storage: one IndexedDB database holding the session, what was pulled, drafts,
// photos and the outbox. Every record that belongs to a person carries `owner` (a username).

const NAME = "fieldobs-app";
const VERSION = 1;
let opening = null;

/** Open (and on first use create) the database. */
export function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("meta", { keyPath: "key" });
        db.createObjectStore("pull", { keyPath: "owner" });
        db.createObjectStore("drafts", { keyPath: "id" }).createIndex("owner", "owner");
        db.createObjectStore("photos", { keyPath: "id" }).createIndex("visit", "visit_id");
        db.createObjectStore("outbox", { keyPath: "key" }).createIndex("owner", "owner");
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab opening a newer version: let it, and reload into it later.
        db.onversionchange = () => db.close();
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("storage is blocked by another tab"));
    });
  }
  return opening;
}

/** Wrap an IDBRequest in a promise. */
export function req(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Run fn(stores) in one transaction and resolve with its result once committed.
 * fn may await only requests of this transaction: anything else would let it commit early.
 */
export async function tx(names, mode, fn) {
  const db = await open();
  const list = Array.isArray(names) ? names : [names];
  const t = db.transaction(list, mode, { durability: "strict" });
  const stores = Object.fromEntries(list.map((n) => [n, t.objectStore(n)]));
  const done = new Promise((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onabort = () => reject(t.error || new Error("transaction aborted"));
    t.onerror = () => reject(t.error);
  });
  let result;
  try {
    result = await fn(stores, t);
  } catch (error) {
    try { t.abort(); } catch { /* already finished */ }
    await done.catch(() => {});
    throw error;
  }
  await done;
  return result;
}

export const get = (store, key) => tx(store, "readonly", (s) => req(s[store].get(key)));
export const put = (store, value) => tx(store, "readwrite", (s) => req(s[store].put(value)));
export const del = (store, key) => tx(store, "readwrite", (s) => req(s[store].delete(key)));

/** Return every record of a store that belongs to `owner`. */
export const byOwner = (store, owner) =>
  tx(store, "readonly", (s) => req(s[store].index("owner").getAll(owner)));

/** Return every record of a store. */
export const all = (store) => tx(store, "readonly", (s) => req(s[store].getAll()));

/** Return the photos attached to a visit. */
export const photosOf = (visitId) =>
  tx("photos", "readonly", (s) => req(s.photos.index("visit").getAll(visitId)));

/** Return a meta value. */
export async function meta(key) {
  const row = await get("meta", key);
  return row ? row.value : undefined;
}

/** Set a meta value. */
export const setMeta = (key, value) => put("meta", { key, value });
