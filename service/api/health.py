from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, Any]:
    """The process is up. ``model`` (local backend only) is the model worker: its state, pid,
    how often it was restarted and its last crash (``how``: SIGSEGV, SIGKILL, exit 1 ...)."""
    from service.llm.local import model_health

    body: dict[str, Any] = {"status": "ok"}
    model = model_health(services.settings)
    if model is not None:
        body["model"] = model
    return body


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Catalogue, Chroma and embedder answer. ``checks.store.pending`` counts interrupted
    writes; they stay invisible and are repaired by the next ingest or restart."""
    checks: dict[str, object] = {}
    ok = True
    try:
        checks["store"] = services.store.stats()
        services.embedder.embed(["ready"])
        checks["embedder"] = "ok"
    except Exception as exc:  # readiness reports any failure instead of raising
        ok = False
        checks["error"] = f"{type(exc).__name__}: {exc}"
    return JSONResponse({"status": "ready" if ok else "not-ready", "checks": checks}, status_code=200 if ok else 503)
