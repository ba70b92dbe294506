"""Run ``chroma run`` (the console script of the chromadb wheel) as a child process.

Several API workers must share one Chroma server: two embedded clients on one directory
silently corrupt reads.  ``newsdesk serve --workers N`` uses this when no
``NEWSDESK_CHROMA_HOST`` is set, and the tests use it for a real server.  Loopback only; the
server downloads nothing (every collection is opened with our own embedding function).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

HEARTBEAT = "/api/v2/heartbeat"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def chroma_executable() -> str:
    """The ``chroma`` script next to this interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).with_name("chroma")
    found = str(here) if here.exists() else shutil.which("chroma")
    if not found:
        raise FileNotFoundError("the `chroma` command of the chromadb package is not installed")
    return found


def _die_with_parent() -> None:
    """Linux: SIGTERM the server when the process that started it dies, even by kill -9, so a
    crashed ``serve`` never leaves an orphan server on the directory for the next one to share."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


ANNOUNCE_FILE = "chroma-server.json"


def announce(data_dir: Path, server: ChromaServer) -> Path:
    """Tell other processes on this data dir (the CLI) to use the running server instead of
    opening the directory embedded, which would corrupt reads."""
    path = data_dir / ANNOUNCE_FILE
    tmp = path.with_suffix(".tmp")
    pid = server.proc.pid if server.proc else None
    tmp.write_text(json.dumps({"host": server.host, "port": server.port, "pid": pid, "owner": os.getpid()}))
    tmp.replace(path)
    return path


def announced(data_dir: Path) -> tuple[str, int] | None:
    """(host, port) of a live server announced for this data dir, else None."""
    path = data_dir / ANNOUNCE_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["host"]), int(info["port"])


class ChromaServer:
    """``with ChromaServer(path) as srv:`` -> a server on ``srv.host:srv.port`` until the block ends."""

    def __init__(self, path: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 log_file: Path | None = None, start_timeout_s: float = 30.0, nice: int = 0) -> None:
        self.path = path
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.start_timeout_s = start_timeout_s
        self.nice = nice
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        cmd = [chroma_executable(), "run", "--path", str(self.path), "--host", self.host, "--port", str(self.port)]
        if self.nice:
            cmd = ["nice", "-n", str(self.nice), *cmd]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True,  # Ctrl-C in a terminal reaches us, not it
                                         preexec_fn=_die_with_parent)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                where = self.log_file or "its output"
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}; see {where}")
            try:
                if httpx.get(self.url + HEARTBEAT, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"chroma run did not answer on {self.url} within {self.start_timeout_s:g}s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests and the crash script)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
