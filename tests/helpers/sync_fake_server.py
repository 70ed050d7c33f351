"""A tiny in-memory stand-in for the fieldobs HTTP contract, for the sync kit's tests.

Just enough of: token login, PUT/batch visits (fingerprints, 409, revisions), tus uploads
(creation, HEAD, PATCH with sha1 checksums, 409, 460), and the changes feed (cursor, 410, 400).
Faults are injected per request: a status, a dropped connection before or after the work is
done, a PATCH cut part-way, or a hang until released.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from fieldobs_sync.client import ApiClient
from fieldobs_sync.retry import Backoff, RetryPolicy

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


@dataclass
class Fault:
    """One injected misbehaviour for requests matching method and path prefix."""

    method: str
    prefix: str
    status: int | None = None
    code: str = "fault"  # the error code sent with `status`
    headers: dict[str, str] = field(default_factory=dict)
    drop_before: bool = False  # close without doing the work
    drop_after: bool = False  # do the work, then close without answering
    cut_after: int | None = None  # PATCH: keep this many bytes, then close
    hang: threading.Event | None = None  # block (after the work) until set
    times: int = 1
    skip: int = 0  # let this many matching requests through first


def _canon(body: Any) -> str:
    """Return a fingerprint of a JSON value."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


class State:
    """Everything the fake server holds."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users = {"shopper": "pw"}
        self.tokens: set[str] = set()
        self.visits: dict[str, dict[str, Any]] = {}
        self.rows_written = 0  # a replay must never bump this
        self.uploads: dict[str, dict[str, Any]] = {}
        self.photos: dict[str, bytes] = {}
        self.photo_completions: dict[str, int] = {}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []
        self.hung = threading.Event()
        self.batch_enabled = True
        self.max_batch_bytes: int | None = None
        # Changes feed: an append-only event list; the cursor is "<epoch>:<index>".
        self.epoch = "e1"
        self.events: list[tuple[str, Any]] = []

    def fault_for(self, method: str, path: str) -> Fault | None:
        """Return (and use up) the first fault matching a request."""
        with self.lock:
            for fault in self.faults:
                if fault.method == method and path.startswith(fault.prefix) and fault.times > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def put_visit(self, body: Any) -> tuple[int, dict[str, Any] | None]:
        """Apply the contract's PUT rules; return the status and error."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return 400, {"code": "bad_request", "message": "Malformed visit."}
        if body.get("notes") == "INVALID":
            return 422, {
                "code": "invalid",
                "message": "The visit is invalid.",
                "fields": {"notes": ["must not be INVALID"]},
            }
        fp = _canon(body)
        with self.lock:
            stored = self.visits.get(body["id"])
            if stored is None:
                self.visits[body["id"]] = {
                    "revision": body["revision"],
                    "fp": fp,
                    "body": body,
                    "status": "submitted",
                }
                self.rows_written += 1
                return 201, None
            if body["revision"] == stored["revision"]:
                if fp == stored["fp"]:
                    return 200, None
                return 409, {"code": "conflict", "message": "Other content for this revision."}
            if body["revision"] == stored["revision"] + 1 and stored["status"] == "returned":
                stored.update(revision=body["revision"], fp=fp, body=body, status="submitted")
                self.rows_written += 1
                return 200, None
            return 409, {"code": "conflict", "message": "This revision is not accepted now."}

    def add_location(self, lid: int, name: str) -> None:
        """Append a location to the changes feed."""
        with self.lock:
            self.events.append(("locations", {"id": lid, "name": name}))


