"""Drain the outbox (visits, then photos) and pull changes: one sync run."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from fieldobs_sync.client import MAX_BATCH, ApiClient, PushResult
from fieldobs_sync.errors import AuthError, HttpError, ProtocolError, SyncError, TransientError
from fieldobs_sync.outbox import Entry, Outbox, PhotoRecord
from fieldobs_sync.photos import file_digest
from fieldobs_sync.pull import PullReport, Replica, pull_changes
from fieldobs_sync.tus import TusClient


@dataclass
class SyncReport:
    """What one sync run did, and what is left."""

    acknowledged: list[str] = field(default_factory=list)
    # Answered 200 rather than 201: a replay of content already stored...
    replayed: list[str] = field(default_factory=list)
    # ...or the next revision of a visit a reviewer returned, accepted as its correction.
    corrected: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)
    photos_uploaded: list[str] = field(default_factory=list)
    photos_refused: list[str] = field(default_factory=list)
    pull: PullReport | None = None
    errors: list[str] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)
    unreachable: bool = False

    @property
    def complete(self) -> bool:
        """Tell whether nothing is left to send and nothing went wrong."""
        open_states = ("pending", "sent", "needs_attention")
        return not self.errors and not any(self.remaining.get(s) for s in open_states)


class Syncer:
    """Run sync against one server for one outbox (and optionally one replica)."""

    def __init__(
        self,
        client: ApiClient,
        outbox: Outbox,
        replica: Replica | None = None,
        *,
        tus: TusClient | None = None,
        batch_size: int = MAX_BATCH,
        use_batch: bool = True,
        pull_limit: int | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self.client = client
        self.outbox = outbox
        self.replica = replica
        self.tus = tus or TusClient(client)
        self.batch_size = batch_size
        self.use_batch = use_batch
        self.pull_limit = pull_limit

    def run(self, *, push: bool = True, photos: bool = True, pull: bool = True) -> SyncReport:
        """Push visits, upload photos, pull changes; raise only on a 401 or a pull 400."""
        # Visits go first: they are small and tell the server which photos to expect. Photos
        # of visits still pending go too (the server holds a photo until a manifest names it).
        report = SyncReport()
        if push:
            self.push(report)
        if report.unreachable:
            # Every further call would only wait out the same backoff again.
            report.remaining = self.outbox.counts()
            return report
        if photos:
            self.upload_photos(report)
        if pull and self.replica is not None:
            try:
                report.pull = pull_changes(self.client, self.replica, limit=self.pull_limit)
            except HttpError as exc:
                if exc.status in (400, 401):
                    raise  # A 400 is a bug in the kit, a 401 needs the user: neither waits.
                report.errors.append(f"pull: {exc}")
            except (TransientError, ProtocolError) as exc:
                report.errors.append(f"pull: {exc}")
        report.remaining = self.outbox.counts()
        return report

    # -- visits --------------------------------------------------------------------------

    def push(self, report: SyncReport) -> None:
        """Push every ready visit, in queue order, in batches; record each answer durably."""
        size = self.batch_size
        given_up: set[int] = set()
        rounds: dict[int, int] = {}
        # Without the batch endpoint, one PUT at a time: each answer is committed before the
        # next request goes out.
        while batch := self.outbox.ready_to_push(size if self.use_batch else 1, exclude=given_up):
            try:
                results = self._send(batch)
            except HttpError as exc:
                if isinstance(exc, AuthError):
                    raise
                if exc.status == 413 and len(batch) > 1:
                    # Too big as a whole: halve until it fits; a single visit goes by PUT.
                    size = max(1, len(batch) // 2)
                    continue
                if exc.status in (404, 405) and self.use_batch:
                    # A server without the batch endpoint still takes PUT, one by one.
                    self.use_batch = False
                    continue
                self._fail(batch, f"push: {exc}", exc.status, given_up, report)
                return
            except (TransientError, ProtocolError) as exc:
                # The server is unwell: leave everything pending for the next run.
                status = exc.status if isinstance(exc, TransientError) else None
                self._fail(batch, f"push: {exc}", status, given_up, report)
                report.unreachable = isinstance(exc, TransientError)
                return
            retry_round = 0
            for entry, result in zip(batch, results, strict=True):
                retry_round = max(
                    retry_round, self._record(entry, result, rounds, given_up, report)
                )
            if retry_round:
                # Some visits got a 5xx of their own: back off before resending those.
                self.client.backoff.wait(self.client.backoff.delay(retry_round - 1) or 0.0)

    def _send(self, batch: list[Entry]) -> list[PushResult]:
        """Send a batch through the batch endpoint, or by PUT when that is off or too small."""
        if self.use_batch:
            try:
                return self.client.push_visits([e.body_text for e in batch])
            except HttpError as exc:
                if exc.status != 413 or len(batch) != 1:
                    raise
                # One visit too large for a batch: PUT gives it its own 413 (needs attention).
        return [self.client.put_visit(e.body_text) for e in batch]

    def _record(
        self,
        entry: Entry,
        result: PushResult,
        rounds: dict[int, int],
        given_up: set[int],
        report: SyncReport,
    ) -> int:
        """Record one visit's answer; return its retry round (0 when it needs none)."""
        if result.outcome == "acknowledged":
            self.outbox.mark_acknowledged(entry.seq, result.status)
            report.acknowledged.append(entry.visit_id)
            if entry.correction:
                # The server accepts a revision above the stored one only as a correction,
                # and then takes the visit out of the returned feed: so does the replica.
                report.corrected.append(entry.visit_id)
                if self.replica is not None:
                    self.replica.drop_returned(entry.visit_id)
            elif result.status == 200:
                report.replayed.append(entry.visit_id)
            return 0
        if result.outcome == "needs_attention":
            self.outbox.mark_needs_attention(entry.seq, result.status, result.error or {})
            report.needs_attention.append(entry.visit_id)
            if result.status == 409:
                self._annotate_conflict(entry)
            return 0
        rounds[entry.seq] = rounds.get(entry.seq, 0) + 1
        message = f"HTTP {result.status}: {(result.error or {}).get('message', '')}".strip()
        self.outbox.record_failure(
            entry.seq,
            message,
            status=result.status or None,
            next_attempt_at=self.client.backoff.next_attempt_at(entry.attempts + 1),
        )
        if rounds[entry.seq] >= self.client.backoff.policy.max_attempts:
            given_up.add(entry.seq)
            report.errors.append(f"visit {entry.visit_id}: {message}")
            return 0
        return rounds[entry.seq]

    def _annotate_conflict(self, entry: Entry) -> None:
        """Add the server's revision and status to a 409, so requeue can pick a revision."""
        try:
            server = self.client.get_visit(entry.visit_id)
        except SyncError:
            return  # Best effort: requeue falls back to revision + 1.
        self.outbox.annotate_error(
            entry.seq,
            {"server": {"revision": server.get("revision"), "status": server.get("status")}},
        )

    def _fail(
        self,
        batch: list[Entry],
        message: str,
        status: int | None,
        given_up: set[int],
        report: SyncReport,
    ) -> None:
        """Record a failure of a whole batch; its entries stay pending."""
        report.errors.append(message)
        for entry in batch:
            self.outbox.record_failure(
                entry.seq,
                message,
                status=status,
                next_attempt_at=self.client.backoff.next_attempt_at(entry.attempts + 1),
            )
            given_up.add(entry.seq)

    # -- photos --------------------------------------------------------------------------

    def upload_photos(self, report: SyncReport) -> None:
        """Upload every pending photo of visits on their way; stop when the server is down."""
        for photo in self.outbox.photos_to_upload():
            problem = self._local_problem(photo)
            if problem is not None:
                self.outbox.mark_photo_needs_attention(photo.photo_id, None, problem)
                report.photos_refused.append(photo.photo_id)
                continue
            try:
                self.tus.upload(
                    photo.path,
                    length=photo.size,
                    url=photo.upload_url,
                    metadata={
                        "visit_id": photo.visit_id,
                        "photo_id": photo.photo_id,
                        "filename": photo.filename,
                        "filetype": photo.content_type,
                    },
                    on_url=partial(self.outbox.set_upload_url, photo.photo_id),
                )
            except AuthError:
                raise
            except HttpError as exc:
                if exc.status in (400, 403, 409, 413, 415, 422):
                    self.outbox.mark_photo_needs_attention(photo.photo_id, exc.status, exc.error)
                    report.photos_refused.append(photo.photo_id)
                else:
                    self.outbox.record_photo_failure(photo.photo_id, str(exc), status=exc.status)
                    report.errors.append(f"photo {photo.photo_id}: {exc}")
                continue
            except (TransientError, ProtocolError) as exc:
                status = exc.status if isinstance(exc, TransientError) else None
                self.outbox.record_photo_failure(photo.photo_id, str(exc), status=status)
                report.errors.append(f"photo {photo.photo_id}: {exc}")
                return
            self.outbox.mark_photo_done(photo.photo_id)
            report.photos_uploaded.append(photo.photo_id)

    @staticmethod
    def _local_problem(photo: PhotoRecord) -> dict[str, str] | None:
        """Return why a photo file can't be sent as its manifest says, or None."""
        path = Path(photo.path)
        if not path.is_file():
            return {"code": "file_missing", "message": f"{path} is gone from the device."}
        sha, size = file_digest(path)
        if (sha, size) != (photo.sha256, photo.size):
            return {"code": "file_changed", "message": f"{path} no longer matches its manifest."}
        return None
