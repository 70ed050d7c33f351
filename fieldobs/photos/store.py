"""Content-addressed storage of sanitised photos and thumbnails under DATA_DIR/photos.

A blob is named by the sha256 of its bytes (`photos/ab/ab12…`), so the same picture is stored
once and a name never changes meaning. Writes are atomic and durable: a temp file in the target
directory, fsync, rename, fsync of the directory. Original uploads never come here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PhotoStore:
    """Put, find and delete blobs by sha256 under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Return where the blob with this sha256 lives (it may not exist)."""
        if not SHA256_HEX.match(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """Tell whether the blob is stored."""
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store bytes durably under their sha256 and return it; storing twice is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.is_file():
            # Fresh mtime: the orphan sweep leaves recently touched blobs alone.
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)
            if target.is_file():
                return sha256
        self._ensure_dir(target.parent)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        os.replace(temp, target)
        fsync_dir(target.parent)
        return sha256

    def delete(self, sha256: str) -> bool:
        """Remove a blob; return whether it was there."""
        target = self.path(sha256)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(target.parent)
        return True

    def blobs(self, older_than_seconds: float = 0) -> Iterator[str]:
        """Yield the sha256 of every stored blob last written longer ago than given."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - older_than_seconds
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if not SHA256_HEX.match(entry.name):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime <= cutoff:
                        yield entry.name

    def stale_temp_files(self, older_than_seconds: float) -> Iterator[Path]:
        """Yield temp files a crashed write left behind."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - older_than_seconds
        for temp in self.root.glob("*/.tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime <= cutoff:
                    yield temp

    def _ensure_dir(self, folder: Path) -> None:
        if folder.is_dir():
            return
        folder.mkdir(parents=True, exist_ok=True)
        fsync_dir(folder.parent)


def store_for(data_dir: Path | str) -> PhotoStore:
    """Return the photo store of a data directory."""
    # Absolute: Flask's send_file would take a relative path as relative to the package.
    return PhotoStore(Path(data_dir).absolute() / "photos")
