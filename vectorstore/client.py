"""Chroma access: client factory (persistent or HTTP) and our two collections.

Code is written against Chroma's ``ClientAPI`` so a Chroma server works the same as the
embedded store.  Every collection is opened with our own embedding function (Chroma's default
one would try to download a model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

CHUNKS = "chunks"
SENTENCES = "sentences"


def make_client(*, path: Path | None = None, host: str | None = None, port: int = 8000,
                ssl: bool = False) -> ClientAPI:
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
    if path is None:
        raise ValueError("a persistent Chroma client needs a path")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


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
