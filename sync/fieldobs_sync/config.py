"""The CLI's home directory: where the server is, the token, the database."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_HOME = "~/.fieldobs-sync"
CONFIG_FILE = "config.json"
DB_FILE = "outbox.sqlite3"


@dataclass
class Config:
    """What `login` remembers."""

    base_url: str
    username: str
    token: str
    role: str | None = None


def home_dir(arg: str | None) -> Path:
    """Return the home directory: the argument, else $FIELDOBS_SYNC_HOME, else the default."""
    raw = arg or os.environ.get("FIELDOBS_SYNC_HOME") or DEFAULT_HOME
    return Path(raw).expanduser()


def db_path(home: Path) -> Path:
    """Return the SQLite file of the outbox and replica, creating the home if needed."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home / DB_FILE


def load(home: Path) -> Config | None:
    """Return the saved login, or None before the first login."""
    try:
        data = json.loads((home / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return Config(**{k: data.get(k) for k in ("base_url", "username", "token", "role")})


def save(home: Path, config: Config) -> None:
    """Save the login atomically, readable only by its owner (it holds a token)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".config-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(config), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, home / CONFIG_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