class Handler(BaseHTTPRequestHandler):
    """Route requests of the fake server."""

    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    @property
    def state(self) -> State:
        """Return the server state."""
        return self.server.state

    def _body(self) -> bytes:
        """Read the request body."""
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, data: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer with JSON (or nothing)."""
        raw = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _error(self, status: int, code: str, message: str, **extra: Any) -> None:
        """Answer with a contract error body."""
        self._send(status, {"error": {"code": code, "message": message, **extra}})

    def _handle(self) -> None:
        """Dispatch one request, applying any injected fault."""
        path = urlsplit(self.path).path
        self.state.log.append((self.command, self.path))
        fault = self.state.fault_for(self.command, path)
        if fault and fault.drop_before:
            self._body()
            self.close_connection = True
            return
        if fault and fault.status is not None:
            self._body()
            self._send(
                fault.status, {"error": {"code": fault.code, "message": "injected"}}, fault.headers
            )
            return
        if fault and fault.cut_after is not None:
            self._cut_patch(path, fault.cut_after)
            return
        if fault and (fault.drop_after or fault.hang):
            # Do the work, then lose the answer: the client can't know it happened.
            self.wfile = _Sink()
            self._route(path)
            if fault.hang is not None:
                self.state.hung.set()
                fault.hang.wait(10)
            self.close_connection = True
            return
        self._route(path)

    def _route(self, path: str) -> None:
        """Serve the contract paths."""
        if path == "/healthz":
            self._send(200, {"status": "ok"})
            return
        if path == "/api/v1/auth/token" and self.command == "POST":
            creds = json.loads(self._body() or b"{}")
            if self.state.users.get(creds.get("username")) != creds.get("password"):
                self._error(401, "unauthorized", "Wrong username or password.")
                return
            token = f"tok-{uuid.uuid4().hex}"
            self.state.tokens.add(token)
            self._send(200, {"token": token, "role": "shopper"})
            return
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.state.tokens:
            self._body()
            self._error(401, "unauthorized", "A valid bearer token is required.")
            return
        if path.startswith("/api/v1/visits/") and self.command == "PUT":
            body = json.loads(self._body())
            status, err = self.state.put_visit(body)
            self._send(status, {"error": err} if err else {"id": body["id"]})
        elif path.startswith("/api/v1/visits/") and self.command == "GET":
            stored = self.state.visits.get(path.rsplit("/", 1)[1])
            if stored is None:
                self._error(404, "not_found", "No such visit.")
            else:
                self._send(
                    200,
                    {**stored["body"], "revision": stored["revision"], "status": stored["status"]},
                )
        elif path == "/api/v1/sync/visits" and self.command == "POST":
            self._batch()
        elif path == "/api/v1/uploads" and self.command == "POST":
            self._tus_create()
        elif path.startswith("/api/v1/uploads/"):
            self._tus(path.rsplit("/", 1)[1])
        elif path == "/api/v1/sync/changes" and self.command == "GET":
            self._changes()
        else:
            self._body()
            self._error(404, "not_found", "No such resource.")

    def _batch(self) -> None:
        """Serve POST /sync/visits."""
        raw = self._body()
        if not self.state.batch_enabled:
            self._error(404, "not_found", "No such resource.")
            return
        if self.state.max_batch_bytes is not None and len(raw) > self.state.max_batch_bytes:
            self._error(413, "too_large", "Batch too large.")
            return
        visits = json.loads(raw)["visits"]
        results = []
        for visit in visits:
            fault = self.state.fault_for("VISIT", visit.get("id", ""))
            if fault and fault.status is not None:
                results.append(
                    {
                        "id": visit["id"],
                        "status": fault.status,
                        "error": {"code": "fault", "message": "injected"},
                    }
                )
                continue
            status, err = self.state.put_visit(visit)
            result: dict[str, Any] = {"id": visit.get("id"), "status": status}
            if err:
                result["error"] = err
            results.append(result)
        self._send(200, {"results": results})

    def _tus_create(self) -> None:
        """Serve tus creation."""
        self._body()
        meta = {}
        for pair in (self.headers.get("Upload-Metadata") or "").split(","):
            if pair:
                key, _, value = pair.partition(" ")
                meta[key] = base64.b64decode(value).decode()
        uid = uuid.uuid4().hex
        length = int(self.headers["Upload-Length"])
        with self.state.lock:
            self.state.uploads[uid] = {"length": length, "data": bytearray(), "meta": meta}
        self._send(201, None, {"Location": f"/api/v1/uploads/{uid}", "Tus-Resumable": "1.0.0"})
        if length == 0:
            self._complete(uid)

    def _tus(self, uid: str) -> None:
        """Serve tus HEAD and PATCH on one upload."""
        upload = self.state.uploads.get(uid)
        body = self._body() if self.command == "PATCH" else b""
        if upload is None:
            self._send(404)
            return
        if self.command == "HEAD":
            self._send(
                200,
                None,
                {"Upload-Offset": str(len(upload["data"])), "Upload-Length": str(upload["length"])},
            )
            return
        if self.command != "PATCH":
            self._send(405)
            return
        if self.headers.get("Content-Type") != "application/offset+octet-stream":
            self._send(415)
            return
        if int(self.headers["Upload-Offset"]) != len(upload["data"]):
            self._error(409, "offset_mismatch", "Offset mismatch.")
            return
        if "outcome" in upload:
            # Like fieldobs: an empty PATCH at the end of a finished upload replays its answer.
            if body:
                self._error(413, "too_large", "The upload is complete.")
            elif upload["outcome"] is None:
                self._send(204, None, {"Upload-Offset": str(len(upload["data"]))})
            else:
                self._send(*upload["outcome"])
            return
        algo, _, digest = (self.headers.get("Upload-Checksum") or "").partition(" ")
        if (
            algo != "sha1"
            or base64.b64decode(digest) != hashlib.sha1(body, usedforsecurity=False).digest()
        ):
            self._send(460)
            return
        upload["data"] += body
        offset = len(upload["data"])
        if offset == upload["length"] and self._complete(uid):
            return
        self._send(204, None, {"Upload-Offset": str(offset)})

    def _complete(self, uid: str) -> bool:
        """Finish an upload; answer a refusal (and return True) when the bytes are refused."""
        upload = self.state.uploads[uid]
        data = bytes(upload["data"])
        pid = upload["meta"].get("photo_id", uid)
        refusal: tuple[int, dict[str, Any]] | None = None
        with self.state.lock:
            if data.startswith(b"NOTIMG"):
                refusal = (422, {"code": "not_an_image", "message": "The file is not an image."})
            elif pid in self.state.photos and self.state.photos[pid] != data:
                refusal = (409, {"code": "photo_conflict", "message": "Other bytes."})
            else:
                self.state.photos[pid] = data
                self.state.photo_completions[pid] = self.state.photo_completions.get(pid, 0) + 1
            upload["outcome"] = None if refusal is None else (refusal[0], {"error": refusal[1]})
        if refusal is not None:
            self._send(refusal[0], {"error": refusal[1]})
            return True
        return False

    def _cut_patch(self, path: str, keep: int) -> None:
        """Take part of a PATCH body, then drop the connection (a cut network)."""
        body = self._body()
        upload = self.state.uploads.get(path.rsplit("/", 1)[1])
        if upload is not None and int(self.headers["Upload-Offset"]) == len(upload["data"]):
            upload["data"] += body[:keep]
        self.close_connection = True

    def _changes(self) -> None:
        """Serve GET /sync/changes."""
        query = parse_qs(urlsplit(self.path).query)
        limit = int(query.get("limit", ["2"])[0])
        start = 0
        if "cursor" in query:
            epoch, sep, index = query["cursor"][0].partition(":")
            if not sep or not index.isdigit():
                self._error(400, "bad_request", "Garbage cursor.")
                return
            if epoch != self.state.epoch:
                self._error(410, "gone", "Stale cursor.")
                return
            start = int(index)
        page = self.state.events[start : start + limit]
        end = start + len(page)
        out: dict[str, Any] = {
            "cursor": f"{self.state.epoch}:{end}",
            "has_more": end < len(self.state.events),
            "server_time": "2026-11-23T12:00:00Z",
            "checklists": [],
            "locations": [],
            "assignments": [],
            "deleted": {"assignments": [], "locations": []},
        }
        for kind, item in page:
            if kind.startswith("deleted."):
                out["deleted"].setdefault(kind[8:], []).append(item)
            else:
                out.setdefault(kind, []).append(item)
        self._send(200, out)

    do_GET = do_PUT = do_POST = do_HEAD = do_PATCH = do_DELETE = _handle


class _Sink(io.BufferedIOBase):
    """A write end that swallows everything (for answers the client must never see)."""

    def write(self, data: ReadableBuffer, /) -> int:
        """Discard data."""
        return memoryview(data).nbytes

    def flush(self) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


class FakeHTTPServer(ThreadingHTTPServer):
    """The HTTP server carrying a State."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State()

    @property
    def url(self) -> str:
        """Return the base URL."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def running_server() -> Iterator[FakeHTTPServer]:
    """Run a fake server on 127.0.0.1 for the duration of a block."""
    server = FakeHTTPServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        for fault in server.state.faults:
            if fault.hang is not None:
                fault.hang.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def fast_client(url: str, sleeps: list[float] | None = None, **kwargs: Any) -> ApiClient:
    """Return an ApiClient that records its backoff sleeps instead of sleeping."""
    record = sleeps if sleeps is not None else []
    backoff = Backoff(RetryPolicy(max_attempts=4), sleep=record.append)
    client = ApiClient(url, timeout=5.0, backoff=backoff, **kwargs)
    client.login("shopper", "pw")
    return client
