// The HTTP API: JSON in and out, a bearer token, and errors sorted by what the app does next.

export const BASE = new URL("../api/v1/", new URL(".", location.href)).href;

/** The token is gone (expired or revoked): sign in again, nothing is lost meanwhile. */
export class AuthError extends Error {}

/** The server answered with an error status. */
export class HttpError extends Error {
  constructor(status, body, headers) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }

  /** Tell whether trying again later may succeed (the outcome is unknown or temporary). */
  get transient() {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The network failed: the outcome is unknown, try again later. */
export class NetError extends Error {
  get transient() {
    return true;
  }
}

/** Resolve an API path ("sync/changes") against the API's base URL. */
export const url = (path) => new URL(path, BASE).href;

/** Send a request and return the Response; throw NetError, AuthError or HttpError. */
export async function request(path, { method = "GET", token, json, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof json === "string" ? json : JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path.startsWith("http") ? path : url(path), init);
  } catch (error) {
    throw new NetError(`network: ${error.message}`);
  }
  if (response.status === 401 && token) throw new AuthError("The session has ended.");
  if (!response.ok && response.status !== 304) {
    let payload = null;
    try { payload = await response.json(); } catch { /* not JSON */ }
    throw new HttpError(response.status, payload, response.headers);
  }
  return response;
}

/** Send a request and return its JSON body. */
export async function getJson(path, options) {
  const response = await request(path, options);
  return response.json();
}

/** Exchange username and password for a token: {token, role, expires_at}. */
export async function signIn(username, password) {
  return getJson("auth/token", { method: "POST", json: { username, password } });
}
