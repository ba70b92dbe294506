"""Prometheus metrics (``GET /metrics``).

With several workers, ``newsdesk serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start; prometheus_client then keeps every worker's values in files there, and any worker's
``/metrics`` reports the sum over all of them.  With one process the values live in memory.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _mp

from service.logs.calls import CallLog

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter("newsdesk_http_requests", "HTTP requests by route and status.",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("newsdesk_http_request_duration_seconds", "HTTP request latency by route.",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
MODEL_CALLS = Counter("newsdesk_model_calls", "Model calls by backend and outcome.", ["backend", "outcome"])
MODEL_TOKENS = Counter("newsdesk_model_tokens", "Model tokens by backend and kind.", ["backend", "kind"])
MODEL_QUEUE = Gauge("newsdesk_model_queue_depth", "Model-route requests waiting for a slot.",
                    multiprocess_mode="livesum")
MODEL_INFLIGHT = Gauge("newsdesk_model_inflight", "Model-route requests running.", multiprocess_mode="livesum")
INGEST_ARTICLES = Counter("newsdesk_ingest_articles", "Ingested articles by outcome.", ["status"])
RATE_LIMITED = Counter("newsdesk_rate_limited", "Requests refused with 429, by bucket.", ["bucket"])
SHED = Counter("newsdesk_shed", "Requests refused with 503 before running, by reason.", ["reason"])


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a stopped worker's live gauges (called by the supervisor)."""
    if os.environ.get(MULTIPROC_ENV):
        _mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class MeteredCallLog(CallLog):
    """The call log, counting every model call and its tokens as it writes the row."""

    def record(self, **fields: Any) -> int:
        backend = str(fields.get("backend") or "unknown")
        MODEL_CALLS.labels(backend, "error" if fields.get("error") else "ok").inc()
        for kind in ("prompt", "completion"):
            n = fields.get(f"{kind}_tokens")
            if n:
                MODEL_TOKENS.labels(backend, kind).inc(n)
        return super().record(**fields)
