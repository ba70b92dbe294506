"""The model worker: the one process that holds llama.cpp, serving the web server's model calls.

``python -m service.llm.worker --socket PATH --config JSON`` (started by
:class:`service.llm.supervisor.ModelWorker`, never by hand). It listens on a Unix socket, loads
the model in the background, and serves ``complete``, ``stream``, ``choice_probs``, ``probe``,
``warm`` and ``status`` (see :mod:`service.llm.wire`). Calls run one at a time: the engine's lock
queues them, and a call that waits longer than ``local_queue_timeout_s`` gets "busy". The prompt
prefixes' KV states live here, next to the context they belong to.

A native crash in llama.cpp (the AMX SIGSEGV of llama.cpp#20824, an abort, the OOM killer) ends
this process only: the web server sees the connection close, answers 503 ``model-crashed``, and
the supervisor starts a new worker. The worker exits by itself when its parent goes away.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Generator
from typing import Any

from service.config import Settings
from service.errors import NewsdeskError, UpstreamUnavailable
from service.llm import wire
from service.llm.base import Completion
from service.llm.engine import InProcessBackend

log = logging.getLogger("newsdesk.model_worker")

CRASH_FILE_ENV = "NEWSDESK_TEST_WORKER_CRASH_FILE"
"""Tests only: when the file this names exists, the worker deletes it and kills itself with SIGSEGV
-- a real native crash, once. Where is the file's text: ``stream`` (or empty) after the second
delta of a stream, ``complete`` inside a completion, ``probe`` in the start-up check."""
CRASH_AT_DELTA = 2
EXIT_CONFIG = 3
"""Exit status of a worker that cannot start (model not installed): the supervisor does not retry."""


def _crash_if_asked(where: str) -> None:
    path = os.environ.get(CRASH_FILE_ENV)
    try:
        if not path or (open(path).read().strip() or "stream") != where:
            return
    except FileNotFoundError:
        return
    os.unlink(path)
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the test's working directory
    # to this thread, as a real fault is: os.kill() may land on another thread while this one
    # goes on and sends its answer before the process dies
    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
    time.sleep(60)  # not reached: the default action ends the process


class Worker:
    def __init__(self, backend: InProcessBackend, info: dict[str, Any]) -> None:
        self.backend = backend
        self.info = info
        self.started = time.time()
        self.load_error: str | None = None
        self.served = 0

    def warm_in_background(self) -> None:
        def load() -> None:
            try:
                self.backend.warm()
            except NewsdeskError as exc:  # reported by status and raised again by the next call
                self.load_error = exc.detail
                log.error("model worker could not load the model: %s", exc.detail)

        threading.Thread(target=load, name="model-load", daemon=True).start()

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "uptime_s": round(time.time() - self.started, 1), "served": self.served,
                "load_error": self.load_error, "model": self.backend.model, **self.backend.stats(), **self.info}

    def handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                req = wire.recv(conn)
                if req is None:
                    return
                self._dispatch(conn, req)
            except (BrokenPipeError, ConnectionResetError):
                log.info("a client left before its answer was sent")
            except NewsdeskError as exc:
                self._reply(conn, wire.error_out(exc))
            except Exception as exc:  # a bug here must reach the caller as an error, not a hang
                log.exception("model worker request failed")
                self._reply(conn, wire.error_out(UpstreamUnavailable(f"model worker error: {exc!r}")))

    @staticmethod
    def _reply(conn: socket.socket, obj: Any) -> None:
        try:
            wire.send(conn, obj)
        except OSError:
            pass  # the client is gone; nothing to tell

    def _dispatch(self, conn: socket.socket, req: dict[str, Any]) -> None:
        op = req.get("op")
        b = self.backend
        if op == "status":
            wire.send(conn, {"ok": self.status()})
            return
        self.served += 1
        if op == "complete":
            _crash_if_asked("complete")
            c = b.complete(wire.messages_in(req["messages"]), temperature=req["temperature"],
                           max_tokens=req["max_tokens"], stop=req.get("stop"))
            wire.send(conn, {"ok": wire.completion_out(c)})
        elif op == "stream":
            gen = b._stream(wire.messages_in(req["messages"]), temperature=req["temperature"],
                            max_tokens=req["max_tokens"], stop=req.get("stop"))
            wire.send(conn, {"ok": wire.completion_out(self._relay(conn, gen))})
        elif op == "choice_probs":
            wire.send(conn, {"ok": b.choice_probs(wire.messages_in(req["messages"]), req["prefill"], req["numbers"])})
        elif op == "probe":
            _crash_if_asked("probe")
            wire.send(conn, {"ok": b.probe(int(req.get("prompt_tokens", 128)), int(req.get("decode_tokens", 16)))})
        elif op == "warm":
            b.warm()
            wire.send(conn, {"ok": None})
        else:
            wire.send(conn, {"error": {"slug": "invalid-input", "detail": f"unknown model worker op {op!r}"}})

    @staticmethod
    def _relay(conn: socket.socket, gen: Generator[str, None, Completion]) -> Completion:
        """Send each delta as it comes; a client that hangs up closes the generator (and frees the model)."""
        n = 0
        try:
            while True:
                try:
                    delta = next(gen)
                except StopIteration as stop:
                    return stop.value
                wire.send(conn, {"delta": delta})
                n += 1
                if n == CRASH_AT_DELTA:
                    _crash_if_asked("stream")
        finally:
            gen.close()


def _watch_parent(parent: int) -> None:
    """Exit when the process that started us is gone (its socket directory goes with it)."""
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def serve(path: str, worker: Worker) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}.tmp"
    server.bind(tmp)
    os.chmod(tmp, 0o600)
    server.listen(64)
    os.replace(tmp, path)  # the socket appears only once it accepts
    while True:
        conn, _ = server.accept()
        threading.Thread(target=worker.handle, args=(conn,), name="model-request", daemon=True).start()


def build_backend(settings: Settings) -> InProcessBackend:
    if settings.local_fake_llama:
        from service.llm.fake import FakeLlama

        return InProcessBackend(settings, llama=FakeLlama())
    return InProcessBackend(settings)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m service.llm.worker", description="Newsdesk's model worker.")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--config", required=True, help="JSON of Settings fields")
    ap.add_argument("--info", default="{}", help="JSON the supervisor wants reported by status")
    ap.add_argument("--parent", type=int, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="model-worker %(levelname)s %(message)s")
    threading.Thread(target=_watch_parent, args=(args.parent or os.getppid(),), daemon=True).start()
    settings = Settings(**json.loads(args.config))
    try:
        backend = build_backend(settings)
    except NewsdeskError as exc:
        log.error("%s", exc.detail)
        return EXIT_CONFIG
    worker = Worker(backend, json.loads(args.info))
    worker.warm_in_background()
    serve(args.socket, worker)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
