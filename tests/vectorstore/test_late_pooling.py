"""MiniLMEmbedding.embed_late: token spans from character offsets, windows, and pooled vectors."""

from __future__ import annotations

import numpy as np
import pytest

from service.ingest.article import join_sentences
from vectorstore.embeddings import MiniLMEmbedding, _windows

# accents, curly quotes, a dash, a number with a comma, a hyphenated name: offsets must still
# land each token in its own sentence
SENTENCES = [
    "Zürich’s café reopened on Tuesday — after 14,000 visitors signed a petition.",
    "“We are back,” said Anne-Marie Dubois, its owner.",
    "He said the city paid €2.5 million.",
]


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def own_tokens(embedder: MiniLMEmbedding, text: str) -> int:
    return len(embedder._plain.encode(text, add_special_tokens=False).ids)


def test_join_sentences_spans_point_at_each_sentence() -> None:
    text, spans = join_sentences(SENTENCES)
    assert [text[a:b] for a, b in spans] == SENTENCES
    assert text == " ".join(SENTENCES)


def test_each_span_gets_exactly_its_own_tokens(embedder: MiniLMEmbedding) -> None:
    text, spans = join_sentences(SENTENCES)
    pooled = embedder.embed_late([text], [spans])[0]
    # WordPiece never merges across a space, so a sentence's tokens in context are its tokens alone
    assert pooled.span_tokens.tolist() == [own_tokens(embedder, s) for s in SENTENCES]
    assert pooled.span_sums.shape == (3, 384)


def test_text_vector_is_the_plain_embedding_and_spans_are_token_means(embedder: MiniLMEmbedding) -> None:
    text, spans = join_sentences(SENTENCES)
    pooled = embedder.embed_late([text], [spans])[0]
    assert float(pooled.vector @ embedder.embed([text])[0]) > 0.9999

    # independent reference: one model pass, mean over the tokens whose first character is in the span
    enc = embedder._plain.encode(text)  # [CLS] ... [SEP] with offsets
    ids = np.array([enc.ids], dtype=np.int64)
    hidden = embedder._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                          "token_type_ids": np.zeros_like(ids)})[0][0]
    starts = np.array([o[0] for o in enc.offsets])
    special = np.array([m == 1 for m in enc.special_tokens_mask])
    for n, (a, b) in enumerate(spans):
        rows = (~special) & (starts >= a) & (starts < b)
        expected = unit(hidden[rows].mean(axis=0))
        got = unit(pooled.span_sums[n] / pooled.span_tokens[n])
        assert float(got @ expected) > 0.9999
    # context changes a sentence's vector: "He said" is read next to who said it
    alone = embedder.embed([SENTENCES[2]])[0]
    assert float(unit(pooled.span_sums[2]) @ alone) < 0.99


def test_long_text_is_cut_at_span_starts_and_nothing_is_truncated(embedder: MiniLMEmbedding) -> None:
    sentences = [f"Sentence number {n} names the harbour council and its sea wall." for n in range(40)]
    text, spans = join_sentences(sentences)
    pooled = embedder.embed_late([text], [spans], window_tokens=64)[0]
    per = own_tokens(embedder, sentences[0])
    assert pooled.span_tokens.tolist() == [own_tokens(embedder, s) for s in sentences]
    assert per * 40 > 254, "the text must not fit one window"

    # windows hold whole sentences, so each window is exactly a text of its own sentences
    ids = embedder._plain.encode(text, add_special_tokens=False)
    starts = np.searchsorted([o[0] for o in ids.offsets], [a for a, _ in spans])
    windows = _windows(len(ids.ids), starts, 64)
    assert all(b - a <= 64 for a, b in windows)
    first = [int(np.searchsorted(starts, a)) for a, _ in windows]
    assert all(starts[k] == a for k, (a, _) in zip(first, windows, strict=True))
    k0, k1 = first[1], first[2] if len(first) > 2 else len(sentences)
    sub_text, sub_spans = join_sentences(sentences[k0:k1])
    alone = embedder.embed_late([sub_text], [sub_spans])[0]
    for j in range(k1 - k0):
        assert float(unit(pooled.span_sums[k0 + j]) @ unit(alone.span_sums[j])) > 0.9999


def test_windows_are_balanced_and_cut_inside_a_span_only_when_it_is_too_long() -> None:
    assert _windows(300, np.array([0, 50, 100, 140, 160, 200, 290]), 254) == [(0, 140), (140, 300)]
    assert _windows(100, np.array([0, 60]), 254) == [(0, 100)]
    cut = _windows(600, np.array([0]), 254)
    assert [b - a for a, b in cut] == [200, 200, 200]
    assert cut[0][0] == 0 and cut[-1][1] == 600


def test_a_span_without_tokens_and_bad_spans(embedder: MiniLMEmbedding) -> None:
    text, spans = join_sentences(["First sentence here.", "\u200b\u200b", "Second one."])
    pooled = embedder.embed_late([text], [spans])[0]
    assert pooled.span_tokens.tolist() == [4, 0, 3]
    assert not pooled.span_sums[1].any()
    with pytest.raises(ValueError, match="overlap"):
        embedder.embed_late(["abc def"], [[(0, 5), (4, 7)]])
    with pytest.raises(ValueError, match="one list of spans"):
        embedder.embed_late(["abc"], [])
