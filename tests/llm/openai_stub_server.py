"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI chat completions API.

Tests script its behaviour per request with a queue of actions; when the queue is empty it
answers normally.  Every request is recorded (path, headers, JSON body) in ``.requests``.

    with OpenAIStub() as stub:
        stub.push(Status(429, headers={"Retry-After": "0.3"}), Reply("hi"))
        ... OpenAI(base_url=stub.url) ...
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Reply:
    """A normal answer (streamed word by word when the request asks for a stream)."""

    text: str = "stub reply"
    model: str = "stub-model"
    prompt_tokens: int = 11
    completion_tokens: int = 2
    finish_reason: str = "stop"
    delay_s: float = 0.0
    """Sleep before sending anything (to trigger client timeouts)."""
    stall_after_chunks: int | None = None
    """Streams only: sleep ``stall_s`` after this many content chunks."""
    stall_s: float = 0.0
    logprobs: list[dict[str, Any]] | None = None
    """``choices[0].logprobs.content`` of a completion (``{"token", "logprob", "top_logprobs"}`` each)."""


@dataclass
class Status:
    """An error status with an OpenAI-style error body."""

    code: int
    message: str = "stub error"
    headers: dict[str, str] = field(default_factory=dict)


Action = Reply | Status


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class OpenAIStub:
    def __init__(self, *, reject_stream_options: bool = False) -> None:
        self.actions: deque[Action] = deque()
        self.requests: list[Recorded] = []
        self.reject_stream_options = reject_stream_options
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def push(self, *actions: Action) -> None:
        with self._lock:
            self.actions.extend(actions)

    def _next(self) -> Action:
        with self._lock:
            return self.actions.popleft() if self.actions else Reply()

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection; streams end on close

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub._record(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if not self.path.endswith("/chat/completions"):
                    self._error(Status(404, f"no route {self.path}"))
                    return
                if stub.reject_stream_options and "stream_options" in body:
                    self._error(Status(400, "Unrecognized request argument supplied: stream_options"))
                    return
                action = stub._next()
                try:
                    if isinstance(action, Status):
                        self._error(action)
                    elif body.get("stream"):
                        self._stream(action, body)
                    else:
                        self._complete(action)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to do

            def _send_json(self, code: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: Status) -> None:
                payload = {"error": {"message": status.message, "type": "stub_error", "code": None}}
                self._send_json(status.code, payload, status.headers)

            def _complete(self, reply: Reply) -> None:
                time.sleep(reply.delay_s)
                payload = {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": reply.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.text},
                            "finish_reason": reply.finish_reason,
                            "logprobs": None if reply.logprobs is None else {"content": reply.logprobs},
                        }
                    ],
                    "usage": {
                        "prompt_tokens": reply.prompt_tokens,
                        "completion_tokens": reply.completion_tokens,
                        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                    },
                }
                self._send_json(200, payload, {})

            def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
                time.sleep(reply.delay_s)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def chunk(delta: dict[str, Any], finish: str | None = None,
                          logprobs: dict[str, Any] | None = None) -> None:
                    payload: dict[str, Any] = {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": reply.model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}],
                    }
                    self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                    self.wfile.flush()

                chunk({"role": "assistant", "content": ""})
                pieces: list[tuple[str, dict[str, Any] | None]]
                if reply.logprobs is not None:  # one token a chunk, each with its logprobs
                    pieces = [(entry["token"], {"content": [entry]}) for entry in reply.logprobs]
                else:  # word by word
                    pieces = [(word if i == 0 else " " + word, None) for i, word in enumerate(reply.text.split(" "))]
                for index, (text, logprobs) in enumerate(pieces):
                    if reply.stall_after_chunks is not None and index == reply.stall_after_chunks:
                        time.sleep(reply.stall_s)
                    chunk({"content": text}, logprobs=logprobs)
                chunk({}, reply.finish_reason)
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {
                        "prompt_tokens": reply.prompt_tokens,
                        "completion_tokens": reply.completion_tokens,
                        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                    }
                    payload = {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": reply.model,
                        "choices": [],
                        "usage": usage,
                    }
                    self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler
