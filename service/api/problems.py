"""The one place where errors become responses: RFC 9457 problem+json, or OpenAI's error body on
the OpenAI-compatible routes (``/v1/chat/completions``, ``/v1/models``), whose clients read
``{"error": {"message", "type", "param", "code"}}`` and nothing else."""

from __future__ import annotations

import logging
import math
from typing import Any

import httpx
from chromadb.errors import InternalError as ChromaInternalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import FieldError, NewsdeskError, StoreUnavailable

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://newsdesk.dev/problems/"


def problem(status: int, slug: str, title: str, detail: str, errors: list[FieldError] | None = None,
            headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra or {})  # RFC 9457 extension members
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


OPENAI_PREFIXES = ("/v1/chat/", "/v1/models")
OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "invalid_request_error", 422: "invalid_request_error",
                429: "rate_limit_error"}


def openai_error(status: int, slug: str, detail: str, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None) -> JSONResponse:
    """OpenAI's error body; a request OpenAI would call invalid is a 400, whatever our own status."""
    status = 400 if status == 422 else status
    kind = OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    param = errors[0].field.removeprefix("body.") if errors else None
    body = {"error": {"message": detail, "type": kind, "param": param, "code": slug.replace("-", "_")}}
    return JSONResponse(body, status_code=status, headers=headers)


def respond(where: Request | str | None, status: int, slug: str, title: str, detail: str,
            errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The error in the shape the route's clients read; ``where`` is the request or its path."""
    path = where.url.path if isinstance(where, Request) else where or ""
    if path.startswith(OPENAI_PREFIXES):
        return openai_error(status, slug, detail, errors, headers)
    return problem(status, slug, title, detail, errors, headers)


def from_domain(exc: NewsdeskError, request: Request | None = None) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})  # e.g. WWW-Authenticate on 401
    retry_after = exc.retry_after  # 429, 503 and 504 say when to come back
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return respond(request, exc.status, exc.slug, exc.title, exc.detail, exc.errors, headers or None)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if rest and where != "body" else ("body." + ".".join(rest) if rest else where)
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(NewsdeskError)
    async def _domain(request: Request, exc: NewsdeskError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s: %s", exc.slug, exc.detail)
        return from_domain(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            msg = err.get("msg", "invalid")
            if err.get("type") == "json_invalid":
                msg = f"invalid JSON: {err.get('ctx', {}).get('error', msg)}"
            errors.append(FieldError(_field_name(tuple(err.get("loc", ()))), msg.removeprefix("Value error, ")))
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
        return respond(request, 422, "invalid-input", "Invalid input", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slugs = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
        slug = slugs.get(exc.status_code, "http-error")
        return respond(request, exc.status_code, slug, str(exc.detail), str(exc.detail))

    @app.exception_handler(httpx.TransportError)
    async def _store_down(request: Request, exc: httpx.TransportError) -> JSONResponse:
        # the Chroma server (the only upstream reached through plain httpx) refused, broke or timed out
        log.warning("vector store unavailable: %s: %s", type(exc).__name__, exc)
        return from_domain(StoreUnavailable(f"the vector store did not answer ({type(exc).__name__}); retry"), request)

    @app.exception_handler(ChromaInternalError)
    async def _store_failed(request: Request, exc: ChromaInternalError) -> JSONResponse:
        # the Chroma server failed inside (not our request's fault): a 503 the client may retry
        log.warning("vector store internal error: %s", exc)
        return from_domain(StoreUnavailable("the vector store failed to answer; retry", retry_after=1.0), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return respond(request, 500, "internal-error", "Internal error",
                       "an unexpected error occurred; see the server log")
