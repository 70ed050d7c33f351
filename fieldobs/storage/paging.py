"""Keyset pagination: one helper and one opaque cursor format for every list.

A cursor holds the sort key of the last row sent (times to the microsecond, ids), sealed with
AES-GCM under a random key the server keeps in its database (migration 0011): a client can
neither read it (it would tell exact times that store staff are shown only to the hour) nor
forge or alter one. The list's name is sealed in as associated data, so a cursor made for one
list is refused by another; a cursor sealed under another key (another server, another
database) is told apart as foreign.

Format (base64url, no padding): version (1 byte) | key id (4) | nonce (12) | ciphertext + tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fieldobs.errors import BadRequest
from fieldobs.storage.connection import Database, rows

VERSION = b"\x01"
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
# Far longer than any cursor this server makes; a longer text is not decoded at all.
MAX_CURSOR_LENGTH = 512


class CursorError(BadRequest):
    """A cursor this server did not make for this list (garbage, altered or misplaced)."""

    code = "bad_cursor"
    default_message = "The cursor is not one this server made for this list."

    def __init__(self, problem: str = "not a cursor this server made for this list") -> None:
        super().__init__(fields={"cursor": [problem]})


class ForeignCursor(CursorError):
    """A well-formed cursor sealed under another key: another server or another database."""

    def __init__(self) -> None:
        super().__init__("made by another server or for another database")


def _key(db: Database) -> bytes:
    row = db.execute("SELECT value FROM server_meta WHERE key = 'cursor_key'").fetchone()
    return bytes.fromhex(str(row[0]))


def _key_id(key: bytes) -> bytes:
    # Tells a foreign cursor from an altered one without revealing anything of the key.
    return hmac.new(key, b"fieldobs cursor key id", hashlib.sha256).digest()[:KEY_ID_BYTES]


def seal(db: Database, purpose: str, values: Sequence[Any]) -> str:
    """Return an opaque cursor holding JSON values, for one list (`purpose`) only."""
    key = _key(db)
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(list(values), separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, purpose.encode())
    token = VERSION + _key_id(key) + nonce + sealed
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def unseal(db: Database, purpose: str, cursor: str) -> list[Any]:
    """Return the values sealed in a cursor; CursorError (400) unless this server made it here."""
    if not cursor.isascii() or len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError()
    try:
        token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error) as error:
        raise CursorError() from error
    head = len(VERSION) + KEY_ID_BYTES
    if token[:1] != VERSION or len(token) < head + NONCE_BYTES + TAG_BYTES:
        raise CursorError()
    key = _key(db)
    if not hmac.compare_digest(token[1:head], _key_id(key)):
        raise ForeignCursor()
    nonce, sealed = token[head : head + NONCE_BYTES], token[head + NONCE_BYTES :]
    try:
        values = json.loads(AESGCM(key).decrypt(nonce, sealed, purpose.encode()))
    except InvalidTag as error:
        raise CursorError() from error
    if not isinstance(values, list):
        raise CursorError()
    return values


@dataclass(frozen=True)
class Keyset:
    """A list paged by a unique sort key: its name (binding its cursors) and its SQL columns."""

    name: str
    columns: tuple[str, ...]  # SQL expressions that sort the rows and together are unique
    descending: bool = False

    @property
    def order_by(self) -> str:
        """Return the ORDER BY list of this keyset."""
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{column}{direction}" for column in self.columns)

    def after(self, db: Database, cursor: str | None) -> tuple[str, list[Any]]:
        """Return the SQL condition keeping rows after the cursor ("1" without one) and values."""
        if not cursor:
            return "1", []
        values = unseal(db, self.name, cursor)
        if len(values) != len(self.columns):
            raise CursorError()
        marks = ", ".join("?" * len(values))
        return f"({', '.join(self.columns)}) {'<' if self.descending else '>'} ({marks})", values

    def fetch(
        self,
        db: Database,
        select: str,
        conditions: Sequence[str],
        values: Sequence[Any],
        *,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Run `select` WHERE the conditions, after the cursor, in key order: one page of it."""
        after, after_values = self.after(db, cursor)
        found = rows(
            db.execute(
                f"{select} WHERE {' AND '.join([*conditions, after])}"
                f" ORDER BY {self.order_by} LIMIT ?",
                [*values, *after_values, limit + 1],
            )
        )
        return self.page(db, found, limit, cursor)

    def page(
        self, db: Database, found: list[dict[str, Any]], limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Cut rows fetched with LIMIT limit + 1 to a page; return it, the next cursor, has_more."""
        has_more = len(found) > limit
        page = found[:limit]
        if not page:
            return page, cursor, has_more
        last = page[-1]
        keys = [column.rsplit(".", 1)[-1] for column in self.columns]
        return page, seal(db, self.name, [last[key] for key in keys]), has_more
