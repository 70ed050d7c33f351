"""A small tus 1.0.0 client: core, creation and checksum (sha1)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin

from fieldobs_sync.client import API, ApiClient, Response
from fieldobs_sync.errors import ProtocolError, TransientError, UploadRejected

TUS_VERSION: Final = "1.0.0"
UPLOADS: Final = f"{API}/uploads"
# Answers that mean "these bytes or this request will never be accepted as they are".
REFUSED: Final = frozenset({400, 403, 413, 415, 422})
GONE: Final = frozenset({404, 410})
# A 409 with one of these codes (or none: a plain tus server) means "ask HEAD and go on";
# any other code (fieldobs: photo_conflict, manifest_mismatch) refuses the photo.
RESUMABLE_409: Final = frozenset({None, "offset_mismatch", "upload_busy"})

Source = str | os.PathLike[str] | bytes


@dataclass(frozen=True)
class UploadResult:
    """A finished upload: its URL, its length and where this call picked it up."""

    url: str
    length: int
    resumed_from: int
    created: bool


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """Return an `Upload-Metadata` header value: `key base64(value)` pairs, comma-separated."""
    pairs = []
    for key, value in metadata.items():
        if not key or " " in key or "," in key:
            raise ValueError(f"bad tus metadata key {key!r}")
        pairs.append(f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}")
    return ",".join(pairs)


def checksum_header(chunk: bytes) -> str:
    """Return the `Upload-Checksum` value for a chunk (sha1, base64)."""
    digest = hashlib.sha1(chunk, usedforsecurity=False).digest()
    return "sha1 " + base64.b64encode(digest).decode("ascii")


@contextmanager
def _reader(source: Source) -> Iterator[Callable[[int, int], bytes]]:
    """Yield a function reading `n` bytes at an offset of a file or bytes."""
    if isinstance(source, bytes):
        yield lambda offset, n: source[offset : offset + n]
        return
    with open(source, "rb") as fh:

        def read(offset: int, n: int) -> bytes:
            fh.seek(offset)
            return fh.read(n)

        yield read


def _offset_of(resp: Response) -> int:
    """Return the `Upload-Offset` of an answer, or raise ProtocolError."""
    value = resp.header("upload-offset")
    if value is None or not value.strip().isdigit():
        raise ProtocolError(f"{resp.method} {resp.url}: no valid Upload-Offset ({value!r})")
    return int(value)


def _error_code(resp: Response) -> str | None:
    """Return the contract error code of an answer, None when it has none."""
    body = resp.error_body()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


class TusClient:
    """Upload files with tus through an ApiClient (which adds the token and retries)."""

    def __init__(
        self,
        api: ApiClient,
        *,
        endpoint: str = UPLOADS,
        chunk_size: int = 1 << 20,
        max_checksum_retries: int = 3,
        max_conflicts: int = 5,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.api = api
        self.endpoint = endpoint
        self.chunk_size = chunk_size
        self.max_checksum_retries = max_checksum_retries
        self.max_conflicts = max_conflicts

    def _headers(self, **extra: str) -> dict[str, str]:
        """Return the headers of a tus request."""
        return {"Tus-Resumable": TUS_VERSION, **extra}

    def create(self, length: int, metadata: Mapping[str, str]) -> str:
        """Create an upload of `length` bytes and return its absolute URL."""
        headers = self._headers(**{"Upload-Length": str(length)})
        if metadata:
            headers["Upload-Metadata"] = encode_metadata(metadata)
        resp = self.api.request("POST", self.endpoint, body=b"", headers=headers)
        if resp.status == 201:
            location = resp.header("location")
            if not location:
                raise ProtocolError(f"POST {resp.url}: 201 without Location")
            return urljoin(resp.url, location)
        if resp.status in REFUSED or resp.status == 409:
            raise UploadRejected(resp.status, resp.error_body(), method="POST", url=resp.url)
        raise resp.raise_error()

    def offset(self, url: str) -> int | None:
        """Return how many bytes the server holds of an upload, or None when it is gone."""
        resp = self.api.request("HEAD", url, headers=self._headers())
        if resp.status in GONE:
            return None
        if resp.status not in (200, 204):
            raise resp.raise_error()
        return _offset_of(resp)

    def _patch(self, url: str, offset: int, chunk: bytes) -> Response:
        """Send one chunk (empty to ask a complete upload's outcome); raise on refusals."""
        resp = self.api.request(
            "PATCH",
            url,
            body=chunk,
            headers=self._headers(
                **{
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Checksum": checksum_header(chunk),
                }
            ),
        )
        code = _error_code(resp)
        if resp.status in REFUSED or (resp.status == 409 and code not in RESUMABLE_409):
            raise UploadRejected(resp.status, resp.error_body(), method="PATCH", url=url)
        return resp

    def terminate(self, url: str) -> None:
        """Delete an unfinished upload (tus termination); a gone upload is fine."""
        resp = self.api.request("DELETE", url, headers=self._headers())
        if resp.status not in (200, 204) and resp.status not in GONE:
            raise resp.raise_error()

    def upload(
        self,
        source: Source,
        *,
        metadata: Mapping[str, str],
        url: str | None = None,
        length: int | None = None,
        on_url: Callable[[str | None], None] | None = None,
    ) -> UploadResult:
        """Upload a file (or bytes), resuming `url` when the server still has it."""
        # `on_url` gets each new upload URL before any byte is sent (and None when a stored
        # one turned out gone), so the caller can persist it for a resume after a crash.
        if length is None:
            length = len(source) if isinstance(source, bytes) else os.path.getsize(source)
        state = self._begin(url, length, metadata, on_url or (lambda _url: None))
        with _reader(source) as read:
            while not state.confirmed:
                # At full length, an empty PATCH asks for the outcome: a HEAD alone cannot
                # tell a kept photo from a refused one whose last answer was lost.
                chunk = read(state.offset, min(self.chunk_size, length - state.offset))
                if state.offset < length and not chunk:
                    raise ProtocolError(f"{source!r} is shorter than {length} bytes")
                resp = self._patch(state.url, state.offset, chunk)
                if 200 <= resp.status < 300:
                    self._advance(state, resp, sent=len(chunk))
                elif resp.status == 409:
                    self._resync_after_conflict(state, resp)
                elif resp.status == 460:
                    self._count_bad_checksum(state)
                elif resp.status in GONE:
                    self._start_over(state, resp.status)
                else:
                    raise resp.raise_error()
        return UploadResult(
            url=state.url, length=length, resumed_from=state.start, created=state.created
        )

    # The steps of `upload`, one per kind of answer: each updates the upload's state.

    def _begin(
        self,
        url: str | None,
        length: int,
        metadata: Mapping[str, str],
        remember: Callable[[str | None], None],
    ) -> _Upload:
        """Resume a stored upload the server still has (HEAD), else create a new one."""
        offset = self.offset(url) if url is not None else None
        if url is not None and offset is None:
            remember(None)
        if url is None or offset is None:
            url, offset = self.create(length, metadata), 0
            remember(url)
            state = _Upload(url, length, metadata, remember, offset=0, start=0, created=True)
        else:
            state = _Upload(url, length, metadata, remember, offset=offset, start=offset)
        if offset > length:
            raise ProtocolError(f"HEAD {url}: offset {offset} beyond length {length}")
        return state

    @staticmethod
    def _advance(state: _Upload, resp: Response, *, sent: int) -> None:
        """Take a 2xx: move to the server's offset; done once the full length is confirmed."""
        new = _offset_of(resp)
        moved = state.offset < new <= state.length if sent else new == state.length
        if not moved:
            raise ProtocolError(f"PATCH {state.url}: offset went {state.offset} -> {new}")
        state.offset, state.bad_checksums, state.conflicts = new, 0, 0
        state.confirmed = new == state.length

    def _resync_after_conflict(self, state: _Upload, resp: Response) -> None:
        """Take a 409: our offset is stale or the upload is busy; wait if needed, then HEAD."""
        # A cut PATCH the server partly kept leaves our offset behind; another request (our
        # own cut one) may still hold the upload. Back off when it repeats or is busy.
        state.conflicts += 1
        if state.conflicts > self.max_conflicts:
            raise TransientError(f"PATCH {state.url}: offset keeps conflicting", status=409)
        if state.conflicts > 1 or _error_code(resp) == "upload_busy":
            backoff = self.api.backoff
            backoff.wait(backoff.delay(state.conflicts - 1, resp.header("retry-after")) or 0)
        found = self.offset(state.url)
        if found is None:
            self._start_over(state, 404)
        else:
            state.offset = found

    def _count_bad_checksum(self, state: _Upload) -> None:
        """Take a 460: the chunk was damaged on the way and dropped; send it again (a few times)."""
        state.bad_checksums += 1
        if state.bad_checksums > self.max_checksum_retries:
            raise TransientError(f"PATCH {state.url}: checksum keeps failing", status=460)

    def _start_over(self, state: _Upload, status: int) -> None:
        """Take a 404/410: the upload expired or was lost; create a fresh one (once per call)."""
        if state.restarted:
            raise TransientError(f"PATCH {state.url}: upload vanished twice", status=status)
        state.restarted = True
        state.remember(None)
        state.url, state.offset, state.start = self.create(state.length, state.metadata), 0, 0
        state.created = True
        state.remember(state.url)


@dataclass
class _Upload:
    """Where one `upload` call stands: its URL, offset and what it has met so far."""

    url: str
    length: int
    metadata: Mapping[str, str]
    remember: Callable[[str | None], None]
    offset: int
    start: int
    created: bool = False
    restarted: bool = False
    bad_checksums: int = 0
    conflicts: int = 0
    confirmed: bool = False
