"""Chroma access: client factory (persistent or HTTP) and our two collections.

Code is written against Chroma's ``ClientAPI`` so a Chroma server works the same as the
embedded store.  Every collection is opened with our own embedding function (Chroma's default
one would try to download a model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

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


def open_collections(client: ClientAPI, embedding_function: Any, prefix: str = "newsdesk") -> dict[str, Collection]:
    """Get-or-create the chunk and sentence collections (cosine space)."""
    return {
        kind: client.get_or_create_collection(
            name=f"{prefix}_{kind}",
            embedding_function=embedding_function,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"newsdesk": kind},
        )
        for kind in (CHUNKS, SENTENCES)
    }
