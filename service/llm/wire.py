"""How the web server and the model worker talk: length-prefixed JSON over a Unix socket.

One request per connection. A frame is a 4-byte big-endian length and that many bytes of UTF-8
JSON. The worker answers with ``{"ok": value}`` or ``{"error": {...}}``; a stream first sends
``{"delta": "text"}`` frames. A connection that ends before the answer means the worker died.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from service.errors import (
    ConfigError,
    InvalidInput,
    ModelMissing,
    NewsdeskError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from service.llm.base import ChatMessage, Completion, Usage

MAX_FRAME = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")


def send(sock: socket.socket, obj: Any) -> None:
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv(sock: socket.socket) -> Any | None:
    """The next frame, or ``None`` when the peer closed the connection (or died)."""
    head = _read_exact(sock, _HEADER.size)
    if head is None:
        return None
    (n,) = _HEADER.unpack(head)
    if n > MAX_FRAME:
        raise ConnectionError(f"model worker frame of {n} bytes is over the {MAX_FRAME} limit")
    body = _read_exact(sock, n)
    return None if body is None else json.loads(body.decode("utf-8"))


def messages_out(messages: Any) -> list[dict[str, str]]:
    return [m.as_dict() for m in messages]


def messages_in(items: list[dict[str, str]]) -> list[ChatMessage]:
    return [ChatMessage(m["role"], m["content"]) for m in items]  # type: ignore[arg-type]


def completion_out(c: Completion) -> dict[str, Any]:
    return {"text": c.text, "model": c.model, "backend": c.backend, "prompt_tokens": c.usage.prompt_tokens,
            "completion_tokens": c.usage.completion_tokens, "latency_ms": c.latency_ms,
            "finish_reason": c.finish_reason}


def completion_in(d: dict[str, Any], *, latency_ms: float | None = None) -> Completion:
    return Completion(text=d["text"], model=d["model"], backend=d["backend"],
                      usage=Usage(d.get("prompt_tokens"), d.get("completion_tokens")),
                      latency_ms=d["latency_ms"] if latency_ms is None else latency_ms,
                      finish_reason=d.get("finish_reason"))


def error_out(exc: NewsdeskError) -> dict[str, Any]:
    return {"error": {"slug": exc.slug, "detail": exc.detail, "retry_after": exc.retry_after}}


_ERRORS: dict[str, type[NewsdeskError]] = {cls.slug: cls for cls in (
    UpstreamUnavailable, UpstreamTimeout, ModelMissing, ConfigError, InvalidInput)}


def error_in(err: dict[str, Any]) -> NewsdeskError:
    """The domain error the worker raised, raised again on this side of the socket."""
    cls = _ERRORS.get(err.get("slug", ""), UpstreamUnavailable)
    return cls(str(err.get("detail", "model worker error")), retry_after=err.get("retry_after"))
