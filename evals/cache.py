"""Model responses cached in SQLite, keyed by (backend, model, rendered-prompt hash, parameters).

:class:`CachingBackend` wraps any registered :class:`ChatBackend`; the runner puts it into
``Services.backends`` so the pipeline (``answer(services, params)``) runs unchanged.  Every call
is noted in a :class:`CacheLedger` (hit or miss, and the latency the response first took), and
:class:`EvalCallLog` writes ``cached=1`` on the call-log rows of hits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, Usage, elapsed_ms
from service.logs.calls import CallLog, CallRows, prompt_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    params TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    finish_reason TEXT,
    latency_ms REAL NOT NULL,
    created TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class CacheEvent:
    hit: bool
    latency_ms: float  # of the original call, for hits too


@dataclass(slots=True)
class CacheLedger:
    events: list[CacheEvent] = field(default_factory=list)
    _pending: bool | None = None

    def note(self, event: CacheEvent) -> None:
        self.events.append(event)
        self._pending = event.hit

    def calling(self) -> None:
        """A miss is about to call the model (a failure is logged as not cached)."""
        self._pending = False

    def take_pending(self) -> bool:
        """Whether the call being logged right now was a hit (read once)."""
        hit, self._pending = bool(self._pending), None
        return hit

    @property
    def hits(self) -> int:
        return sum(e.hit for e in self.events)

    @property
    def misses(self) -> int:
        return len(self.events) - self.hits


def cache_key(backend: str, model: str, messages: Sequence[ChatMessage], params: dict[str, Any]) -> str:
    blob = json.dumps([backend, model, prompt_hash(messages), params], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def get(self, key: str) -> Completion | None:
        with self._connect() as db:
            row = db.execute("SELECT backend, model, text, prompt_tokens, completion_tokens, finish_reason, "
                             "latency_ms FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        backend, model, text, pt, ct, finish, latency = row
        return Completion(text, model, backend, Usage(pt, ct), latency, finish)

    def put(self, key: str, messages: Sequence[ChatMessage], params: dict[str, Any], c: Completion) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, c.backend, c.model, prompt_hash(messages), json.dumps(params, sort_keys=True), c.text,
                        c.usage.prompt_tokens, c.usage.completion_tokens, c.finish_reason, c.latency_ms,
                        datetime.now(UTC).isoformat(timespec="seconds")))

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


class CachingBackend(ChatBackend):
    """``inner`` behind the response cache; same name and model, so logs and keys stay honest."""

    def __init__(self, inner: ChatBackend, cache: ResponseCache, ledger: CacheLedger) -> None:
        self.inner, self.cache, self.ledger = inner, cache, ledger
        self.name, self.model = inner.name, inner.model

    def _key(self, messages: Sequence[ChatMessage], temperature: float, max_tokens: int,
             stop: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
        params = {"temperature": temperature, "max_tokens": max_tokens, "stop": list(stop or [])}
        return cache_key(self.name, self.model, messages, params), params

    def _hit(self, key: str) -> Completion | None:
        cached = self.cache.get(key)
        if cached is None:
            self.ledger.calling()
            return None
        self.ledger.note(CacheEvent(True, cached.latency_ms))
        return Completion(cached.text, cached.model, cached.backend, cached.usage, 0.0, cached.finish_reason)

    def _store(self, key: str, messages: Sequence[ChatMessage], params: dict[str, Any], c: Completion) -> None:
        self.ledger.note(CacheEvent(False, c.latency_ms))
        if c.finish_reason != "error":
            self.cache.put(key, messages, params, c)

    def complete(self, messages: Sequence[ChatMessage], *, temperature: float = 0.0, max_tokens: int = 512,
                 stop: Sequence[str] | None = None) -> Completion:
        key, params = self._key(messages, temperature, max_tokens, stop)
        hit = self._hit(key)
        if hit is not None:
            return hit
        completion = self.inner.complete(messages, temperature=temperature, max_tokens=max_tokens, stop=stop)
        self._store(key, messages, params, completion)
        return completion

    def _stream(self, messages: list[ChatMessage], *, temperature: float, max_tokens: int,
                stop: Sequence[str] | None) -> StreamGen:
        key, params = self._key(messages, temperature, max_tokens, stop)
        hit = self._hit(key)
        if hit is not None:
            yield hit.text
            return hit
        with self.inner.stream(messages, temperature=temperature, max_tokens=max_tokens, stop=stop) as handle:
            yield from handle
            completion = handle.completion
        self._store(key, messages, params, completion)
        return completion


    def choice_probs(self, messages: Sequence[ChatMessage], prefill: str,
                     numbers: Sequence[int]) -> list[float] | None:
        params: dict[str, Any] = {"prefill": prefill, "numbers": list(numbers)}
        if self.inner.scoring:  # a backend that asks for the vote in words: a new ask is a new vote
            params["scoring"] = self.inner.scoring
        key = cache_key(self.name, self.model, messages, params)
        hit = self._hit(key)
        if hit is not None:
            return [float(p) for p in json.loads(hit.text)] if hit.text != "null" else None
        start = time.perf_counter()
        probs = self.inner.choice_probs(messages, prefill, numbers)
        latency = elapsed_ms(start)
        self._store(key, messages, params, Completion(json.dumps(probs), self.model, self.name,
                                                      latency_ms=latency, finish_reason="scores"))
        return probs


class EvalCallLog(CallLog):
    """The service's call log, with ``cached=1`` on the rows of cache hits."""

    def __init__(self, path: Path | None = None, ledger: CacheLedger | None = None, *,
                 rows: CallRows | None = None) -> None:
        super().__init__(path, rows=rows)  # rows: service.store.engine.open_call_log(settings, EvalCallLog)
        self.ledger = ledger

    def record(self, **fields: Any) -> int:
        taken = self.ledger.take_pending() if self.ledger is not None else False
        fields["cached"] = bool(fields.get("cached")) or taken
        return super().record(**fields)
