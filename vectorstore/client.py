"""Chroma access: client factory (persistent or HTTP) and our two collections.

Code is written against Chroma's ``ClientAPI`` so a Chroma server works the same as the
embedded store.  Every collection is opened with our own embedding function (Chroma's default
one would try to download a model).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

log = logging.getLogger(__name__)
CHUNKS = "chunks"
SENTENCES = "sentences"


def make_client(*, path: Path | None = None, host: str | None = None, port: int = 8000,
                ssl: bool = False, timeout_s: float | None = 60.0) -> ClientAPI:
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
        set_http_timeout(client, timeout_s)
        return client
    if path is None:
        raise ValueError("a persistent Chroma client needs a path")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def set_http_timeout(client: ClientAPI, timeout_s: float | None) -> None:
    """Bound every request of an HTTP client. chromadb 1.5 builds its httpx session with
    ``timeout=None`` and has no setting for it, so the session's timeout is set here."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is None:
        raise RuntimeError("this chromadb version has no HTTP session to bound; check vectorstore.client")
    session.timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s or 5.0))


_TRANSIENT = ("Nothing found on disk",)
_RETRY_DELAYS_S = (0.05, 0.2, 0.5)


class ReadRetryingCollection:
    """A Chroma collection whose reads retry Chroma's transient errors a few times.

    A Chroma server answers a query that arrives while a collection's very first write is being
    applied with ``InternalError: Error creating hnsw segment reader: Nothing found on disk``
    (reproduced with chromadb 1.5.9: only inside that window).  With several workers a reader can
    meet it; a short retry reads the collection once the write is in.  Writes are not retried here.
    """

    def __init__(self, inner: Collection) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from chromadb.errors import InternalError

        for delay in (*_RETRY_DELAYS_S, None):
            try:
                return getattr(self._inner, method)(*args, **kwargs)
            except InternalError as exc:
                if delay is None or not any(t in str(exc) for t in _TRANSIENT):
                    raise
                log.warning("chroma %s hit a transient error, retrying in %.2fs: %s", method, delay, exc)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._read("query", *args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._read("get", *args, **kwargs)


def open_collections(client: ClientAPI, embedding_function: Any, prefix: str = "newsdesk") -> dict[str, Collection]:
    """Get-or-create the chunk and sentence collections (cosine space)."""
    return {
        kind: ReadRetryingCollection(client.get_or_create_collection(  # type: ignore[misc]
            name=f"{prefix}_{kind}",
            embedding_function=embedding_function,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"newsdesk": kind},
        ))
        for kind in (CHUNKS, SENTENCES)
    }
