"""The log of every model call, in the manner of simonw/llm's ``logs.db``: a SQLite file, or
with ``NEWSDESK_DATABASE_URL`` a PostgreSQL table shared by every node (the rows are kept by a
:class:`CallRows`; ``service.store.engine.open_call_log`` picks it).

SQLite schema changes are ordered migration functions, applied once each and recorded in a
``_migrations`` table (PostgreSQL's are in service/store/pg_schema.py).  The SQLite file keeps
one connection behind a lock (WAL mode), so one :class:`CallLog` can be shared between threads.

:func:`call_model`, :func:`call_model_until` and :func:`stream_model` are what generation code calls: they run the
backend and write one row per call -- failures included (with the error text), after which
the error is re-raised.  A failure to *write* the log is logged, never raised: the call log
observes requests, it must not fail them.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.llm.base import (
    ChatBackend,
    ChatMessage,
    Completion,
    StreamGen,
    StreamHandle,
    Usage,
    elapsed_ms,
)

logger = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]


def _m001_calls(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_name TEXT,
            prompt_version TEXT,
            prompt_hash TEXT NOT NULL,
            retrieved_ids TEXT NOT NULL DEFAULT '[]',
            request TEXT NOT NULL,
            response TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            latency_ms REAL,
            error TEXT,
            cached INTEGER NOT NULL DEFAULT 0
        )
        """
    )


