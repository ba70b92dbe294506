"""API keys, stored hashed in the catalogue (table ``api_keys`` of ``catalog.sqlite3``), or in
PostgreSQL with ``NEWSDESK_DATABASE_URL`` (service/store/pg_keys.py): one contract, :class:`Keys`.

A key looks like ``ndk_<id>_<secret>``: ``id`` (8 hex characters) names the row and may be
shown and logged; ``secret`` (32 random bytes, base64url) is shown once, by ``create``, and only
its sha256 is kept.  The secret has 256 bits of entropy, so a plain hash is enough (no slow
password hash is needed), and comparison is constant-time.

Scopes nest: ``admin`` covers ``write``, which covers ``read``.  Every process opens its own
connections (one per thread, or a pool), so revoking a key in one worker, on one node or in the
CLI takes effect in all workers on their next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from service.errors import InvalidInput, NotFound, Unauthorized
from service.store import sqlite

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
_RANK = {s: i for i, s in enumerate(SCOPES)}
_KEY = re.compile(r"^ndk_(?P<id>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{20,128})$")
_NAME = re.compile(r"^[\w .@:/+-]{1,100}$")
_TOUCH_EVERY_S = 60.0
Row = Mapping[str, Any] | sqlite3.Row
"""A row read by column name: ``sqlite3.Row`` or psycopg's ``dict_row``."""

_SCHEMA = """CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, hash TEXT NOT NULL,
    created_at TEXT NOT NULL, revoked_at TEXT, last_used_at REAL)"""


def covers(have: str, need: str) -> bool:
    """Does a key of scope ``have`` allow a request that needs ``need``?"""
    return _RANK.get(have, -1) >= _RANK[need]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    name: str
    scope: str
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class NewKey:
    id: str
    name: str
    scope: str
    key: str
    """The only time the plain key exists outside the client."""


class Keys(ABC):
    """The contract every engine keeps: the checks and errors live here, once; an engine supplies
    five small queries (below) and ``close``."""

    # -- management (CLI and /v1/keys call these) -----------------------------------------------
    def create(self, name: str, scope: str) -> NewKey:
        if not _NAME.match(name or ""):
            raise InvalidInput.for_field("name", "1-100 letters, digits, spaces or . @ : / + - _")
        if scope not in SCOPES:
            raise InvalidInput.for_field("scope", f"choose one of {', '.join(SCOPES)}")
        secret = secrets.token_urlsafe(32)
        for _ in range(5):
            key_id = secrets.token_hex(4)
            if self._insert(key_id, name, scope, _digest(secret), _now()):
                return NewKey(key_id, name, scope, f"ndk_{key_id}_{secret}")
            # an id collision (1 in 4 billion): draw another
        raise RuntimeError("could not draw a free key id")

    def list(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        return [_info(r) for r in self._rows() if include_revoked or r["revoked_at"] is None]

    def revoke(self, key_id: str) -> KeyInfo:
        changed = self._mark_revoked(key_id, _now())
        row = self._get(key_id)
        if row is None:
            raise NotFound(f"no key with id {key_id!r}")
        if not changed:
            raise InvalidInput.for_field("id", f"key {key_id!r} is already revoked")
        return _info(row)

    # -- per request -------------------------------------------------------------------------
    def verify(self, presented: str) -> KeyInfo:
        """The key's info, or Unauthorized. The message never repeats the presented key."""
        m = _KEY.match(presented.strip())
        if m is None:
            raise Unauthorized("malformed API key; expected `Authorization: Bearer ndk_...`")
        row = self._get(m["id"])
        if row is None or not hmac.compare_digest(row["hash"], _digest(m["secret"])):
            raise Unauthorized("unknown API key")
        if row["revoked_at"] is not None:
            raise Unauthorized(f"API key {row['id']} was revoked at {row['revoked_at']}")
        now = time.time()
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_EVERY_S:
            self._touch(row["id"], now)
        return _info(row)

    # -- the engine's part ----------------------------------------------------------------------
    @abstractmethod
    def _insert(self, key_id: str, name: str, scope: str, digest: str, created_at: str) -> bool:
        """Add a row; False when ``key_id`` is taken."""

    @abstractmethod
    def _rows(self) -> Sequence[Row]:
        """Every row, by ``created_at`` then ``id``."""

    @abstractmethod
    def _get(self, key_id: str) -> Row | None: ...

    @abstractmethod
    def _mark_revoked(self, key_id: str, at: str) -> bool:
        """Set ``revoked_at`` on an unrevoked key; False when there was none."""

    @abstractmethod
    def _touch(self, key_id: str, now: float) -> None:
        """Bookkeeping: record ``last_used_at``, never waiting long for it (skipped when busy)."""

    @abstractmethod
    def close(self) -> None: ...


class KeyStore(Keys):
    """SQLite: the ``api_keys`` table of the catalogue file."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        sqlite.create(path, [_SCHEMA], timeout_s=busy_timeout_s)
        self._conns = sqlite.PerThread(path, timeout_s=busy_timeout_s)
        self._db = self._conns.get

    def _insert(self, key_id: str, name: str, scope: str, digest: str, created_at: str) -> bool:
        try:
            self._db().execute("INSERT INTO api_keys(id, name, scope, hash, created_at) VALUES (?,?,?,?,?)",
                               (key_id, name, scope, digest, created_at))
        except sqlite3.IntegrityError:
            return False
        return True

    def _rows(self) -> Sequence[Row]:
        return self._db().execute("SELECT * FROM api_keys ORDER BY created_at, id").fetchall()

    def _get(self, key_id: str) -> Row | None:
        row: Row | None = self._db().execute("SELECT * FROM api_keys WHERE id=?", (key_id,)).fetchone()
        return row

    def _mark_revoked(self, key_id: str, at: str) -> bool:
        return self._db().execute("UPDATE api_keys SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                                  (at, key_id)).rowcount > 0

    def _touch(self, key_id: str, now: float) -> None:
        db = self._db()
        db.execute("PRAGMA busy_timeout=200")  # bookkeeping only: never wait long for it
        try:
            db.execute("UPDATE api_keys SET last_used_at=? WHERE id=?", (now, key_id))
        except sqlite3.OperationalError:  # the catalogue is busy: skip, the next request retries
            pass
        finally:
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")

    def close(self) -> None:
        self._conns.close()


def _info(row: Row) -> KeyInfo:
    used = row["last_used_at"]
    return KeyInfo(row["id"], row["name"], row["scope"], row["created_at"], row["revoked_at"],
                   datetime.fromtimestamp(used, UTC).isoformat(timespec="seconds") if used else None)
