"""Starts the model worker, restarts it when it dies, and carries calls to it.

:class:`ModelWorker` owns one worker process (:mod:`service.llm.worker`): it starts it, waits on
it in a thread, and when it dies (a signal, an abort, the OOM killer) records the crash and
starts a new one after a backoff that grows with crashes in a row (0, 1, 2, 4 ... 30 s; a worker
that stayed up a minute resets it). A worker that exits with ``EXIT_CONFIG`` (model not
installed) is not restarted.

:class:`WorkerClient` sends one call per connection. A connection that closes before the answer
means the worker died in the middle of this call: the caller gets :class:`ModelCrashed` (503
``model-crashed``, with Retry-After), and the next call waits for the new worker.

One worker per process and model (:func:`worker_for`); ``serve --workers N`` starts one in the
parent and hands its socket to the API processes (``NEWSDESK_MODEL_SOCKET``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.config import REPO_ROOT, Settings
from service.errors import ModelCrashed, ModelMissing, UpstreamTimeout, UpstreamUnavailable
from service.llm import wire
from service.llm.worker import EXIT_CONFIG

log = logging.getLogger("newsdesk.model")

BACKOFF_S = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
"""Delay before restarting a worker after 1, 2, 3 ... crashes in a row."""
STABLE_S = 60.0
"""A worker that lived this long before it died starts the backoff over."""
RESTART_S = 5.0
"""About how long a new worker takes until it answers (process start and model load)."""
KEEP_CRASHES = 20
CRASH_HINT = ("Run `newsdesk doctor` to see this CPU and how llama.cpp was built. llama.cpp compiled with "
              "-march=native on an Intel CPU with AMX dies this way (llama.cpp#20824); reinstall it as a portable "
              "AVX2 build with `make llama`, or: CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON "
              "-DGGML_F16C=ON -DGGML_BMI2=ON\" pip install --force-reinstall --no-cache-dir llama-cpp-python==0.3.36")


def exit_name(returncode: int) -> str:
    """'SIGSEGV' for a worker killed by a signal, 'exit 3' for one that exited."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit {returncode}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ModelWorker:
    """One supervised worker process for ``model`` (a ``LOCAL_MODELS`` key)."""

    def __init__(self, settings: Settings, model: str) -> None:
        self.settings = settings
        self.model = model
        self._dir = Path(tempfile.mkdtemp(prefix="newsdesk-model-"))  # short: a socket path has 107 bytes
        self.socket_path = str(self._dir / "model.sock")
        self.restarts = 0
        self.crashes: list[dict[str, Any]] = []
        self.state = "starting"
        self.failure: str | None = None
        self._in_a_row = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._monitor: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> ModelWorker:
        self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="model-supervisor", daemon=True)
        self._monitor.start()
        return self

    def _config(self) -> dict[str, Any]:
        s = self.settings
        return {"local_model": self.model, "cache_dir": str(s.cache_dir), "data_dir": str(s.data_dir),
                "llm_threads": s.llm_threads, "llm_context_tokens": s.llm_context_tokens,
                "local_queue_timeout_s": s.local_queue_timeout_s, "local_fake_llama": s.local_fake_llama}

    def _spawn(self) -> None:
        info = {"restarts": self.restarts, "last_crash": self.crashes[-1] if self.crashes else None}
        cmd = [sys.executable, "-m", "service.llm.worker", "--socket", self.socket_path,
               "--config", json.dumps(self._config()), "--info", json.dumps(info), "--parent", str(os.getpid())]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        Path(self.socket_path).unlink(missing_ok=True)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
        self._started = time.monotonic()
        with self._changed:
            self.state = "running"
            self._changed.notify_all()
        log.info("model worker started (pid %d, %s)", self._proc.pid, self.model)

    def _watch(self) -> None:
        while not self._stop.is_set():
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stop.is_set():
                break
            lived = time.monotonic() - self._started
            crash = {"pid": proc.pid, "how": exit_name(code), "at": _now(), "uptime_s": round(lived, 1)}
            if code == EXIT_CONFIG:
                with self._changed:
                    self.state, self.failure = "failed", "the model worker could not load the model (see its log)"
                    self.crashes.append(crash)
                    self._changed.notify_all()
                log.error("model worker pid %d could not start the model; not restarting it", proc.pid)
                return
            if lived >= STABLE_S:
                self._in_a_row = 0
            delay = BACKOFF_S[min(self._in_a_row, len(BACKOFF_S) - 1)]
            self._in_a_row += 1
            with self._changed:
                self.crashes = [*self.crashes, crash][-KEEP_CRASHES:]
                self.state = "restarting"
                self._changed.notify_all()
            log.error("model worker pid %d died (%s) after %.0f s; restarting it in %.0f s",
                      proc.pid, crash["how"], lived, delay)
            if self._stop.wait(delay):
                break
            self.restarts += 1
            self._spawn()

    def stop(self) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with self._changed:
            self.state = "stopped"
            self._changed.notify_all()
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- what callers see -----------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def death_of(self, pid: int | None, wait_s: float = 2.0) -> dict[str, Any] | None:
        """The recorded crash of worker ``pid``, waiting briefly for the supervisor to see it."""
        deadline = time.monotonic() + wait_s
        with self._changed:
            while True:
                found = next((c for c in reversed(self.crashes) if c["pid"] == pid), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._changed.wait(left)

    def retry_after(self) -> float:
        return BACKOFF_S[min(self._in_a_row, len(BACKOFF_S) - 1)] + RESTART_S

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "pid": self.pid, "restarts": self.restarts,
                "last_crash": self.crashes[-1] if self.crashes else None, "crashes": len(self.crashes),
                "failure": self.failure}

    def client(self) -> WorkerClient:
        return WorkerClient(self.socket_path, self.settings, supervisor=self)


