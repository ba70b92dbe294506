"""Domain errors.

Raised anywhere inside the pipeline; translated exactly once at the edge: into RFC 9457
problem+json by the FastAPI app (service/api/problems.py) and into a message plus exit code
by the CLI (service/cli.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class NewsdeskError(Exception):
    """Base class. ``status`` is the HTTP status; ``slug`` names the problem type."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal error"
    exit_code: int = 1

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []
        self.retry_after = retry_after
        """Seconds until a retry may succeed (429, 503, 504): the Retry-After header."""


class InvalidInput(NewsdeskError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"
    exit_code = 2

    @classmethod
    def for_field(cls, field_name: str, message: str) -> InvalidInput:
        return cls(f"{field_name}: {message}", errors=[FieldError(field_name, message)])


class PayloadTooLarge(NewsdeskError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"
    exit_code = 2


class NotFound(NewsdeskError):
    status = 404
    slug = "not-found"
    title = "Not found"
    exit_code = 3


class ModelMissing(NewsdeskError):
    """A model file that must ship in a package is not installed. Never downloaded."""

    status = 503
    slug = "model-missing"
    title = "Model not installed"
    exit_code = 4


class UpstreamUnavailable(NewsdeskError):
    """The model backend failed after bounded retries (429, 5xx, connection) or is busy."""

    status = 503
    slug = "upstream-unavailable"
    title = "Model backend unavailable"
    exit_code = 5


class DatabaseUnavailable(NewsdeskError):
    """The shared PostgreSQL (NEWSDESK_DATABASE_URL) is not answering: down, restarting or out of
    connections. Nothing was written; the request can be retried."""

    status = 503
    slug = "database-unavailable"
    title = "Database unavailable"
    exit_code = 5


class ModelCrashed(NewsdeskError):
    """The local model's worker process died (a signal, an abort, the OOM killer) while serving the
    request. The worker is being restarted; stored data is untouched."""

    status = 503
    slug = "model-crashed"
    title = "Model process crashed"
    exit_code = 5


class UpstreamTimeout(NewsdeskError):
    status = 504
    slug = "upstream-timeout"
    title = "Model backend timed out"
    exit_code = 5


class Conflict(NewsdeskError):
    """The request clashes with the current state: a feed already followed, a poll in progress,
    a key revoking itself."""

    status = 409
    slug = "conflict"
    title = "Conflict"
    exit_code = 7


class FetchFailed(NewsdeskError):
    """A feed or page could not be fetched, or was refused before any connection (``kind``:
    refused | timeout | too-large | http-status | content-type | redirects | network)."""

    status = 502
    slug = "fetch-failed"
    title = "Fetch failed"
    exit_code = 8

    def __init__(self, kind: str, detail: str, *, http_status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.kind = kind
        self.http_status = http_status


class ConfigError(NewsdeskError):
    status = 500
    slug = "configuration-error"
    title = "Configuration error"
    exit_code = 6


class Unauthorized(NewsdeskError):
    """No key, an unknown key or a revoked key (HTTP 401)."""

    status = 401
    slug = "unauthorized"
    title = "Unauthorized"
    exit_code = 7
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="newsdesk"'}


class Forbidden(NewsdeskError):
    """A valid key whose scope does not cover the request (HTTP 403)."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"
    exit_code = 7


class RateLimited(NewsdeskError):
    """A key (or client) spent its allowance; ``retry_after`` seconds until the next request fits."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"
    exit_code = 5

    def __init__(self, detail: str, *, retry_after: float) -> None:  # required here
        super().__init__(detail, retry_after=retry_after)


class Overloaded(NewsdeskError):
    """This worker is at its request or model-queue limit; the request was shed, not run."""

    status = 503
    slug = "overloaded"
    title = "Service overloaded"
    exit_code = 5

    def __init__(self, detail: str, *, retry_after: float) -> None:  # required here
        super().__init__(detail, retry_after=retry_after)


class StoreUnavailable(NewsdeskError):
    """The Chroma server did not answer (connection refused or broken, or timed out)."""

    status = 503
    slug = "store-unavailable"
    title = "Vector store unavailable"
    exit_code = 5

    def __init__(self, detail: str, *, retry_after: float | None = 2.0) -> None:
        super().__init__(detail, retry_after=retry_after)


@dataclass
class ItemFailure:
    """One failed item of a batch (the batch itself goes on)."""

    index: int
    errors: list[FieldError] = field(default_factory=list)
