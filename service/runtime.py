"""Builds the long-lived objects once (FastAPI lifespan, CLI start) from Settings.

The embedder and the model backend are heavy: they are created here, never at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chromadb.api import ClientAPI

from service.config import Settings
from service.errors import InvalidInput
from service.llm.base import ChatBackend
from service.llm.registry import available, create_backend
from service.logs.calls import CallLog
from service.ops.metrics import MeteredCallLog
from service.retrieval.rerank import build_reranker
from service.retrieval.search import Retriever
from service.store.articles import ArticleStore
from service.store.catalog_base import BaseCatalog
from service.store.engine import open_call_log, open_catalog, open_keys, open_limiter, share, writer_lock
from service.store.keys import Keys
from service.store.limits import Limiter
from service.tokens import seed_tiktoken_cache
from service.verify.support import SupportChecker
from vectorstore.client import make_client, open_collections
from vectorstore.embeddings import build_embedder
from vectorstore.server import announced

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: BaseCatalog
    chroma: ClientAPI
    embedder: Any
    store: ArticleStore
    retriever: Retriever
    call_log: CallLog
    checker: SupportChecker
    backends: dict[str, ChatBackend] = field(default_factory=dict)
    keys: Keys = None  # type: ignore[assignment]  # set by build_services
    limiter: Limiter = None  # type: ignore[assignment]
    _backend_lock: threading.Lock = field(default_factory=threading.Lock)
    _release_shared: Callable[[], None] = field(default=lambda: None, repr=False)
    """Closes the process's shared PostgreSQL feed and briefing stores when this is their last user."""

    @property
    def support_threshold(self) -> float:
        explicit = self.settings.support_threshold
        return self.checker.threshold if explicit is None else explicit

    def backend(self, ref: str | None = None) -> ChatBackend:
        """The chat backend for ``ref`` ('local', 'openai:gpt-4o-mini', 'fake'), built once."""
        ref = ref or self.settings.llm_backend
        with self._backend_lock:
            if ref not in self.backends:
                name, _, model = ref.partition(":")
                if name not in available():
                    raise InvalidInput.for_field("model", f"unknown backend {name!r}; choose one of {available()}")
                default_model = self.settings.llm_model if name == self.settings.llm_backend else None
                self.backends[ref] = create_backend(name, self.settings, model or default_model)
            return self.backends[ref]

    def close(self) -> None:
        self.catalog.close()
        self.call_log.close()
        for extra in (self.keys, self.limiter):
            if extra is not None:
                extra.close()
        self._release_shared()


def build_services(settings: Settings, *, embedder: Any | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = open_keys(settings)  # first: a bad NEWSDESK_DATABASE_URL fails before the models load
    limiter = open_limiter(settings)
    seed_tiktoken_cache(settings.cache_dir / "tiktoken")
    embedder = embedder or build_embedder(
        settings.embedder, batch_size=settings.embed_batch_size, threads=settings.embed_threads,
        model=settings.openai_embedding_model,
        base_url=settings.openai_base_url, api_key_env=settings.openai_api_key_env,
    )
    host, port = settings.chroma_host, settings.chroma_port
    if host is None and (running := announced(settings.data_dir)) is not None:
        # `serve --workers N` runs a Chroma server on this data dir: never open it embedded as well
        host, port = running
    client = make_client(path=settings.chroma_path, host=host, port=port, ssl=settings.chroma_ssl,
                         timeout_s=settings.chroma_timeout_s)
    collections = open_collections(client, embedder, settings.collection_prefix)
    catalog = open_catalog(settings)
    store = ArticleStore(catalog, collections, embedder, chunk_tokens=settings.chunk_tokens,
                         overlap_tokens=settings.chunk_overlap_tokens, encoding=settings.encoding,
                         lock=writer_lock(settings), sentence_vectors=settings.sentence_vectors,
                         late_window_tokens=settings.late_window_tokens)
    repaired = store.repair()
    if repaired:
        log.warning("repaired %d interrupted article writes", repaired)
    reranker = build_reranker(settings.reranker, threads=settings.embed_threads)
    return Services(settings, catalog, client, embedder, store, Retriever(catalog, collections, embedder, reranker),
                    open_call_log(settings, MeteredCallLog), SupportChecker(embedder),
                    keys=keys, limiter=limiter, _release_shared=share(settings))
