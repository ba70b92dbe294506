"""Followed feeds, the entries seen in each, and the per-feed poll claims: one contract,
:class:`Feeds`, whose SQL both engines run.

SQLite in ``settings.data_dir / "feeds.sqlite3"`` (:class:`FeedStore`); like the briefing store,
every operation opens its own connection, so threads and processes can share the file.  With
``NEWSDESK_DATABASE_URL``, PostgreSQL (service/store/pg_feeds.py), shared by every node.  Code
above service/store opens the store with ``service.store.engine.open_feeds``.  A poll holds a
claim on its feed (:mod:`service.store.claims`, released when the poll ends, renewed while it
runs): of any number of workers (or nodes) that find a feed due, exactly one polls it.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.store import sqlite
from service.store.claims import ClaimTable

if TYPE_CHECKING:
    from service.config import Settings

CLAIMS = ClaimTable("feed_claims", ("feed_id",))

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS feeds (
        id TEXT PRIMARY KEY, url TEXT NOT NULL UNIQUE, source TEXT, every_s INTEGER NOT NULL,
        title TEXT, site_url TEXT, created_at REAL NOT NULL, next_poll_at REAL NOT NULL,
        last_polled_at REAL, last_success_at REAL, last_error_at REAL, last_error TEXT, last_error_kind TEXT,
        last_http_status INTEGER, etag TEXT, last_modified TEXT, body_hash TEXT,
        failures INTEGER NOT NULL DEFAULT 0, polls INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS feeds_due ON feeds(next_poll_at)",
    """CREATE TABLE IF NOT EXISTS feed_entries (
        feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE, entry_key TEXT NOT NULL,
        article_id TEXT NOT NULL, fingerprint TEXT NOT NULL, text_from TEXT NOT NULL,
        first_seen_at REAL NOT NULL, last_seen_at REAL NOT NULL, PRIMARY KEY (feed_id, entry_key))""",
    CLAIMS.schema(),
]

_COUNTS = ("(SELECT COUNT(*) FROM feed_entries e WHERE e.feed_id=f.id) AS entries_seen, "
           "(SELECT COUNT(DISTINCT article_id) FROM feed_entries e WHERE e.feed_id=f.id) AS articles")


_STORES: dict[Path, FeedStore] = {}
_STORES_LOCK = threading.Lock()


def feed_store(settings: Settings) -> FeedStore:
    """The data dir's SQLite feed store (it holds no connection, so one per file is shared)."""
    path = settings.data_dir / "feeds.sqlite3"
    with _STORES_LOCK:
        store = _STORES.get(path)
        if store is None or not path.exists():
            store = _STORES[path] = FeedStore(path)
        return store


def feed_id_for(url: str) -> str:
    return "f" + hashlib.sha256(url.encode()).hexdigest()[:12]


