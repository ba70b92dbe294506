"""Hybrid retrieval over the real store: filters, the seed question, and the LangChain retriever."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from langchain_core.documents import Document

from service.config import Settings
from service.ingest.article import ArticleInput
from service.retrieval.langchain import NewsdeskRetriever
from service.runtime import Services, build_services
from service.store.catalog import Filters
from service.timeutil import parse_bound

ARTICLES = [
    ArticleInput(id="flood-jan", source="Coastal Gazette", published_at="2023-01-10",
                 title="River flooding closes roads",
                 text="Heavy rain caused the river to flood on Monday.\nSeveral roads near the harbour were closed."),
    ArticleInput(id="flood-feb", source="River Times", published_at="2023-02-15T08:30:00Z",
                 title="Flood defences tested",
                 text="The new flood barrier held back the river during the February storm.\n"
                      "Engineers said the barrier worked as designed."),
    ArticleInput(id="flood-mar", source="Coastal Gazette", published_at="2023-03-20",
                 title="Flood insurance costs rise",
                 text="Flood insurance premiums rose sharply after the winter storms.\n"
                      "Homeowners near the river face the largest increases."),
]
FLOOD_QUERY = "river flood storm"


@pytest.fixture(scope="module")
def svc(tmp_path_factory, embedder, seed_text_module) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("retrieval") / "data", llm_backend="fake")
    services = build_services(settings, embedder=embedder)
    seed = ArticleInput(id="seed", source="AP", published_at="2025-04-28", title="Putin thanks North Korea",
                        text=seed_text_module)
    results = services.store.ingest_many([*ARTICLES, seed])
    assert [r.status for r in results] == ["created"] * 4
    yield services
    services.close()


@pytest.fixture(scope="module")
def seed_text_module() -> str:
    from service.ingest.parse import split_front_matter
    from tests.conftest import SEED

    return split_front_matter(SEED.read_text(encoding="utf-8"))[1]


def article_ids(svc: Services, query: str, filters: Filters, k: int = 20) -> set[str]:
    res = svc.retriever.search(query, k=k, filters=filters)
    assert res.sentences, f"no hits for {query!r} with {filters}"
    for h in res.sentences:
        row = svc.catalog.get_article(h.article_id)
        assert row["text"][h.start : h.end] == h.text
    for c in res.chunks:
        assert all(sid.rpartition(":")[0] == c.article_id for sid in c.sentence_ids)
    return {h.article_id for h in res.sentences} | {c.article_id for c in res.chunks}


def test_unfiltered_search_sees_all_flood_articles(svc: Services) -> None:
    ids = article_ids(svc, FLOOD_QUERY, Filters())
    assert {"flood-jan", "flood-feb", "flood-mar"} <= ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(sources=("Coastal Gazette",)), {"flood-jan", "flood-mar"}),
        (Filters(sources=("River Times",)), {"flood-feb"}),
        (Filters(sources=("River Times", "AP")), {"flood-feb", "seed"}),
        (Filters(article_ids=("flood-mar",)), {"flood-mar"}),
        (Filters(article_ids=("flood-jan", "flood-feb")), {"flood-jan", "flood-feb"}),
        (Filters(since=parse_bound("2023-02-01", "since")), {"flood-feb", "flood-mar", "seed"}),
        (Filters(until=parse_bound("2023-02-15", "until", upper=True)), {"flood-jan", "flood-feb"}),
        (Filters(until=parse_bound("2023-02-15T08:30:00Z", "until")), {"flood-jan"}),
        (Filters(since=parse_bound("2023-02-01", "since"), until=parse_bound("2023-02-28", "until", upper=True)),
         {"flood-feb"}),
        (Filters(sources=("Coastal Gazette",), since=parse_bound("2023-03-01", "since")), {"flood-mar"}),
    ],
)
def test_filters_return_only_matching_articles(svc: Services, filters: Filters, expected: set[str]) -> None:
    ids = article_ids(svc, FLOOD_QUERY, filters)
    assert ids <= expected, f"{ids - expected} do not match {filters}"
    # every matching flood article is still found (the seed is about something else)
    assert expected - {"seed"} <= ids


def test_filter_matching_nothing_returns_nothing(svc: Services) -> None:
    res = svc.retriever.search(FLOOD_QUERY, k=8, filters=Filters(sources=("Nobody",)))
    assert res.sentences == [] and res.chunks == []
    res = svc.retriever.search(FLOOD_QUERY, k=8, filters=Filters(since=parse_bound("2030-01-01", "since")))
    assert res.sentences == [] and res.chunks == []


def test_seed_question_finds_the_troop_number(svc: Services) -> None:
    res = svc.retriever.search("how many soldiers did North Korea send", k=8)
    texts = [h.text for h in res.sentences]
    assert any("10,000-12,000" in t for t in texts), texts
    assert len(res.sentences) <= 8
    # boilerplate is never returned
    assert not any(t.isupper() for t in texts)
    assert "Read the full article here" not in texts
    scores = [h.score for h in res.sentences]
    assert scores == sorted(scores, reverse=True)


def test_hits_carry_article_metadata(svc: Services) -> None:
    res = svc.retriever.search("flood barrier February storm", k=3, filters=Filters(article_ids=("flood-feb",)))
    hit = res.sentences[0]
    assert hit.article_id == "flood-feb" and hit.source == "River Times" and hit.title == "Flood defences tested"
    assert hit.published_at.startswith("2023-02-15")
    assert hit.id == f"flood-feb:{hit.index}"


def test_langchain_retriever_returns_citable_documents(svc: Services) -> None:
    retriever = NewsdeskRetriever(retriever=svc.retriever, k=5)
    docs = retriever.invoke("how many troops did North Korea deploy to Russia")
    assert 0 < len(docs) <= 5
    assert all(isinstance(d, Document) for d in docs)
    assert any("10,000-12,000" in d.page_content for d in docs)
    for d in docs:
        meta = d.metadata
        assert d.id == meta["sentence_id"] == f"{meta['article_id']}:{meta['sentence_id'].rpartition(':')[2]}"
        text = svc.catalog.get_article(meta["article_id"])["text"]
        assert text[meta["start"] : meta["end"]] == d.page_content


def test_langchain_retriever_applies_filters(svc: Services) -> None:
    since = int(datetime(2023, 3, 1, tzinfo=UTC).timestamp())
    retriever = NewsdeskRetriever(retriever=svc.retriever, k=5,
                                  filters=Filters(sources=("Coastal Gazette",), since=since))
    docs = retriever.invoke(FLOOD_QUERY)
    assert docs and {d.metadata["article_id"] for d in docs} == {"flood-mar"}
