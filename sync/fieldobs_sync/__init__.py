"""Offline-sync client kit for fieldobs: the phone apps' reference, standard library only."""

# The kit speaks only the HTTP contract (see PROTOCOL.md). Its promise: a visit the server
# acknowledged is never lost, and no visit is ever stored twice, whatever the network did.

from fieldobs_sync.client import ApiClient, PushResult, Response
from fieldobs_sync.corrections import ReturnedVisit, correction_body, queue_correction
from fieldobs_sync.engine import Syncer, SyncReport
from fieldobs_sync.errors import (
    AuthError,
    HttpError,
    OutboxError,
    ProtocolError,
    SyncError,
    TransientError,
    UploadRejected,
)
from fieldobs_sync.outbox import Entry, Outbox, PhotoRecord
from fieldobs_sync.photos import PhotoFile, attach_photos, describe_photo
from fieldobs_sync.pull import PullReport, Replica, pull_changes
from fieldobs_sync.retry import Backoff, RetryPolicy
from fieldobs_sync.tus import TusClient, UploadResult

__all__ = [
    "ApiClient",
    "AuthError",
    "Backoff",
    "Entry",
    "HttpError",
    "Outbox",
    "OutboxError",
    "PhotoFile",
    "PhotoRecord",
    "ProtocolError",
    "PullReport",
    "PushResult",
    "Replica",
    "Response",
    "RetryPolicy",
    "ReturnedVisit",
    "SyncError",
    "SyncReport",
    "Syncer",
    "TransientError",
    "TusClient",
    "UploadRejected",
    "UploadResult",
    "attach_photos",
    "correction_body",
    "describe_photo",
    "pull_changes",
    "queue_correction",
]
