from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


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
