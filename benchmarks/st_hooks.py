"""schemathesis hooks (loaded with SCHEMATHESIS_HOOKS=benchmarks.st_hooks): every 4xx answer
must be RFC 9457 problem+json whose ``status`` matches the HTTP status, except on the
OpenAI-compatible routes, whose clients read OpenAI's ``{"error": {...}}`` body instead."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

from service.api.problems import OPENAI_PREFIXES


@schemathesis.check
def problem_json_for_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx must be application/problem+json with type, title, status and detail."""
    if not 400 <= response.status_code < 500:
        return None
    if str(getattr(case, "path", "")).startswith(OPENAI_PREFIXES):
        error = json.loads(response.content).get("error")
        missing = [k for k in ("message", "type", "param", "code") if not isinstance(error, dict) or k not in error]
        if missing:
            raise AssertionError(f"{response.status_code} on an OpenAI route lacks error.{missing}")
        return True
    ctype = response.headers.get("content-type", [""])
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    if not ctype.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered with {ctype!r}, not application/problem+json")
    body = json.loads(response.content)
    missing = [k for k in ("type", "title", "status", "detail") if k not in body]
    if missing:
        raise AssertionError(f"{response.status_code} problem lacks {missing}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} != HTTP {response.status_code}")
    return True
