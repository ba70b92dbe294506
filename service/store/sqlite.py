"""The small SQLite files beside the catalogue (briefings, feeds, keys, rate limits): one way to
open them, create their tables and write in a transaction.

Every file is in WAL mode, so readers in any worker see the last committed state while one
process writes, and the busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


def connect(path: Path, *, timeout_s: float = 30.0, foreign_keys: bool = False,
            any_thread: bool = False) -> sqlite3.Connection:
    """An autocommit connection whose rows read by name (``isolation_level=None``: transactions
    are opened explicitly, with :func:`transaction`)."""
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=not any_thread)
    db.row_factory = sqlite3.Row
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock up front: no upgrade deadlock between processes),
    then COMMIT, or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def file_transaction(path: Path, *, foreign_keys: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection of its own to ``path`` for one :func:`transaction`, closed after."""
    db = connect(path, foreign_keys=foreign_keys)
    try:
        with transaction(db):
            yield db
    finally:
        db.close()


def create(path: Path, schema: Sequence[str], *, timeout_s: float = 30.0) -> None:
    """Make the file (and its folder) exist in WAL mode with ``schema`` applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, timeout_s=timeout_s)
    try:
        _wal(db, timeout_s)
        with transaction(db):
            for stmt in schema:
                db.execute(stmt)
    finally:
        db.close()


def _wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """``PRAGMA journal_mode=WAL``, retried: switching needs the file to itself, and SQLite reports
    "database is locked" at once, without its busy timeout, while another connection opening the
    same new file holds it for a moment (two stores created at once, in threads or workers)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class FileStore:
    """A store in one SQLite file (created with ``schema``); each operation opens a connection of
    its own for one transaction, so there is nothing to hold between calls."""

    schema: Sequence[str] = ()
    foreign_keys = False

    def __init__(self, path: Path) -> None:
        self.path = path
        create(path, self.schema)

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return file_transaction(self.path, foreign_keys=self.foreign_keys)

    def close(self) -> None:
        """Nothing to release."""


class PerThread:
    """One open connection per thread, for stores hit on every request (keys, rate limits),
    where opening a connection per call would cost more than the query."""

    def __init__(self, path: Path, *, timeout_s: float = 30.0, pragmas: Sequence[str] = ()) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.pragmas = tuple(pragmas)
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, timeout_s=self.timeout_s, any_thread=True)
            for pragma in self.pragmas:
                db.execute(pragma)
            self._local.db = db
        return db

    def close(self) -> None:
        """Close the calling thread's connection (the others close when their thread ends)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