class Feeds(ABC):
    """The feed store on either engine: ``_tx`` gives a connection inside one transaction whose
    ``execute`` takes ``?`` placeholders; all the SQL below is common to SQLite and PostgreSQL."""

    _FEED_LOCK = ""
    """Appended to the read of a feed row that must not vanish before the transaction ends
    (PostgreSQL: ``FOR KEY SHARE``; SQLite's write lock already covers the file)."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds (a PostgreSQL pool)."""

    # -- feeds ---------------------------------------------------------------------------
    def add(self, feed_id: str, url: str, source: str | None, every_s: int, *, now: float) -> bool:
        """False when the URL is already followed."""
        with self._tx() as db:
            return bool(db.execute("INSERT INTO feeds(id, url, source, every_s, created_at, next_poll_at) "
                                   "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                   (feed_id, url, source, every_s, now, now)).rowcount)

    def get(self, feed_id: str) -> dict[str, Any] | None:
        with self._tx() as db:
            row = db.execute(f"SELECT f.*, {_COUNTS} FROM feeds f WHERE f.id=?", (feed_id,)).fetchone()
            claim = CLAIMS.holder(db, (feed_id,)) if row else None
        return _with_claim(dict(row), claim) if row else None

    def by_url(self, url: str) -> dict[str, Any] | None:
        with self._tx() as db:
            row = db.execute("SELECT id FROM feeds WHERE url=?", (url,)).fetchone()
        return self.get(row["id"]) if row else None

    def list_feeds(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = db.execute(f"SELECT f.*, {_COUNTS} FROM feeds f ORDER BY f.created_at, f.id").fetchall()
            claims = {r["feed_id"]: dict(r) for r in db.execute(f"SELECT * FROM {CLAIMS.table}")}
        return [_with_claim(dict(r), claims.get(r["id"])) for r in rows]

    def remove(self, feed_id: str) -> bool:
        with self._tx() as db:
            db.execute(f"DELETE FROM {CLAIMS.table} WHERE feed_id=?", (feed_id,))
            return bool(db.execute("DELETE FROM feeds WHERE id=?", (feed_id,)).rowcount)

    def due(self, now: float) -> list[str]:
        with self._tx() as db:
            return [r["id"] for r in db.execute("SELECT id FROM feeds WHERE next_poll_at<=? ORDER BY next_poll_at, id",
                                                (now,))]

    def next_due_at(self) -> float | None:
        with self._tx() as db:
            row = db.execute("SELECT MIN(next_poll_at) AS t FROM feeds").fetchone()
        return row["t"] if row else None

    # -- claims ----------------------------------------------------------------------------
    def claim(self, feed_id: str, worker: str, *, now: float, stale_after_s: float) -> bool:
        with self._tx() as db:
            return CLAIMS.claim(db, (feed_id,), worker, now=now, stale_after_s=stale_after_s)

    def renew(self, feed_id: str, worker: str, *, now: float) -> bool:
        with self._tx() as db:
            return CLAIMS.renew(db, (feed_id,), worker, now=now)

    def release(self, feed_id: str, worker: str) -> bool:
        with self._tx() as db:
            return CLAIMS.release(db, (feed_id,), worker)

    # -- poll results ------------------------------------------------------------------------
    def record_not_modified(self, feed_id: str, *, now: float, next_poll_at: float, http_status: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE feeds SET last_polled_at=?, last_success_at=?, last_http_status=?, failures=0, "
                       "next_poll_at=?, polls=polls+1 WHERE id=?", (now, now, http_status, next_poll_at, feed_id))

    def record_success(self, feed_id: str, *, now: float, next_poll_at: float, http_status: int,
                       etag: str | None, last_modified: str | None, body_hash: str, title: str | None,
                       site_url: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE feeds SET last_polled_at=?, last_success_at=?, last_http_status=?, failures=0, "
                       "next_poll_at=?, etag=?, last_modified=?, body_hash=?, title=COALESCE(?, title), "
                       "site_url=COALESCE(?, site_url), polls=polls+1 WHERE id=?",
                       (now, now, http_status, next_poll_at, etag, last_modified, body_hash, title, site_url,
                        feed_id))

    def record_error(self, feed_id: str, *, now: float, next_poll_at: float, kind: str, error: str,
                     http_status: int | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE feeds SET last_polled_at=?, last_error_at=?, last_error=?, last_error_kind=?, "
                       "last_http_status=?, failures=failures+1, next_poll_at=?, polls=polls+1 WHERE id=?",
                       (now, now, error, kind, http_status, next_poll_at, feed_id))

    def set_next_poll(self, feed_id: str, next_poll_at: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE feeds SET next_poll_at=? WHERE id=?", (next_poll_at, feed_id))

    # -- entries -----------------------------------------------------------------------------
    def entries(self, feed_id: str) -> dict[str, dict[str, Any]]:
        with self._tx() as db:
            return {r["entry_key"]: dict(r) for r in db.execute("SELECT * FROM feed_entries WHERE feed_id=?",
                                                                 (feed_id,))}

    def record_entries(self, feed_id: str, rows: Sequence[tuple[str, str, str, str]], *, now: float) -> None:
        """(entry_key, article_id, fingerprint, text_from) for entries that became articles."""
        with self._tx() as db:
            if db.execute(f"SELECT 1 FROM feeds WHERE id=?{self._FEED_LOCK}", (feed_id,)).fetchone() is None:
                return  # the feed was removed while it was being polled
            db.executemany(
                "INSERT INTO feed_entries(feed_id, entry_key, article_id, fingerprint, text_from, first_seen_at, "
                "last_seen_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(feed_id, entry_key) DO UPDATE SET "
                "article_id=excluded.article_id, fingerprint=excluded.fingerprint, text_from=excluded.text_from, "
                "last_seen_at=excluded.last_seen_at",
                [(feed_id, key, aid, fp, src, now, now) for key, aid, fp, src in rows])


class FeedStore(sqlite.FileStore, Feeds):
    """Feeds in the SQLite file ``path``."""

    schema = _SCHEMA
    foreign_keys = True


def _with_claim(row: dict[str, Any], claim: dict[str, Any] | None) -> dict[str, Any]:
    row["polling_by"] = claim["worker"] if claim else None
    row["polling_since"] = claim["claimed_at"] if claim else None
    return row
