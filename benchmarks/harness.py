"""Start real ``newsdesk serve`` processes on loopback for the reliability tests and scripts.

Each service gets a private data dir, a free port, the fake chat backend and ``nice -n 19``.
Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from service.store.keys import KeyStore
from vectorstore.server import free_port

HOST = "127.0.0.1"


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self, key: str | None = None, timeout: float = 60.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout_s: float = 90.0) -> int:
        """SIGTERM (graceful: in-flight requests finish) and wait; SIGKILL the group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return int(self.proc.returncode)

    def kill9(self) -> None:
        """SIGKILL the whole process group (the parent and its workers), as a crash would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def service_env(data_dir: Path, **settings: Any) -> dict[str, str]:
    """The environment of a service: no NEWSDESK_* from outside, a private data dir, fake model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "PROMETHEUS_MULTIPROC"))}
    env.update({"NEWSDESK_DATA_DIR": str(data_dir), "NEWSDESK_LLM_BACKEND": "fake", "ANONYMIZED_TELEMETRY": "False"})
    for k, v in settings.items():
        env[f"NEWSDESK_{k.upper()}"] = "" if v is None else str(v)
    return env


def start_service(data_dir: Path, *, workers: int = 1, port: int | None = None, seed: bool = False,
                  log_name: str = "serve.log", ready_timeout_s: float = 180.0, nice: int = 19,
                  extra_args: tuple[str, ...] = (), **settings: Any) -> Service:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(HOST)
    env = service_env(data_dir, **settings)
    cmd = ["nice", "-n", str(nice), sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port),
           "--workers", str(workers), "--seed" if seed else "--no-seed", *extra_args]
    log_path = data_dir / log_name
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    svc = Service(proc, port, data_dir, log_path, env)
    wait_healthy(svc, ready_timeout_s)
    return svc


def wait_healthy(svc: Service, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not svc.alive():
            raise RuntimeError(f"newsdesk serve exited with {svc.proc.returncode}:\n{svc.log_text()[-3000:]}")
        try:
            if httpx.get(svc.url + "/readyz", timeout=5.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    svc.kill9()
    raise TimeoutError(f"newsdesk serve did not become ready in {timeout_s:g}s:\n{svc.log_text()[-3000:]}")


def make_key(data_dir: Path, scope: str, name: str = "test", *, database_url: str | None = None) -> str:
    """A key in the data dir's catalogue, or with ``database_url`` in that PostgreSQL database
    (what `newsdesk keys create` does)."""
    if database_url:
        from service.config import Settings
        from service.store.engine import open_keys

        keys = open_keys(Settings(data_dir=data_dir, database_url=database_url))
        try:
            return keys.create(name, scope).key
        finally:
            keys.close()
    store = KeyStore(data_dir / "catalog.sqlite3")
    try:
        return store.create(name, scope).key
    finally:
        store.close()


def synthetic_articles(n: int, *, sentences: int = 6, prefix: str = "a", seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct, plausible news articles (each ~6 sentences) with stable ids."""
    import random

    rnd = random.Random(seed)
    places = ["Kyiv", "Seoul", "Lagos", "Lima", "Oslo", "Hanoi", "Quito", "Accra", "Dhaka", "Tunis"]
    actors = ["the finance ministry", "city officials", "the central bank", "union leaders", "the coast guard",
              "health authorities", "the election commission", "researchers", "the port authority", "farmers"]
    verbs = ["announced", "rejected", "delayed", "approved", "questioned", "expanded", "suspended", "reviewed"]
    things = ["a new budget", "the fuel subsidy", "a rail contract", "the water plan", "new tariffs",
              "a vaccine drive", "the border deal", "flood defences", "a wage increase", "the school reform"]
    out = []
    for i in range(n):
        place = rnd.choice(places)
        lines = []
        for j in range(sentences):
            lines.append(f"In {place}, {rnd.choice(actors)} {rnd.choice(verbs)} {rnd.choice(things)} "
                         f"on day {rnd.randint(1, 28)} after {rnd.randint(2, 900)} people signed petition {i}-{j}.")
        out.append({"id": f"{prefix}{i:05d}", "title": f"{place} report {i}", "source": rnd.choice(["AP", "Reuters"]),
                    "published_at": f"2026-11-{1 + i % 28:02d}", "text": " ".join(lines)})
    return out
