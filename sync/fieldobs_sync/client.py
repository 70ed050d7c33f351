"""HTTP transport for the fieldobs API: bearer token, JSON, timeouts, retries."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote, urlencode, urlsplit

from fieldobs_sync.errors import AuthError, HttpError, ProtocolError, TransientError, error_object
from fieldobs_sync.retry import Backoff, is_retryable_status, parse_retry_after

API: Final = "/api/v1"
MAX_BATCH: Final = 100

# A visit to push: a mapping, or JSON text already serialised (the outbox resends its exact bytes).
VisitPayload = Mapping[str, Any] | str
Outcome = Literal["acknowledged", "needs_attention", "retry"]


@dataclass(frozen=True)
class Response:
    """One HTTP answer: status, lower-cased headers, raw body."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return a header by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """Return the decoded JSON body, raising ProtocolError when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(
                f"{self.method} {self.url} -> HTTP {self.status}: body is not JSON"
            ) from exc

    def error_body(self) -> Any:
        """Return the body as JSON when it parses, else as text (for error reports)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.body.decode("utf-8", "replace")

    def raise_error(self) -> HttpError:
        """Return the HttpError describing this answer (the caller raises it)."""
        cls = AuthError if self.status == 401 else HttpError
        return cls(self.status, self.error_body(), method=self.method, url=self.url)


def classify(status: int) -> Outcome:
    """Map the status PUT (or one batch result) gave to what the outbox must do."""
    if 200 <= status < 300:
        return "acknowledged"
    # 409 and 422 are the server's final word on this exact content; 413 likewise can never
    # succeed unchanged. Retrying any of them blindly would loop forever.
    if status in (409, 413, 422):
        return "needs_attention"
    return "retry"


@dataclass(frozen=True)
class PushResult:
    """The server's answer for one visit: its id, the status PUT would give, the error."""

    id: str
    status: int
    error: dict[str, Any] | None = None

    @property
    def outcome(self) -> Outcome:
        """Return what the outbox should do with the entry."""
        return classify(self.status)


def dump_visit(visit: VisitPayload) -> str:
    """Return a visit as JSON text, leaving text that is already JSON untouched."""
    if isinstance(visit, str):
        return visit
    return json.dumps(visit, ensure_ascii=False, separators=(",", ":"))


def visit_id_of(visit: VisitPayload) -> str:
    """Return the `id` of a visit given as mapping or JSON text."""
    data = json.loads(visit) if isinstance(visit, str) else visit
    vid = data.get("id") if isinstance(data, Mapping) else None
    if not isinstance(vid, str) or not vid:
        raise ValueError("a visit needs a string `id`")
    return vid


