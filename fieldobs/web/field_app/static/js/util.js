// Small helpers shared by the app's modules: ids, times, hashing and building DOM.

/** Return a random (version 4) UUID. */
export function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Older Safari: the same thing from getRandomValues.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const pad = (n, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, "0");

/** Return a device time as RFC 3339 with the phone's own offset (kept as sent by the server). */
export function rfc3339(date = new Date()) {
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/** Return the hex SHA-256 of a Blob or ArrayBuffer. */
export async function sha256Hex(data) {
  const buffer = data instanceof Blob ? await data.arrayBuffer() : data;
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Build an element: el("button", {class: "big", onclick}, "Send"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Format an instant in a store's own time zone, e.g. "Tue 24 Nov, 09:00". */
export function localTime(iso, timeZone) {
  if (!iso) return "";
  const options = {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  };
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  }
}

/** Format a time span in words: "3 h", "2 days". */
export function span(ms) {
  const minutes = Math.round(ms / 60000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

/** Read seconds from "95", "1:35", "1m 35s" or "2 min": any unambiguous way of writing it. */
export function parseSeconds(text) {
  const t = String(text).trim().toLowerCase().replace(",", ".");
  if (t === "") return null;
  let m = t.match(/^(\d+):([0-5]?\d)$/);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  m = t.match(/^(?:(\d+(?:\.\d+)?)\s*(?:m|min|mins|minutes?))?\s*(?:(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?)?$/);
  if (m && (m[1] || m[2])) return Math.round(Number(m[1] || 0) * 60 + Number(m[2] || 0));
  return NaN;
}

/** Read a number written with a comma or a point as decimal mark. */
export function parseNumber(text) {
  const t = String(text).trim().replace(/\s/g, "").replace(",", ".");
  if (t === "") return null;
  return /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
}

/** Show seconds as m:ss. */
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

/** Return a delay for retry n with full jitter: uniform in [0, min(cap, base * 2^n)]. */
export function backoff(n, base = 500, cap = 30000) {
  return Math.random() * Math.min(cap, base * 2 ** n);
}

/** Measure from a performance mark to now, in ms; null where timing is unavailable. */
export function measure(name, fromMark) {
  // A figure for tests and benchmarks: it must never stop the work it times.
  try {
    return performance.measure(name, fromMark)?.duration ?? null;
  } catch {
    return null;
  }
}
