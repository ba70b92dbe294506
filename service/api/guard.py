"""Who may call what, how often, and how many model calls run at once.

One router-level dependency chain on every /v1 route and /metrics:

1. :func:`authorize` -- with ``NEWSDESK_AUTH=required``, the ``Authorization: Bearer`` key must
   exist, be unrevoked and have the scope the route needs (:func:`required_scope`): 401 or 403
   otherwise.  Then the request is counted against its key's rate limit (per client address
   when auth is off) in the bucket for model calls or the one for everything else: 429 with
   Retry-After when it is spent.  The counters live in SQLite, shared by all workers.
2. :func:`model_slot` -- model routes take one of ``model_concurrency`` slots of this worker
   for the whole response (streams included).  At most ``model_queue_size`` requests wait, for
   at most ``model_queue_timeout_s``; the others get 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.config import parse_rate
from service.errors import Forbidden, Overloaded, RateLimited, Unauthorized
from service.ops.metrics import MODEL_INFLIGHT, MODEL_QUEUE, RATE_LIMITED, SHED
from service.schemas import Problem
from service.store.keys import covers

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey", bearerFormat="ndk_<id>_<secret>",
                    description="A key from `newsdesk keys create` (needed when NEWSDESK_AUTH=required). "
                                "Scopes: read (ask, search, summaries, GETs), write (ingest, delete, "
                                "build briefings), admin (keys, metrics).")

MODEL_ROUTES = frozenset({("POST", "/v1/ask"), ("POST", "/v1/chat/completions"), ("POST", "/v1/summaries"),
                          ("POST", "/v1/briefings")})
WRITE_ROUTES = frozenset({("POST", "/v1/articles"), ("DELETE", "/v1/articles/{article_id}"),
                          ("POST", "/v1/briefings"), ("POST", "/v1/feeds"), ("DELETE", "/v1/feeds/{feed_id}"),
                          ("POST", "/v1/feeds/{feed_id}/poll")})
ADMIN_PREFIXES = ("/v1/keys", "/metrics")


def required_scope(method: str, route: str) -> Literal["read", "write", "admin"]:
    if route.startswith(ADMIN_PREFIXES):
        return "admin"
    if (method, route) in WRITE_ROUTES:
        return "write"
    return "read"


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", request.url.path)


def authorize(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str | None:
    """Check the key and count the request; returns the key id (None with auth off).

    A plain ``def``: FastAPI runs it in the threadpool, so a busy SQLite never blocks the loop.
    """
    services = request.app.state.services
    settings = services.settings
    method, route = request.method, _route(request)
    key_id: str | None = None
    if settings.auth == "required":
        if credentials is None:
            raise Unauthorized("this service needs an API key: send `Authorization: Bearer ndk_...`")
        info = services.keys.verify(credentials.credentials)
        need = required_scope(method, route)
        request.state.key_id = key_id = info.id
        if not covers(info.scope, need):
            raise Forbidden(f"key {info.id} has scope {info.scope!r}; {method} {route} needs {need!r}")
    bucket = "model" if (method, route) in MODEL_ROUTES else "default"
    limit = parse_rate(settings.rate_limit_model if bucket == "model" else settings.rate_limit_default)
    if limit is not None:
        client = request.client.host if request.client else "unknown"
        ident = f"key:{key_id}" if key_id else f"addr:{client}"
        wait = services.limiter.hit(bucket, ident, limit)
        if wait is not None:
            RATE_LIMITED.labels(bucket).inc()
            n, period = limit
            raise RateLimited(f"rate limit of {n} per {period:g}s for {bucket} requests reached; "
                              f"retry in {math.ceil(wait)}s", retry_after=wait)
    return key_id


class ModelGate:
    """Per-worker slots for model routes, with a bounded, timed queue in front."""

    def __init__(self, slots: int, queue_size: int, timeout_s: float) -> None:
        self.slots = slots
        self.queue_size = queue_size
        self.timeout_s = timeout_s
        self._sem = asyncio.Semaphore(slots)
        self.waiting = 0
        self._avg_s = 1.0  # moving average of a slot's hold time, for Retry-After

    def retry_after(self) -> float:
        return max(1.0, self._avg_s * (self.waiting + 1) / self.slots)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if self._sem.locked() and self.waiting >= self.queue_size:
            SHED.labels("model_queue_full").inc()
            raise Overloaded(f"{self.waiting} model requests are already waiting in this worker",
                             retry_after=self.retry_after())
        self.waiting += 1
        MODEL_QUEUE.inc()
        try:
            await asyncio.wait_for(self._sem.acquire(), self.timeout_s)
        except TimeoutError:
            SHED.labels("model_queue_timeout").inc()
            raise Overloaded(f"waited {self.timeout_s:g}s for a model slot in this worker",
                             retry_after=self.retry_after()) from None
        finally:
            self.waiting -= 1
            MODEL_QUEUE.dec()
        MODEL_INFLIGHT.inc()
        started = asyncio.get_running_loop().time()
        try:
            yield
        finally:
            self._avg_s = 0.8 * self._avg_s + 0.2 * (asyncio.get_running_loop().time() - started)
            MODEL_INFLIGHT.dec()
            self._sem.release()


async def model_slot(request: Request) -> AsyncIterator[None]:
    """Holds a model slot until the response is sent (FastAPI runs the exit after the body)."""
    if (request.method, _route(request)) not in MODEL_ROUTES:
        yield
        return
    gate: ModelGate = request.app.state.model_gate
    async with gate.hold():
        yield


GUARDS = [Depends(authorize), Depends(model_slot)]


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Problem's JSON schema with its ``$defs`` inlined (an operation's response cannot point at them)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return dict(walk(schema))


PROBLEM_SCHEMA = _inline_refs(Problem.model_json_schema())


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}


GUARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No key, or an unknown or revoked one (NEWSDESK_AUTH=required)."),
    403: _problem("The key's scope does not cover this route."),
    413: _problem("The body is larger than NEWSDESK_MAX_BODY_BYTES."),
    429: _problem("The key's rate limit is spent; see Retry-After."),
    503: _problem("The worker is overloaded or the model queue is full; see Retry-After."),
}
