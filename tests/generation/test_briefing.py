"""Daily briefings on real AllSides days (the shipped sample), through the fake backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser

import pytest

from benchmarks.summaries_bench import ALLSIDES, ALLSIDES_SAMPLE, allsides_articles, allsides_by_day, allsides_records
from service.config import Settings
from service.errors import InvalidInput, NotFound
from service.generation.briefing import BriefingParams, build_briefing, get_briefing, parse_headline
from service.generation.briefing_render import to_html, to_markdown
from service.generation.clustering import article_docs, cluster, pairwise_scores
from service.generation.selection import article_hits, sentence_vectors
from service.ingest.article import ArticleInput
from service.runtime import Services, build_services
from service.schemas import BriefingOut
from service.store.catalog import Filters
from vectorstore.embeddings import MiniLMEmbedding

DAYS = allsides_by_day(allsides_records(ALLSIDES_SAMPLE))
BUDGET_0527, BUDGET_0528 = "as6003", "as5999"  # "Biden to Propose $6 Trillion Budget" / "... Unveils ..."
TZ = "America/Los_Angeles"  # AllSides dates are Pacific time


def ingest_days(services: Services, *days: str) -> dict[str, str]:
    """Ingest the sample's days; return article id -> gold story label."""
    arts = [a for d in days for a in allsides_articles(DAYS[d])]
    services.store.ingest_many([a for a, _ in arts])
    return {str(a.id): label for a, label in arts}


@pytest.fixture(scope="module")
def day_services(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedding) -> Iterator[Services]:
    """Two real days ingested once for the module (ingesting is the slow part)."""
    svc = build_services(Settings(data_dir=tmp_path_factory.mktemp("days"), llm_backend="fake"), embedder=embedder)
    ingest_days(svc, "2021-05-27", "2021-05-28")
    yield svc
    svc.close()


@pytest.fixture
def two_days(day_services: Services) -> Services:
    """The module's services with no stored briefing."""
    for path in day_services.settings.data_dir.glob("briefings.sqlite3*"):
        path.unlink()
    return day_services


def day_clusters(services: Services, ids: list[str]) -> list[list[str]]:
    hits = article_hits(services.catalog, ids)
    vecs = sentence_vectors(services.catalog, services.retriever.sentences, services.embedder, hits)
    return [[d.article_id for d in group] for group in cluster(article_docs(hits, vecs))]


def test_outlets_takes_on_one_story_land_in_one_cluster(day_services: Services) -> None:
    gold = {str(a.id): label for a, label in allsides_articles(DAYS["2021-05-27"])}
    groups = day_clusters(day_services, sorted(gold))
    stories = {label: sorted(i for i in gold if gold[i] == label) for label in set(gold.values())}
    whole = [label for label, members in stories.items() if any(set(members) <= set(g) for g in groups)]
    assert len(whole) >= 3, (groups, stories)
    assert pairwise_scores(groups, gold)["f1"] >= 0.8


@pytest.mark.skipif(not ALLSIDES.exists(), reason="shared AllSides file not present")
def test_clustering_on_another_real_day(services: Services) -> None:
    recs = allsides_by_day(allsides_records(ALLSIDES))["2021-05-12"]
    arts = allsides_articles(recs)
    services.store.ingest_many([a for a, _ in arts])
    gold = {str(a.id): label for a, label in arts}
    assert pairwise_scores(day_clusters(services, sorted(gold)), gold)["f1"] >= 0.7


def test_briefing_of_a_real_day(two_days: Services) -> None:
    b = build_briefing(two_days, BriefingParams(date(2021, 5, 27), TZ, model="fake"))
    BriefingOut.model_validate(b)
    assert b["articles"] == 12 and len(b["stories"]) == 4
    cited = {c["sentence_id"]: c for c in b["citations"]}
    for story in b["stories"]:
        assert 2 <= len(story["key_points"]) <= 5 and story["headline"]
        assert len(story["sources"]) == 3 and sum(s["articles"] for s in story["sources"]) == 3
        for kp in story["key_points"] + [p["emphasis"] for p in story["perspectives"]]:
            assert kp["markers"] and all(sid.split(":")[0] in story["article_ids"] for sid in kp["sentence_ids"])
            assert all(sid in cited for sid in kp["sentence_ids"])
    assert any(s["perspectives"] for s in b["stories"])
    rows, _ = two_days.catalog.list_articles(Filters(), limit=100, offset=0)
    text = {r["id"]: two_days.catalog.get_article(r["id"])["text"] for r in rows}  # type: ignore[index]
    for c in b["citations"]:
        assert c["quote"] == text[c["article_id"]][c["start"]:c["end"]]
    assert b["changes"]["previous_date"] is None and len(b["changes"]["new_stories"]) == 4


