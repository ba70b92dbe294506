"""``newsdesk serve``: one process, or N uvicorn workers sharing one Chroma server.

* One worker: the app runs in this process; Chroma is embedded unless NEWSDESK_CHROMA_HOST is set.
* N workers: two embedded Chroma clients on one directory corrupt reads, so every worker talks
  to one Chroma server.  Without NEWSDESK_CHROMA_HOST, ``chroma run`` is started here on a free
  loopback port over ``DATA_DIR/chroma`` and stopped when serve exits.  Metrics from all
  workers are summed through a PROMETHEUS_MULTIPROC_DIR made here.
* The local model runs in one worker process that serve starts, checks with a short completion
  (refusing to start when it cannot run) and restarts when it dies; API processes reach it
  through its socket.
* Binding anything but loopback without NEWSDESK_AUTH=required is refused unless ``insecure``.
* SIGTERM or Ctrl-C: each worker stops accepting, finishes in-flight requests (an ingest batch
  included) for up to ``shutdown_timeout_s``, then closes its stores; Chroma stops last.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings
from service.errors import ConfigError, ModelMissing, NewsdeskError
from service.ops.logging import configure as configure_logging
from service.ops.logging import uvicorn_log_config
from service.ops.metrics import MULTIPROC_ENV
from service.runtime import Services, build_services

if TYPE_CHECKING:
    from service.llm.supervisor import ModelWorker

log = logging.getLogger("newsdesk.serve")


def is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that might resolve anywhere counts as public


def check_bind(host: str, settings: Settings, *, insecure: bool) -> None:
    if is_loopback(host) or settings.auth == "required" or insecure:
        return
    raise ConfigError(f"refusing to serve on {host} without authentication: set NEWSDESK_AUTH=required "
                      f"and create keys with `newsdesk keys create`, or pass --insecure")


def check_port(host: str, port: int) -> None:
    """Fail at once when the port is taken, before the model loads and the seeds are ingested
    (uvicorn would find out only then, and say so in a log line)."""
    if port == 0:
        return
    addr = host.strip("[]")
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((addr, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): another server, perhaps a "
                              f"newsdesk already running, holds it; stop it or pass --port N") from exc


def start_model(settings: Settings) -> ModelWorker | None:
    """Start the model worker and run a short completion in it before anything is served.

    A model that cannot run (llama.cpp crashing on this CPU) stops serve here with a message that
    names the fix, instead of killing the server on the first question. A model that is not
    installed only warns: ingest, search and the desk work without it."""
    if settings.llm_backend != "local" or settings.local_in_process:
        return None
    from service.llm.local import start_model_worker
    from service.llm.supervisor import CRASH_HINT

    try:
        worker = start_model_worker(settings)
    except ModelMissing as exc:
        log.warning("the local model is not installed (%s); questions get 503 model-missing until it is", exc.detail)
        return None
    try:
        probe = worker.client().call({"op": "probe", "prompt_tokens": 32, "decode_tokens": 4})
    except NewsdeskError as exc:
        worker.stop()
        raise ConfigError(f"the local model cannot run on this machine, so serve did not start: {exc.detail} "
                          f"{CRASH_HINT}") from exc
    log.info("local model ok in worker pid %s: prefill %.0f tokens/s, decode %.1f tokens/s",
             worker.pid, probe["prefill_tok_s"], probe["decode_tok_s"])
    return worker


def run(settings: Settings, *, host: str, port: int, workers: int, insecure: bool,
        on_startup: Callable[[Services], None] | None = None) -> None:
    import uvicorn

    from service.main import create_app

    check_bind(host, settings, insecure=insecure)
    check_port(host, port)
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    configure_logging(settings.log_format)
    common = {"host": host, "port": port, "access_log": False, "log_config": uvicorn_log_config(settings.log_format),
              "timeout_graceful_shutdown": int(settings.shutdown_timeout_s), "proxy_headers": True}
    if insecure and not is_loopback(host) and settings.auth != "required":
        log.warning("serving on %s WITHOUT authentication (--insecure)", host)
    if settings.auth == "required":
        from service.store.engine import open_keys

        keys = open_keys(settings)
        try:
            if not keys.list(include_revoked=False):
                log.warning("NEWSDESK_AUTH=required but no active key exists: every /v1 request will get 401; "
                            "create one with `newsdesk keys create --name NAME --scope admin`")
        finally:
            keys.close()
    with ExitStack() as stack:
        model = start_model(settings)
        if model is not None:
            stack.callback(model.stop)
        if workers == 1:
            uvicorn.run(create_app(settings, on_startup=on_startup), **common)  # type: ignore[arg-type]
            return
        if model is not None:  # the API processes share the one worker
            os.environ["NEWSDESK_MODEL_SOCKET"] = model.socket_path
        if settings.chroma_host is None:
            from vectorstore.server import ChromaServer, announce

            server = stack.enter_context(ChromaServer(settings.chroma_path, log_file=settings.data_dir / "chroma.log"))
            stack.callback(announce(settings.data_dir, server).unlink, True)  # the CLI finds it while we run
            os.environ["NEWSDESK_CHROMA_HOST"], os.environ["NEWSDESK_CHROMA_PORT"] = server.host, str(server.port)
            settings = settings.model_copy(update={"chroma_host": server.host, "chroma_port": server.port})
            log.info("started chroma run on %s for %d workers (pid %s)", server.url, workers,
                     server.proc.pid if server.proc else None)
        if settings.embed_threads is None:  # N workers share the cores instead of each taking all of them
            os.environ["NEWSDESK_EMBED_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        metrics_dir = Path(tempfile.mkdtemp(prefix="newsdesk-metrics-"))
        stack.callback(shutil.rmtree, metrics_dir, True)
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
        if on_startup is not None:  # once, here, before the workers start
            services = build_services(settings)
            try:
                on_startup(services)
            finally:
                services.close()
        uvicorn.run("service.main:worker_app", factory=True, workers=workers, **common)  # type: ignore[arg-type]
