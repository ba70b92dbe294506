"""Copy Newsdesk's Chroma collections from one client to another (the embedded store of a data
dir to a Chroma server), with their stored embeddings, documents and metadata: nothing is
re-embedded.

A Newsdesk collection is one whose metadata has the key ``newsdesk`` (vectorstore/client.py
creates them so), whatever its prefix.  The target collection is created with the source's HNSW
configuration and embedding function, so nodes open it with their own embedder as they would
have opened the source.  Vectors go in batches; ids the target already holds are skipped (a
vector id carries its article version, so an id means one vector), so a re-run only adds what is
missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

BATCH = 1000
"""Vectors per read and per upsert (below Chroma's largest batch, 5461)."""


@dataclass(frozen=True, slots=True)
class Count:
    """How many of ``name`` (a collection, a table) the source and the target hold."""

    name: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


def newsdesk_collections(client: ClientAPI) -> list[Collection]:
    """The source's Newsdesk collections, by name, opened without any embedding function at work
    (reads and upserts here always carry the vectors)."""
    found = [c for c in client.list_collections() if "newsdesk" in (c.metadata or {})]
    return sorted(found, key=lambda c: c.name)


def _ids(col: Collection) -> Iterator[list[str]]:
    offset = 0
    while True:
        got = col.get(include=[], limit=BATCH, offset=offset)["ids"]
        if not got:
            return
        yield got
        offset += len(got)


def target_collection(src: Collection, target: ClientAPI) -> Collection:
    """The target's collection of ``src``'s name, created like ``src`` when missing."""
    conf = src.configuration or {}
    ef = conf.get("embedding_function")
    hnsw = {k: v for k, v in (conf.get("hnsw") or {}).items() if v is not None}
    return target.get_or_create_collection(
        name=src.name, metadata=src.metadata, embedding_function=ef,  # type: ignore[arg-type]
        configuration={"hnsw": hnsw} if hnsw else None)  # type: ignore[typeddict-item]


def foreign_vectors(source: ClientAPI, target: ClientAPI) -> dict[str, int]:
    """Per Newsdesk collection, the target's vectors whose ids the source does not have."""
    out: dict[str, int] = {}
    names = {c.name for c in target.list_collections()}
    for src in newsdesk_collections(source):
        if src.name not in names:
            continue
        dst = target.get_collection(src.name, embedding_function=None)  # type: ignore[arg-type]
        if dst.count() == 0:
            continue
        mine = {i for part in _ids(src) for i in part}
        extra = sum(1 for part in _ids(dst) for i in part if i not in mine)
        if extra:
            out[src.name] = extra
    return out


def copy_collection(src: Collection, target: ClientAPI, say: Callable[[str], None] = lambda _: None) -> int:
    """Upsert every vector of ``src`` that the target lacks; the number copied."""
    dst = target_collection(src, target)
    total, copied, offset = src.count(), 0, 0
    while True:
        got: Any = src.get(include=["embeddings", "documents", "metadatas"], limit=BATCH, offset=offset)
        ids: list[str] = got["ids"]
        if not ids:
            break
        offset += len(ids)
        have = set(dst.get(ids=ids, include=[])["ids"])
        keep = [i for i, vid in enumerate(ids) if vid not in have]
        if keep:
            dst.upsert(ids=[ids[i] for i in keep], embeddings=[got["embeddings"][i] for i in keep],
                       documents=[got["documents"][i] for i in keep],
                       metadatas=[got["metadatas"][i] for i in keep])
            copied += len(keep)
        say(f"{src.name}: {offset}/{total} read, {copied} copied")
    return copied


def vector_counts(source: ClientAPI, target: ClientAPI) -> list[Count]:
    """Vectors per Newsdesk collection on both sides; a source vector missing from the target
    counts as absent even when the target holds as many vectors."""
    out: list[Count] = []
    names = {c.name for c in target.list_collections()}
    for src in newsdesk_collections(source):
        if src.name not in names:
            out.append(Count(src.name, src.count(), 0))
            continue
        dst = target.get_collection(src.name, embedding_function=None)  # type: ignore[arg-type]
        found = sum(len(dst.get(ids=part, include=[])["ids"]) for part in _ids(src))
        n = src.count()
        out.append(Count(src.name, n, dst.count() if found == n else found))
    return out