class ApiClient:
    """Talk to one fieldobs server; holds only its own base URL, token and retry settings."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        user_agent: str = "fieldobs-sync/0.1",
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL must be http(s)://host[:port][/prefix], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.role: str | None = None
        # Kept only in memory: lets a long run log in again when its token expires.
        self.credentials = credentials
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.user_agent = user_agent

    def url(self, path_or_url: str) -> str:
        """Return an absolute URL for an API path (or an absolute URL unchanged)."""
        if "://" in path_or_url:
            return path_or_url
        if not path_or_url.startswith("/"):
            raise ValueError(f"API paths start with '/', got {path_or_url!r}")
        return self.base_url + path_or_url

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        auth: bool = True,
    ) -> Response:
        """Send one request, retrying network errors, 5xx, 408 and 429 with backoff."""
        # Every other answer (4xx included) goes back to the caller to judge; a 401 raises
        # AuthError (after one re-login when credentials are known), spent retries raise
        # TransientError.
        url = self.url(path_or_url)
        if json_body is not None:
            body = dump_visit(json_body).encode("utf-8")
        attempt = 0
        relogged = False
        while True:
            hdrs = self._headers(headers, body, json_body is not None, auth)
            status: int | None = None
            retry_after: str | None = None
            try:
                resp = self._send(method, url, body, hdrs)
            except (OSError, http.client.HTTPException) as exc:
                reason = f"network error: {exc!r}"
            else:
                if resp.status == 401 and auth:
                    if self.credentials and not relogged:
                        relogged = True
                        self.login(*self.credentials)
                        continue
                    raise resp.raise_error()
                if not retry or not is_retryable_status(resp.status):
                    return resp
                status, retry_after = resp.status, resp.header("retry-after")
                reason = f"HTTP {resp.status}"
            if not retry:
                raise TransientError(f"{method} {url}: {reason}", status=status)
            attempt += 1
            if attempt >= self.backoff.policy.max_attempts:
                raise TransientError(
                    f"{method} {url}: {reason} (gave up after {attempt} attempts)", status=status
                )
            delay = self.backoff.delay(attempt - 1, retry_after)
            if delay is None:
                now = self.backoff.clock()
                asked = parse_retry_after(retry_after, now) or 0.0
                raise TransientError(
                    f"{method} {url}: {reason}, server asks to wait {asked:.0f} s",
                    status=status,
                    retry_at=now + asked,
                )
            self.backoff.wait(delay)

    def _headers(
        self, extra: Mapping[str, str] | None, body: bytes | None, is_json: bool, auth: bool
    ) -> dict[str, str]:
        """Build the request headers."""
        hdrs = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if is_json:
            hdrs["Content-Type"] = "application/json"
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        if auth and self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if extra:
            hdrs.update(extra)
        return hdrs

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Response:
        """Send one request on a fresh connection and read the whole answer."""
        parts = urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname or "",
                parts.port,
                timeout=self.timeout,
                context=ssl.create_default_context(),
            )
        else:
            conn = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=self.timeout
            )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers=headers)
            raw = conn.getresponse()
            data = raw.read()
            hdrs = {k.lower(): v for k, v in raw.getheaders()}
            return Response(method, url, raw.status, hdrs, data)
        finally:
            conn.close()

    def login(self, username: str, password: str) -> str:
        """Exchange a username and password for a bearer token and keep it."""
        resp = self.request(
            "POST",
            f"{API}/auth/token",
            json_body={"username": username, "password": password},
            auth=False,
        )
        if resp.status != 200:
            raise resp.raise_error()
        data = resp.json()
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise ProtocolError("POST /auth/token did not return a token")
        self.token = data["token"]
        self.role = data.get("role") if isinstance(data.get("role"), str) else None
        return self.token

    def health(self) -> bool:
        """Tell whether the server answers `GET /healthz` with 200 (no retries)."""
        try:
            return self.request("GET", "/healthz", auth=False, retry=False).status == 200
        except TransientError:
            return False

    def put_visit(self, visit: VisitPayload) -> PushResult:
        """Push one visit with `PUT /api/v1/visits/<id>`."""
        vid = visit_id_of(visit)
        resp = self.request(
            "PUT",
            f"{API}/visits/{quote(vid, safe='')}",
            body=dump_visit(visit).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        err = error_object(resp.status, resp.error_body()) if resp.status >= 400 else None
        return PushResult(vid, resp.status, err)

    def push_visits(self, visits: Sequence[VisitPayload]) -> list[PushResult]:
        """Push up to 100 visits with `POST /api/v1/sync/visits`; return results in input order."""
        if not visits:
            return []
        if len(visits) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} visits per batch, got {len(visits)}")
        ids = [visit_id_of(v) for v in visits]
        # Splice the stored JSON texts in as they are, so a resend is byte-identical.
        payload = '{"visits":[' + ",".join(dump_visit(v) for v in visits) + "]}"
        resp = self.request(
            "POST",
            f"{API}/sync/visits",
            body=payload.encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        if resp.status != 200:
            raise resp.raise_error()
        data = resp.json()
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ProtocolError("POST /sync/visits: no `results` list")
        by_id: dict[str, PushResult] = {}
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("status"), int):
                raise ProtocolError(f"POST /sync/visits: malformed result {item!r}")
            err = item.get("error")
            if item["status"] >= 400:
                # Accept both the bare error object and the full `{"error": {...}}` body.
                wrapped = {"error": err} if isinstance(err, dict) and "error" not in err else err
                err = error_object(item["status"], wrapped)
            by_id[str(item.get("id"))] = PushResult(str(item.get("id")), item["status"], err)
        missing = {"code": "missing_result", "message": "The server gave no result for this visit."}
        # A visit left out of the results has an unknown fate: status 0 means "retry".
        return [by_id.get(vid) or PushResult(vid, 0, missing) for vid in ids]

    def get_visit(self, visit_id: str) -> dict[str, Any]:
        """Return the server's view of a visit (`GET /api/v1/visits/<id>`)."""
        resp = self.request("GET", f"{API}/visits/{quote(visit_id, safe='')}")
        if resp.status != 200:
            raise resp.raise_error()
        data = resp.json()
        if not isinstance(data, dict):
            raise ProtocolError("GET /visits/<id> did not return an object")
        return data

    def get_changes(self, cursor: str | None, limit: int | None = None) -> dict[str, Any]:
        """Return one page of `GET /api/v1/sync/changes`; raises HttpError on 400 and 410."""
        params: dict[str, str] = {}
        if cursor is not None:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = str(limit)
        query = f"?{urlencode(params)}" if params else ""
        resp = self.request("GET", f"{API}/sync/changes{query}")
        if resp.status != 200:
            raise resp.raise_error()
        data = resp.json()
        if not isinstance(data, dict):
            raise ProtocolError("GET /sync/changes did not return an object")
        return data