class WorkerClient:
    """Calls into a model worker at ``socket_path`` (ours, or the one ``serve`` started)."""

    def __init__(self, socket_path: str, settings: Settings, *, supervisor: ModelWorker | None = None) -> None:
        self.socket_path = socket_path
        self.settings = settings
        self.supervisor = supervisor

    def _connect(self) -> tuple[socket.socket, int | None]:
        deadline = time.monotonic() + self.settings.model_start_timeout_s
        while True:
            sup = self.supervisor
            pid = sup.pid if sup is not None else None
            if sup is not None and sup.state == "failed":
                raise ModelMissing(f"the local model cannot run: {sup.failure}; `newsdesk doctor` says why")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.socket_path)
                return sock, pid
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
            if time.monotonic() >= deadline:
                retry = sup.retry_after() if sup is not None else RESTART_S
                raise UpstreamUnavailable(f"the local model's worker did not accept calls within "
                                          f"{self.settings.model_start_timeout_s:g} s (restarting?)", retry_after=retry)
            time.sleep(0.05)

    def _crashed(self, pid: int | None) -> ModelCrashed:
        sup = self.supervisor
        crash = sup.death_of(pid) if sup is not None else None
        how = f" ({crash['how']})" if crash else ""
        return ModelCrashed(f"the local model's process died{how} while serving this request; it is being "
                            f"restarted and nothing stored was touched. Try again shortly.",
                            retry_after=sup.retry_after() if sup is not None else RESTART_S)

    def _first_wait_s(self) -> float:
        return self.settings.local_queue_timeout_s + self.settings.llm_timeout_s

    def call(self, req: dict[str, Any], *, timeout_s: float | None = None) -> Any:
        sock, pid = self._connect()
        with sock:
            sock.settimeout(timeout_s or self._first_wait_s())
            try:
                wire.send(sock, req)
                resp = wire.recv(sock)
            except TimeoutError as exc:
                raise UpstreamTimeout(f"the local model gave no answer to {req['op']} in time") from exc
            except (ConnectionResetError, BrokenPipeError):
                resp = None
            if resp is None:
                raise self._crashed(pid)
            if "error" in resp:
                raise wire.error_in(resp["error"])
            return resp["ok"]

    def stream(self, req: dict[str, Any]) -> Generator[str, None, Any]:
        """Yields the worker's deltas; returns its final value. Closing it hangs up, which stops
        the worker's generation and frees the model for the next call."""
        sock, pid = self._connect()
        with sock:
            sock.settimeout(self._first_wait_s())
            try:
                wire.send(sock, req)
                while True:
                    resp = wire.recv(sock)
                    if resp is None:
                        raise self._crashed(pid)
                    if "delta" in resp:
                        yield resp["delta"]
                        sock.settimeout(self.settings.llm_timeout_s)
                        continue
                    if "error" in resp:
                        raise wire.error_in(resp["error"])
                    return resp["ok"]
            except TimeoutError as exc:
                raise UpstreamTimeout("the local model stopped sending tokens") from exc
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise self._crashed(pid) from exc


_workers: dict[tuple[Any, ...], ModelWorker] = {}
_workers_lock = threading.Lock()


def _key(settings: Settings, model: str) -> tuple[Any, ...]:
    return (model, str(settings.cache_dir), settings.llm_threads, settings.llm_context_tokens,
            settings.local_fake_llama)


def worker_for(settings: Settings, model: str) -> ModelWorker:
    """This process's worker for ``model``, started on first use."""
    with _workers_lock:
        worker = _workers.get(_key(settings, model))
        if worker is None or worker.state == "stopped":
            worker = _workers[_key(settings, model)] = ModelWorker(settings, model).start()
        return worker


def running_worker(settings: Settings, model: str) -> ModelWorker | None:
    with _workers_lock:
        return _workers.get(_key(settings, model))


@atexit.register
def stop_workers() -> None:
    with _workers_lock:
        workers = list(_workers.values())
        _workers.clear()
    for worker in workers:
        worker.stop()