def _m002_finish_params_indexes(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE calls ADD COLUMN finish_reason TEXT")
    db.execute("ALTER TABLE calls ADD COLUMN params TEXT NOT NULL DEFAULT '{}'")
    db.execute("CREATE INDEX calls_ts ON calls (ts)")
    db.execute("CREATE INDEX calls_prompt ON calls (prompt_name, prompt_version)")


MIGRATIONS: list[Migration] = [_m001_calls, _m002_finish_params_indexes]
"""Applied in this order; append new ones, never edit or reorder released ones."""


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded in ``_migrations``; return the names applied.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with its
    ``_migrations`` row, so concurrent processes apply each one exactly once.
    """
    previous = db.isolation_level
    db.isolation_level = None  # we manage transactions explicitly
    applied: list[str] = []
    try:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for migration in migrations:
            name = migration.__name__.lstrip("_")
            db.execute("BEGIN IMMEDIATE")
            try:
                done = db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone()
                if done is None:
                    migration(db)
                    db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, _now()))
                    applied.append(name)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    finally:
        db.isolation_level = previous
    return applied


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def messages_json(messages: Sequence[ChatMessage]) -> str:
    """Canonical JSON of the rendered messages (what is stored and hashed)."""
    return json.dumps([m.as_dict() for m in messages], ensure_ascii=False, separators=(",", ":"))


def prompt_hash(messages: Sequence[ChatMessage]) -> str:
    """sha256 hex of :func:`messages_json`: equal prompts hash equal across runs."""
    return hashlib.sha256(messages_json(messages).encode("utf-8")).hexdigest()


_COLUMNS = ("ts", "backend", "model", "prompt_name", "prompt_version", "prompt_hash", "retrieved_ids", "request",
            "response", "prompt_tokens", "completion_tokens", "latency_ms", "error", "cached", "finish_reason",
            "params")
INSERT = f"INSERT INTO calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
"""The row insert, with ``?`` placeholders (the same table on both engines)."""


class CallRows(ABC):
    """Where the rows of the call log are kept: a SQLite file (:class:`SqliteCallRows`) or, with
    ``NEWSDESK_DATABASE_URL``, PostgreSQL (service/store/pg_calls.py).  Rows are read by column
    name, as stored (JSON text); :class:`CallLog` decodes them."""

    where: str
    """The file or the database (without its password), for messages."""
    errors: tuple[type[Exception], ...] = (OSError,)
    """What a failed write raises: logged by :func:`call_model`, never raised to the caller."""

    @abstractmethod
    def insert(self, row: tuple[Any, ...]) -> int: ...

    @abstractmethod
    def select(self, limit: int, offset: int) -> Sequence[Any]:
        """Newest first."""

    @abstractmethod
    def one(self, call_id: int) -> Any | None: ...

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def close(self) -> None:
        """Release the connection or pool."""


class SqliteCallRows(CallRows):
    """The call log's SQLite file at ``path`` (created and migrated on construction)."""

    errors = (sqlite3.Error, OSError)

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The log's one connection, used by one thread at a time.

        Kept open for the log's lifetime: with a connection opened and closed per call, every
        close was the last one, which checkpoints the WAL and deletes it (~3-5 ms per logged call
        on this machine, a good share of /v1/ask's own time with a fast backend).
        """
        with self._lock:
            if self._db is None:
                db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, no fsync per call
                self._db = db
            yield self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def insert(self, row: tuple[Any, ...]) -> int:
        with self._connect() as db, db:
            return int(db.execute(INSERT, row).lastrowid or 0)

    def select(self, limit: int, offset: int) -> Sequence[Any]:
        with self._connect() as db:
            return db.execute("SELECT * FROM calls ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()

    def one(self, call_id: int) -> Any | None:
        with self._connect() as db:
            return db.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])


class CallLog:
    """The call log: a SQLite file at ``path`` (created and migrated on construction), or the
    given ``rows`` (``service.store.engine.open_call_log`` picks the engine)."""

    def __init__(self, path: Path | str | None = None, *, rows: CallRows | None = None) -> None:
        if rows is None:
            if path is None:
                raise TypeError("CallLog needs a path or rows")
            rows = SqliteCallRows(path)
        self.rows = rows
        self.path = getattr(rows, "path", None)

    @property
    def where(self) -> str:
        return self.rows.where

    def close(self) -> None:
        self.rows.close()

    def record(
        self,
        *,
        backend: str,
        model: str,
        messages: Sequence[ChatMessage],
        response: str | None,
        prompt_name: str | None = None,
        prompt_version: str | None = None,
        retrieved_ids: Sequence[str] = (),
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
        cached: bool = False,
        finish_reason: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        """Insert one row; return its id."""
        row = (
            _now(),
            backend,
            model,
            prompt_name,
            prompt_version,
            prompt_hash(messages),
            json.dumps(list(retrieved_ids), ensure_ascii=False),
            messages_json(messages),
            response,
            prompt_tokens,
            completion_tokens,
            latency_ms,
            error,
            int(cached),
            finish_reason,
            json.dumps(params or {}, ensure_ascii=False, sort_keys=True),
        )
        return self.rows.insert(row)

    def list(self, limit: int = 20, offset: int = 0) -> builtins.list[dict[str, Any]]:
        """Newest first."""
        return [_row(r) for r in self.rows.select(limit, offset)]

    def get(self, call_id: int) -> dict[str, Any] | None:
        row = self.rows.one(call_id)
        return _row(row) if row is not None else None

    def count(self) -> int:
        return self.rows.count()


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["retrieved_ids"] = json.loads(out["retrieved_ids"])
    out["request"] = json.loads(out["request"])
    out["params"] = json.loads(out["params"])
    out["cached"] = bool(out["cached"])
    return out


# --- logged calls --------------------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _safe_record(log_: CallLog | None, **fields: Any) -> int | None:
    if log_ is None:
        return None
    try:
        return log_.record(**fields)
    except log_.rows.errors:
        logger.exception("could not write the model call log at %s", log_.where)
        return None


def _call_meta(messages: Sequence[ChatMessage], prompt_name: str | None, prompt_version: str | None,
               retrieved_ids: Sequence[str], temperature: float, max_tokens: int,
               stop: Sequence[str] | None) -> dict[str, Any]:
    """The log-row fields every call shares, whether completed or streamed."""
    return {
        "messages": list(messages),
        "prompt_name": prompt_name,
        "prompt_version": prompt_version,
        "retrieved_ids": list(retrieved_ids),
        "params": {"temperature": temperature, "max_tokens": max_tokens, "stop": list(stop or [])},
    }


def _record_failure(log_: CallLog | None, backend: ChatBackend, meta: dict[str, Any], start: float,
                    error: str, response: str | None = None) -> None:
    """The log row of a call that failed or was cancelled (``response``: the text it had sent)."""
    _safe_record(log_, backend=backend.name, model=backend.model, response=response,
                 latency_ms=elapsed_ms(start), error=error, **meta)


def call_model(
    backend: ChatBackend,
    messages: Sequence[ChatMessage],
    *,
    log: CallLog | None,
    prompt_name: str | None,
    prompt_version: str | None,
    retrieved_ids: Sequence[str] = (),
    temperature: float = 0.0,
    max_tokens: int = 512,
    stop: Sequence[str] | None = None,
) -> Completion:
    """``backend.complete(...)`` plus one log row (errors are logged, then re-raised)."""
    meta = _call_meta(messages, prompt_name, prompt_version, retrieved_ids, temperature, max_tokens, stop)
    start = time.perf_counter()
    try:
        completion = backend.complete(messages, temperature=temperature, max_tokens=max_tokens, stop=stop)
    except Exception as exc:
        _record_failure(log, backend, meta, start, _error_text(exc))
        raise
    _record_completion(log, completion, meta)
    return completion


def stream_model(
    backend: ChatBackend,
    messages: Sequence[ChatMessage],
    *,
    log: CallLog | None,
    prompt_name: str | None,
    prompt_version: str | None,
    retrieved_ids: Sequence[str] = (),
    temperature: float = 0.0,
    max_tokens: int = 512,
    stop: Sequence[str] | None = None,
) -> StreamHandle:
    """``backend.stream(...)``, logged when the stream ends, fails or is closed early.

    A stream closed before its end is logged with the text so far and
    ``error="cancelled: ..."``.
    """
    meta = _call_meta(messages, prompt_name, prompt_version, retrieved_ids, temperature, max_tokens, stop)
    inner = backend.stream(messages, temperature=temperature, max_tokens=max_tokens, stop=stop)

    def logged() -> StreamGen:
        start = time.perf_counter()
        try:
            yield from inner
        except GeneratorExit:
            inner.close()
            _record_failure(log, backend, meta, start,
                            f"cancelled: stream closed by the caller after {len(inner.text)} chars", inner.text)
            raise
        except Exception as exc:
            _record_failure(log, backend, meta, start, _error_text(exc), inner.text or None)
            raise
        completion = inner.completion
        _record_completion(log, completion, meta)
        return completion

    return StreamHandle(logged())


def call_model_until(
    backend: ChatBackend,
    messages: Sequence[ChatMessage],
    *,
    enough: Callable[[str], int | None],
    log: CallLog | None,
    prompt_name: str | None,
    prompt_version: str | None,
    retrieved_ids: Sequence[str] = (),
    temperature: float = 0.0,
    max_tokens: int = 512,
) -> Completion:
    """:func:`call_model` for a caller that keeps only the start of a reply: the reply is
    streamed, and once ``enough(text so far)`` returns a cut, the stream is closed (a local model
    stops decoding at once) and the reply is ``text[:cut]``, with ``finish_reason="enough"``.

    ``enough`` must return the same cut for a text however it arrived (token by token, or whole
    from a cache), so a live run and a cached one keep the same reply.  Logged as one completed
    call; a closed stream reports no usage, so ``completion_tokens`` counts the deltas received
    (one token each from llama.cpp and OpenAI streams) and ``prompt_tokens`` is unknown.
    """
    meta = _call_meta(messages, prompt_name, prompt_version, retrieved_ids, temperature, max_tokens, None)
    start = time.perf_counter()
    handle = backend.stream(messages, temperature=temperature, max_tokens=max_tokens)
    cut: int | None = None
    deltas = 0
    try:
        with handle:
            for _ in handle:
                deltas += 1
                if (cut := enough(handle.text)) is not None:
                    break
    except Exception as exc:
        _record_failure(log, backend, meta, start, _error_text(exc), handle.text or None)
        raise
    if cut is None:
        completion = handle.completion
    else:
        completion = Completion(handle.text[:cut], backend.model, backend.name, Usage(None, deltas),
                                elapsed_ms(start), "enough")
    _record_completion(log, completion, meta)
    return completion


def score_choices(
    backend: ChatBackend,
    messages: Sequence[ChatMessage],
    prefill: str,
    numbers: Sequence[int],
    *,
    log: CallLog | None,
    prompt_name: str | None,
    prompt_version: str | None,
    retrieved_ids: Sequence[str] = (),
) -> list[float] | None:
    """``backend.choice_probs(...)`` plus one log row (the probabilities as the response).

    A backend that cannot score returns ``None`` and nothing is logged: no model call was made.
    """
    meta = _call_meta(messages, prompt_name, prompt_version, retrieved_ids, 0.0, 0, None)
    meta["params"] = {"prefill": prefill, "numbers": list(numbers)}
    start = time.perf_counter()
    try:
        probs = backend.choice_probs(messages, prefill, numbers)
    except Exception as exc:
        _record_failure(log, backend, meta, start, _error_text(exc))
        raise
    if probs is not None:
        _safe_record(log, backend=backend.name, model=backend.model,
                     response=json.dumps([round(p, 6) for p in probs]), latency_ms=elapsed_ms(start),
                     finish_reason="scores", **meta)
    return probs


def _record_completion(log_: CallLog | None, completion: Completion, meta: dict[str, Any]) -> None:
    usage: Usage = completion.usage
    _safe_record(
        log_,
        backend=completion.backend,
        model=completion.model,
        response=completion.text,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        latency_ms=completion.latency_ms,
        finish_reason=completion.finish_reason,
        **meta,
    )
