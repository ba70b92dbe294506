"""llama.cpp's own OpenAI-compatible server (``python -m llama_cpp.server``) on loopback, running
the desk's GGUF with the same threads and context as the embedded backend: the stand-in for
"any OpenAI-compatible server" in benchmarks and slow tests.

    with llama_server(settings) as base_url:   # http://127.0.0.1:<free port>/v1
        ...

The server comes with the ``local`` extra (``llama-cpp-python[server]``).  It keeps its
``logits_all`` default (on): llama-cpp-python refuses ``logprobs`` without it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2

from service.config import Settings
from service.llm.weights import ensure_local_model
from vectorstore.server import free_port

ALIAS = "qwen-server"
"""The model name the server answers to (``--model openai:qwen-server``)."""


@contextlib.contextmanager
def llama_server(settings: Settings, *, log_path: Path | None = None, timeout_s: float = 120.0) -> Iterator[str]:
    """Start the server, wait until it lists its model, yield its base URL; stop it on exit."""
    model = ensure_local_model(settings)
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(settings.llm_context_tokens),
           "--n_threads", str(settings.llm_threads), "--n_threads_batch", str(settings.llm_threads)]
    out = log_path.open("ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode} (see {log_path})")
            try:
                if httpx2.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout_s:.0f}s")
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            out.close()  # type: ignore[union-attr]
