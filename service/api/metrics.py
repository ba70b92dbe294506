"""GET /metrics: Prometheus text (admin key when NEWSDESK_AUTH=required)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.ops.metrics import render

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition format."}})
def metrics() -> Response:
    """Request counts and latencies per route, model calls and tokens, model queue depth,
    ingest counts, rate-limited and shed requests (summed over all workers)."""
    body, content_type = render()
    return Response(body, media_type=content_type)