def test_rebuilding_a_day_is_reproducible(two_days: Services) -> None:
    params = BriefingParams(date(2021, 5, 27), TZ, model="fake")
    first, second = build_briefing(two_days, params), build_briefing(two_days, params)
    for volatile in ("generated_at", "timings"):
        first.pop(volatile), second.pop(volatile)
    assert first == second


def test_what_changed_since_the_previous_day(two_days: Services) -> None:
    build_briefing(two_days, BriefingParams(date(2021, 5, 27), TZ, model="fake"))
    b = build_briefing(two_days, BriefingParams(date(2021, 5, 28), TZ, model="fake"))
    ch = b["changes"]
    assert ch["previous_date"] == "2021-05-27"
    by_id = {s["id"]: s for s in b["stories"]}
    budget = next(s for s in b["stories"] if any(a.startswith(BUDGET_0528) for a in s["article_ids"]))
    assert budget["status"] == "continuing" and budget["id"] not in ch["new_stories"]
    dev = next(d for d in ch["developments"] if d["story_id"] == budget["id"])
    assert dev["key_points"] and all(0 <= k < len(budget["key_points"]) for k in dev["key_points"])
    jan6 = next(s for s in b["stories"] if any(a.startswith("as6000") for a in s["article_ids"]))
    assert jan6["status"] == "new" and jan6["id"] in ch["new_stories"]
    assert set(ch["new_stories"]) | {d["story_id"] for d in ch["developments"]} <= set(by_id)


class Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v for k, v in attrs if k == "id" and v]
        self._in_h2 = tag == "h2"
        self.scripts += tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def test_markdown_and_html_render_with_every_section(two_days: Services) -> None:
    build_briefing(two_days, BriefingParams(date(2021, 5, 27), TZ, model="fake"))
    b = build_briefing(two_days, BriefingParams(date(2021, 5, 28), TZ, model="fake"))
    md = to_markdown(b)
    assert md.startswith("# Daily briefing — 2021-05-28") and "## What's new since 2021-05-27" in md
    assert "**Perspectives**" in md and "Sources: " in md and "## Citations" in md
    assert len(re.findall(r"^## \d+\. ", md, re.M)) == len(b["stories"])
    page = Sections()
    page.feed(to_html(b))
    assert {"changes", "citations", *(s["id"] for s in b["stories"])} <= set(page.ids)
    assert any(h.startswith("What's new since") for h in page.h2) and "Citations" in page.h2
    assert sum(i.startswith("c") and i[1:].isdigit() for i in page.ids) == len(b["citations"])


def test_html_escapes_article_text(services: Services) -> None:
    evil = "<script>alert('x')</script> Officials said the dam at Lake Verde would open on Monday."
    for n, source in enumerate(("Outlet A", "Outlet B")):
        services.store.ingest(ArticleInput(
            id=f"dam{n}", title=f"Dam <b>opens</b> {n}", source=source, published_at="2024-03-04",
            url=f'https://example.com/{n}"onmouseover="alert(1)', text=f"{evil}\nThe Lake Verde dam will supply "
                                                                  f"water to 20,000 homes."))
    b = build_briefing(services, BriefingParams(date(2024, 3, 4), model="fake"))
    page = to_html(b)
    parsed = Sections()
    parsed.feed(page)
    assert b["stories"] and parsed.scripts == 0 and "&lt;script&gt;" in page
    assert '"onmouseover' not in page and "<b>opens" not in page
    assert "<script>" not in to_markdown(b)


def test_single_outlet_clusters_are_not_stories(services: Services) -> None:
    services.store.ingest(ArticleInput(id="solo", title="Local fair opens", source="Town Paper",
                                       published_at="2024-03-04", text="The county fair opened on Monday."))
    b = build_briefing(services, BriefingParams(date(2024, 3, 4), model="fake"))
    assert b["stories"] == [] and [r["article_id"] for r in b["single_reports"]] == ["solo"]


def test_stored_briefing_lookup_and_errors(two_days: Services) -> None:
    with pytest.raises(NotFound):
        get_briefing(two_days, date(2021, 5, 27), TZ)
    built = build_briefing(two_days, BriefingParams(date(2021, 5, 27), TZ, model="fake"))
    assert get_briefing(two_days, date(2021, 5, 27), TZ) == built
    with pytest.raises(NotFound):
        build_briefing(two_days, BriefingParams(date(2020, 1, 1), model="fake"))
    with pytest.raises(InvalidInput):
        build_briefing(two_days, BriefingParams(date(2021, 5, 27), "Mars/Olympus", model="fake"))


