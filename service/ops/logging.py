"""Structured logs: one JSON object per line, carrying the id of the request being served.

The request id lives in a context variable set by the request middleware; Starlette copies the
context into the threadpool, so pipeline code logging from a worker thread carries it too.
Nothing here ever logs headers, so an ``Authorization`` key cannot reach a log line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("newsdesk_request_id", default=None)

_STD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "request_id", "color_message"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": os.getpid(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        for k, v in vars(record).items():  # `extra=` fields
            if k not in _STD and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Route the root, uvicorn and chromadb loggers through one handler on stderr."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Chroma request otherwise


def uvicorn_log_config(fmt: str) -> dict[str, Any]:
    """A dictConfig for uvicorn's workers (each process configures its own logging)."""
    formatter: dict[str, Any] = (
        {"()": "service.ops.logging.JsonFormatter"} if fmt == "json"
        else {"format": "%(levelname)s %(name)s [%(request_id)s] %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"rid": {"()": "service.ops.logging.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["rid"]}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            "httpx": {"level": "WARNING"},
        },
    }
