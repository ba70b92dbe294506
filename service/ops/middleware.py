"""The edge of every HTTP request, as one pure ASGI middleware (it sees the raw body stream).

In order:
1. **Request id.** A sane incoming ``X-Request-ID`` is kept, else a new one is made; it is
   returned in the ``X-Request-ID`` header and set for every log line of the request.
2. **Load shedding.** A worker already serving ``max_inflight_requests`` answers 503 with
   Retry-After at once instead of queueing without bound, by the shortest path there is (a
   prebuilt problem body; one summary log line a second instead of one per refusal).
3. **Body size.** A body over ``max_body_bytes`` gets a 413 problem+json.  Clients that send
   ``Expect: 100-continue`` (curl) get it before they upload.  Others (Python's urllib) are
   already uploading: closing the socket on them would reset the connection before they read
   the answer, so the body is read and discarded first, up to ``max_drain_bytes``.  A chunked
   body (no Content-Length) is read here, up to the limit, and handed on whole.
4. **Access log and metrics**: one JSON line per request (method, path, route, status, time,
   key id -- never the key or any header), request count and latency per route.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders

from service.api.problems import respond
from service.errors import FieldError
from service.ops.logging import REQUEST_ID
from service.ops.metrics import HTTP_LATENCY, HTTP_REQUESTS, SHED

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

access = logging.getLogger("newsdesk.access")
_RID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNSHED = frozenset({"/healthz", "/readyz", "/metrics"})
DRAIN_TIMEOUT_S = 30.0


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return str(v.decode("latin-1"))
    return None


async def _drain(receive: Receive, cap: int) -> bool:
    """Read and drop the rest of the body. True when it was all read within ``cap`` bytes."""
    seen = 0

    async def run() -> bool:
        nonlocal seen
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return False
            seen += len(msg.get("body", b""))
            if not msg.get("more_body", False):
                return True
            if seen > cap:
                return False

    try:
        return await asyncio.wait_for(run(), DRAIN_TIMEOUT_S)
    except TimeoutError:
        return False


_SHED_BODY = json.dumps({"type": "https://newsdesk.dev/problems/overloaded", "title": "Service overloaded",
                         "status": 503, "detail": "this worker is at its limit of requests in flight; retry shortly"}
                        ).encode()


class EdgeMiddleware:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.inflight = 0
        self._shed_since_log = 0
        self._shed_logged_at = 0.0

    async def _shed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The cheapest possible 503: under overload every microsecond spent refusing is taken
        from the requests being served. Counted in metrics; logged as one summary line a second."""
        SHED.labels("inflight").inc()
        self._shed_since_log += 1
        now = time.monotonic()
        if now - self._shed_logged_at >= 1.0:
            access.warning("shed %d requests with 503 (over %d in flight)", self._shed_since_log, self.inflight - 1,
                           extra={"shed": self._shed_since_log, "status": 503})
            self._shed_since_log, self._shed_logged_at = 0, now
        if _header(scope, b"content-length") not in (None, "0") or _header(scope, b"transfer-encoding"):
            await _drain(receive, 64 * 1024 * 1024)  # see the module docstring: no reset for uploaders
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/problem+json"), (b"content-length", str(len(_SHED_BODY)).encode()),
            (b"retry-after", b"1"), (b"x-request-id", uuid.uuid4().hex.encode())]})
        await send({"type": "http.response.body", "body": _SHED_BODY})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if (services is not None and self.inflight >= services.settings.max_inflight_requests
                and scope["path"] not in _UNSHED):
            self.inflight += 1
            try:
                await self._shed(scope, receive, send)
            finally:
                self.inflight -= 1
            return
        incoming = _header(scope, b"x-request-id")
        rid = incoming if incoming and _RID.match(incoming) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        self.inflight += 1
        try:
            await self._handle(scope, receive, send_with_id)
        finally:
            self.inflight -= 1
            elapsed = time.perf_counter() - started
            route_obj = scope.get("route")
            route = getattr(route_obj, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status[0])).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            state = scope.get("state") or {}
            client = scope.get("client")
            access.info("%s %s %s", scope["method"], scope["path"], status[0], extra={
                "request_id": rid, "method": scope["method"], "path": scope["path"], "route": route,
                "status": status[0], "duration_ms": round(elapsed * 1000, 1), "key_id": state.get("key_id"),
                "client": client[0] if client else None})
            REQUEST_ID.reset(token)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if services is None:  # before the lifespan has built the services: nothing to enforce yet
            await self.app(scope, receive, send)
            return
        settings = services.settings
        expects = (_header(scope, b"expect") or "").lower() == "100-continue"

        async def refuse(response: Any, *, drain: bool) -> None:
            if drain and not expects:
                if not await _drain(receive, settings.max_drain_bytes):
                    response.headers["Connection"] = "close"
            await response(scope, receive, send)

        limit = settings.max_body_bytes
        declared = _header(scope, b"content-length")
        too_large = respond(scope.get("path"), 413, "payload-too-large", "Payload too large",
                            f"the body exceeds the limit of {limit} bytes",
                            [FieldError("body", f"larger than the limit of {limit} bytes")])
        if declared is not None and declared.strip().isdigit():
            if int(declared) > limit:
                await refuse(too_large, drain=True)
                return
            await self.app(scope, receive, send)
            return
        if declared is None and (_header(scope, b"transfer-encoding") or "").lower().find("chunked") >= 0:
            body = bytearray()
            more = True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                body += msg.get("body", b"")
                more = bool(msg.get("more_body", False))
                if len(body) > limit:
                    await refuse(too_large, drain=more)
                    return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)
