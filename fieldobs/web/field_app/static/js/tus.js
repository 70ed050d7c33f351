// A small tus 1.0.0 client: create with metadata, HEAD to resume from the server's offset,
// PATCH in chunks. The upload URL is saved before the first byte leaves, so a reload, a cut
// or a dead battery resumes where the server stopped instead of starting over.

import { AuthError, HttpError, NetError, url } from "./api.js";
import { backoff } from "./util.js";

const TUS = { "Tus-Resumable": "1.0.0" };
export const CHUNK = 1024 * 1024;

/** The server refused the photo for good (not an image, too large, other bytes): attention. */
export class Refused extends Error {
  constructor(status, body) {
    super(body?.error?.message || `refused (${status})`);
    this.status = status;
    this.body = body;
  }
}

const b64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(target, method, token, headers = {}, body = undefined) {
  try {
    return await fetch(target, {
      method,
      body,
      cache: "no-store",
      headers: { ...TUS, Authorization: `Bearer ${token}`, ...headers },
    });
  } catch (error) {
    throw new NetError(`network: ${error.message}`);
  }
}

async function errorBody(response) {
  try { return await response.json(); } catch { return null; }
}

async function fail(response) {
  const body = await errorBody(response);
  if (response.status === 401) throw new AuthError("The session has ended.");
  if ([400, 403, 409, 413, 415, 422].includes(response.status)) {
    throw new Refused(response.status, body);
  }
  throw new HttpError(response.status, body, response.headers);
}

/**
 * Upload one photo record ({id, visit_id, blob, content_type, upload_url}) and resolve when
 * the server has it all. `saveUrl(url)` must persist the URL before it resolves.
 * `onProgress(sent, total)` reports the server's offset.
 */
export async function upload(photo, token, { saveUrl, onProgress = () => {} }) {
  const total = photo.blob.size;
  let target = photo.upload_url;
  let offset = null;
  let damaged = 0;
  let failures = 0;
  for (let step = 0; step < 10000; step += 1) {
    if (!target) {
      const extension = photo.content_type.split("/")[1] || "jpg";
      const created = await send(url("uploads"), "POST", token, {
        "Upload-Length": String(total),
        "Upload-Metadata": [
          `visit_id ${b64(photo.visit_id)}`,
          `photo_id ${b64(photo.id)}`,
          `filename ${b64(`${photo.id}.${extension}`)}`,
          `filetype ${b64(photo.content_type)}`,
        ].join(","),
      });
      if (created.status !== 201) await fail(created);
      target = new URL(created.headers.get("Location"), created.url).href;
      await saveUrl(target);
      offset = 0;
    }
    if (offset === null) {
      const head = await send(target, "HEAD", token);
      if (head.status === 404 || head.status === 410) {
        target = null;
        await saveUrl(null);
        continue;
      }
      if (!head.ok) await fail(head);
      offset = Number(head.headers.get("Upload-Offset"));
    }
    onProgress(offset, total);
    // At full length the last answer may have been lost (and may have been a refusal): an
    // empty PATCH at the full offset asks the server to say it again.
    const chunk = photo.blob.slice(offset, Math.min(total, offset + CHUNK));
    let patch;
    try {
      patch = await send(target, "PATCH", token, {
        "Upload-Offset": String(offset),
        "Content-Type": "application/offset+octet-stream",
      }, chunk);
    } catch (error) {
      // A cut connection: the server may have kept part of the chunk. Wait, then ask it.
      failures += 1;
      if (failures > 5) throw error;
      await wait(backoff(failures - 1));
      offset = null;
      continue;
    }
    if (patch.status >= 500 || patch.status === 408 || patch.status === 429) {
      failures += 1;
      if (failures > 5) throw new HttpError(patch.status, await errorBody(patch), patch.headers);
      await wait(Math.max(backoff(failures - 1), 1000 * (Number(patch.headers.get("Retry-After")) || 0)));
      offset = null;
      continue;
    }
    if (patch.status === 204) {
      offset = Number(patch.headers.get("Upload-Offset"));
      onProgress(offset, total);
      if (offset >= total) return;
      continue;
    }
    const body = await errorBody(patch);
    const code = body?.error?.code;
    if (patch.status === 409 && (!code || code === "offset_mismatch")) {
      offset = null; // a cut PATCH left part of itself: ask where the server is
    } else if (patch.status === 409 && code === "upload_busy") {
      const after = Number(patch.headers.get("Retry-After")) || 1;
      await wait(Math.min(after, 10) * 1000);
      offset = null;
    } else if (patch.status === 460 && damaged < 3) {
      damaged += 1;
    } else if (patch.status === 404 || patch.status === 410) {
      target = null;
      await saveUrl(null);
    } else if (patch.status === 401) {
      throw new AuthError("The session has ended.");
    } else if ([400, 403, 409, 413, 415, 422, 460].includes(patch.status)) {
      throw new Refused(patch.status, body);
    } else {
      throw new HttpError(patch.status, body, patch.headers);
    }
  }
  throw new Error("upload made no progress");
}
