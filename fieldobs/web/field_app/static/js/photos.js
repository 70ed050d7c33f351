// Photos as the app sends them: a copy at most LONG_SIDE px on its long side, re-encoded on the
// phone, so a 12 MP photo costs about a tenth of the bytes over cellular and its GPS position,
// device name and other EXIF never leave the phone. The capture time is written back into the
// copy (EXIF DateTimeOriginal), because the server keeps it as a field.

import { rfc3339, sha256Hex } from "./util.js";

export const LONG_SIDE = 2048;
const QUALITY = 0.85;
const ACCEPTED = ["image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/avif"];

async function decode(file) {
  if (self.createImageBitmap) {
    try {
      return await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch { /* fall through to <img>, e.g. older Safari */ }
  }
  const source = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = source;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(source);
  }
}

function ascii(text) {
  return [...text].map((c) => c.charCodeAt(0)).concat(0);
}

/** Return an EXIF APP1 segment holding only DateTimeOriginal and OffsetTimeOriginal. */
export function exifSegment(date) {
  const stamp = rfc3339(date); // 2026-11-23T10:02:11+01:00
  const moment = ascii(`${stamp.slice(0, 10).replaceAll("-", ":")} ${stamp.slice(11, 19)}`);
  const offset = ascii(stamp.slice(19));
  // Little-endian TIFF: IFD0 with one entry (the Exif IFD pointer), then the Exif IFD.
  const bytes = [];
  const u16 = (v) => bytes.push(v & 255, (v >> 8) & 255);
  const u32 = (v) => bytes.push(v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255);
  const ifd0 = 8;
  const exifIfd = ifd0 + 2 + 12 + 4;
  const data = exifIfd + 2 + 2 * 12 + 4;
  bytes.push(0x49, 0x49); u16(42); u32(ifd0);
  u16(1); u16(0x8769); u16(4); u32(1); u32(exifIfd); u32(0);
  u16(2);
  u16(0x9003); u16(2); u32(moment.length); u32(data);
  u16(0x9011); u16(2); u32(offset.length); u32(data + moment.length);
  u32(0);
  bytes.push(...moment, ...offset);
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...bytes]; // "Exif\0\0"
  const length = payload.length + 2;
  return new Uint8Array([0xff, 0xe1, length >> 8, length & 255, ...payload]);
}

async function shrink(file, takenAt) {
  const image = await decode(file);
  const width = image.width;
  const height = image.height;
  const scale = Math.min(1, LONG_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
  if (image.close) image.close();
  const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
  if (!jpeg) throw new Error("could not encode the photo");
  // The EXIF segment goes after the start-of-image marker and the JFIF header, if any.
  const head = new Uint8Array(await jpeg.slice(0, 6).arrayBuffer());
  const at = head[2] === 0xff && head[3] === 0xe0 ? 4 + ((head[4] << 8) | head[5]) : 2;
  return new Blob([jpeg.slice(0, at), exifSegment(takenAt), jpeg.slice(at)], {
    type: "image/jpeg",
  });
}

/**
 * Turn a picked file into what the outbox sends: {blob, content_type, size, sha256, taken_at}.
 * Falls back to the original when this browser cannot decode it (HEIC outside Safari).
 */
export async function prepare(file) {
  // A camera file's lastModified is the moment it was taken; a gallery pick keeps its own.
  const takenAt = new Date(file.lastModified || Date.now());
  let blob;
  try {
    blob = await shrink(file, takenAt);
  } catch {
    // Some browsers give HEIC files no type at all: go by the name's ending.
    const ending = file.name.toLowerCase().split(".").pop();
    const type = file.type || { heic: "image/heic", heif: "image/heif", avif: "image/avif" }[ending];
    if (!ACCEPTED.includes(type)) {
      throw new Error("This file is not a photo the app can send (JPEG, PNG, HEIC, WebP).");
    }
    blob = file.type ? file : new Blob([file], { type });
  }
  return {
    blob,
    content_type: blob.type,
    size: blob.size,
    sha256: await sha256Hex(blob),
    taken_at: rfc3339(takenAt),
  };
}