def test_model_headline_is_used_when_neutral_one_call_per_story(two_days: Services) -> None:
    """Prompt v1: one call per story writes its headline and key points."""
    backend = two_days.backend("fake")
    assert parse_headline("HEADLINE: **Senate offers $928 billion plan** [S1]\n- x") == \
        "Senate offers $928 billion plan"
    backend.push("HEADLINE: Republicans make new infrastructure offer\n- point [S1]",  # type: ignore[attr-defined]
                 *["HEADLINE: A shocking, disastrous day\n- point [S1]"] * 3)
    b = build_briefing(two_days, BriefingParams(date(2021, 5, 27), TZ, model="fake", prompt_version="v1"))
    froms = [s["headline_from"] for s in b["stories"]]
    assert froms[0] == "model" and b["stories"][0]["headline"] == "Republicans make new infrastructure offer"
    assert all(f != "model" for f in froms[1:])
    assert not any("shocking" in s["headline"].lower() for s in b["stories"])


def test_one_call_names_every_story_and_key_points_are_quoted(two_days: Services) -> None:
    """Prompt v2 (the default): key points are the stories' central sentences, quoted; one model
    call writes every headline; a loaded or missing headline falls back to an outlet title."""
    backend = two_days.backend("fake")
    before = len(backend.calls)  # type: ignore[attr-defined]
    backend.push("1. Republicans make new infrastructure offer\n2. A shocking, disastrous day\n"  # type: ignore[attr-defined]
                 "3. Officials discuss the plan")
    b = build_briefing(two_days, BriefingParams(date(2021, 5, 27), TZ, model="fake"))
    calls = backend.calls[before:]  # type: ignore[attr-defined]
    assert b["prompt"] == "briefing@v2" and len(calls) == 1
    assert "Story 4:" in calls[0].messages[-1].content
    froms = [s["headline_from"] for s in b["stories"]]
    assert froms[0] == "model" and b["stories"][0]["headline"] == "Republicans make new infrastructure offer"
    assert froms[1] != "model" and froms[2] == "model" and froms[3] != "model"  # loaded; written; missing
    cited = {c["sentence_id"]: c for c in b["citations"]}
    for story in b["stories"]:
        for kp in story["key_points"]:
            (sid,) = kp["sentence_ids"]
            assert kp["text"] == " ".join(cited[sid]["quote"].split())  # the sentence itself
    assert b["neutrality"]["loaded_introduced"] == []


def test_the_clustering_benchmark_reports_both_folds_and_picks_on_tune_only() -> None:
    import argparse

    from benchmarks.summaries_bench import bench_clustering
    from evals.folds import fold_of

    res = bench_clustering(argparse.Namespace(allsides=str(ALLSIDES_SAMPLE), thresholds="0.3,0.5,0.9"))
    days = res["days"]
    assert days == 3 and sum(res["fold_days"].values()) == days
    tune_days = sum(1 for d in ("2021-05-26", "2021-05-27", "2021-05-28") if fold_of(f"allsides-day-{d}") == "tune")
    assert res["fold_days"]["tune"] == tune_days
    assert [r["threshold"] for r in res["folds"]["check"]] == [0.3, 0.5, 0.9]
    best = max(res["folds"]["tune"], key=lambda r: r["f1"])["f1"]
    chosen = next(r for r in res["folds"]["tune"] if r["threshold"] == res["tune_best_threshold"])
    assert chosen["f1"] == best
    assert all(0 <= r[k] <= 1 for f in res["folds"].values() for r in f for k in ("precision", "recall", "f1"))


def test_a_refused_headline_falls_back_to_a_title_the_key_points_cover_not_a_slogan(services: Services) -> None:
    from collections import Counter

    import numpy as np

    from service.generation.briefing import StoryDraft, set_headline
    from service.generation.clustering import ArticleDoc
    from service.generation.summarize import Pool
    from service.retrieval.search import SentenceHit
    from service.verify.citations import VerifiedSentence

    text = "New COVID-19 cases fell to their lowest level since October, federal data showed on Monday."
    point = SentenceHit("a", 0, text, 0, len(text), "t", None, "Wire", None)
    up, side = np.array([1.0, 0.0]), np.array([0.6, 0.8])

    def doc(i: str, title: str, centroid: np.ndarray) -> ArticleDoc:
        return ArticleDoc(i, "Outlet " + i, title, None, None, centroid)

    docs = [doc("opinion", "When Wokeness Becomes Weakness", up),  # the most central, and a slogan
            doc("news", "COVID cases fall to lowest level since October", side)]
    story = StoryDraft(docs, Pool([point], np.zeros((1, 2)), []), Counter(), up,
                       points=[VerifiedSentence(text, [point], 1.0)])
    set_headline(services, story, "Vaccine sales soar 70% as cases fall")  # 70% is in no sentence
    assert (story.headline, story.headline_from) == ("COVID cases fall to lowest level since October", "title")
    assert story.headline_rejected is not None and "70" in story.headline_rejected
    docs.pop()  # no title is about the story: the key point stands in
    set_headline(services, story, "Vaccine sales soar 70% as cases fall")
    assert (story.headline, story.headline_from) == (text, "key_point")
    set_headline(services, story, "COVID-19 cases fall to lowest level since October")
    assert story.headline_from == "model" and story.headline_rejected is None
