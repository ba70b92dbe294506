"""summary@v1's pipeline (the model selects and writes over a token budget; map-reduce when the
input is large) through the fake backend, real Chroma, embedder and support checker.  The
default, summary@v3 (summary@v2 plus quoting), is tested in test_summary_v2.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import InvalidInput, NotFound
from service.generation.summarize import SummaryParams, summarize
from service.ingest.article import ArticleInput
from service.runtime import Services, build_services
from service.store.catalog import Filters
from service.timeutil import parse_bound
from tests.generation.fakes import fake, marker_of, prompt_markers

BOILERPLATE = ("TRUMP BLASTS PUTIN", "READY TO MAKE A DEAL", "Read the full article here",
               "The Associated Press contributed")
CLAIM = "Russia said two days earlier that its troops had fully reclaimed the Kursk region"
DENIAL = "Ukrainian officials have denied Russia’s claim"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", llm_backend="fake", summary_prompt_version="v1")


def ingest_seed(services: Services, seed_text: str) -> None:
    services.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed_text,
                                       source="Fox News", published_at="2025-04-28"))


@pytest.fixture
def seeded(services: Services, seed_text: str) -> Iterator[Services]:
    ingest_seed(services, seed_text)
    yield services


def shown_markers(services: Services, params: SummaryParams) -> dict[str, str]:
    """Run once with the default fake reply; return {sentence text: marker} of the last prompt."""
    summarize(services, params)
    return prompt_markers(services)


def test_summary_cites_only_shown_sentences_with_exact_quotes(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), model="fake")
    markers = shown_markers(seeded, params)
    troops = marker_of(markers, "10,000-12,000")
    fake(seeded).push(f"Intelligence officials said North Korea deployed 10,000-12,000 troops to Russia. [{troops}] "
                      "North Korea sent 50 submarines to Brazil. [S99]")
    res = summarize(seeded, params)
    text = seeded.catalog.get_article("seed")["text"]  # type: ignore[index]
    assert res.citations and "Brazil" not in res.summary
    for c in res.citations:
        assert c.hit.id in res.shown
        assert c.quote == text[c.hit.start:c.hit.end]
    assert all(v.support >= seeded.support_threshold for v, _ in res.sentences)
    assert res.summary.endswith("]") and res.prompt == "summary@v1" and res.model == "fake-1"


def test_boilerplate_is_never_shown_or_cited(seeded: Services) -> None:
    res = summarize(seeded, SummaryParams(article_ids=("seed",), length="long", model="fake"))
    prompts = " ".join(m.content for call in fake(seeded).calls for m in call.messages)
    for phrase in BOILERPLATE:
        assert phrase not in prompts
        assert all(phrase not in c.quote for c in res.citations)
    boiler = {f"seed:{s['idx']}" for s in seeded.catalog.get_article("seed")["sentences"]  # type: ignore[index]
              if s["boilerplate"]}
    assert len(boiler) == 4 and not boiler & set(res.shown)


def test_cited_claim_gets_its_denial(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", model="fake")
    claim = marker_of(shown_markers(seeded, params), CLAIM)
    fake(seeded).push(f"Russia said its troops had fully reclaimed the Kursk region. [{claim}]")
    res = summarize(seeded, params)
    assert DENIAL in res.summary
    assert res.neutrality.fixes["counterclaims_added"] == 1
    assert res.neutrality.contested_complete == res.neutrality.contested_touched == 1
    assert res.neutrality.contested_coverage == 1.0


def test_unattributed_claim_is_restated_with_its_attribution(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", model="fake")
    claim = marker_of(shown_markers(seeded, params), CLAIM)
    fake(seeded).push(f"Russian troops fully reclaimed the Kursk region. [{claim}]")
    res = summarize(seeded, params)
    first = res.sentences[0][0].text
    assert first.startswith("Russia said two days earlier") and res.neutrality.fixes["attribution_restored"] == 1
    assert res.neutrality.attribution_rate == 1.0


def test_loaded_words_never_survive(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", model="fake")
    praise = marker_of(shown_markers(seeded, params), "In a statement, Putin praised")
    fake(seeded).push(f"In a shocking statement, Putin praised North Korean troops who he said fought "
                      f"shoulder to shoulder with Russian fighters. [{praise}]")
    res = summarize(seeded, params)
    assert "shocking" not in res.summary.lower()
    assert res.neutrality.loaded_introduced == []
    assert res.neutrality.fixes["loaded_restated"] == 1 or res.dropped == 1


def test_contested_pair_is_surfaced_when_the_summary_skips_it(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", model="fake")
    thanked = marker_of(shown_markers(seeded, params), "Russian President Vladimir Putin on Monday thanked")
    fake(seeded).push(f"Putin on Monday thanked North Korea for sending troops to fight alongside Russia. [{thanked}]")
    res = summarize(seeded, params)
    assert CLAIM in res.summary and DENIAL in res.summary
    assert res.neutrality.fixes["contested_surfaced"] == 1


def test_bullets_style(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", style="bullets", model="fake")
    markers = shown_markers(seeded, params)
    a, b = marker_of(markers, "10,000-12,000"), marker_of(markers, "4,000 North Korean soldiers")
    fake(seeded).push(f"- Officials said North Korea deployed 10,000-12,000 troops to Russia. [{a}]\n"
                      f"- South Korea's military assessed that roughly 4,000 North Korean soldiers had been killed "
                      f"or wounded. [{b}]")
    res = summarize(seeded, params)
    lines = res.summary.splitlines()
    assert len(lines) >= 2 and all(line.startswith("- ") and line.endswith("]") for line in lines)


def test_nothing_verified_falls_back_to_quoting_central_sentences(seeded: Services) -> None:
    fake(seeded).push("INSUFFICIENT")
    res = summarize(seeded, SummaryParams(article_ids=("seed",), length="short", model="fake"))
    assert res.extractive_fallback and res.citations
    assert all(v.text == " ".join(v.citations[0].text.split()) for v, _ in res.sentences)


def test_long_input_is_map_reduced_within_the_budget(settings: Settings, embedder: object, seed_text: str) -> None:
    small = settings.model_copy(update={"summary_input_tokens": 200})
    svc = build_services(small, embedder=embedder)
    try:
        ingest_seed(svc, seed_text)
        res = summarize(svc, SummaryParams(article_ids=("seed",), length="long", model="fake"))
        calls = fake(svc).calls
        assert res.calls == len(calls) >= 3  # at least two maps and the reduce
        for call in calls[:-1]:
            sources = call.messages[-1].content.split("<<<SOURCES")[1]
            assert len(re.findall(r"^\[S\d+\]", sources, re.M)) >= 1
        assert {c.hit.id for c in res.citations} <= set(res.shown)
    finally:
        svc.close()


def test_selection_by_query_and_by_date(seeded: Services) -> None:
    seeded.store.ingest(ArticleInput(id="bridge", title="Bridge reopens", source="Example Wire",
                                     published_at="2025-05-10",
                                     text="The Elm Street bridge reopened on Friday after two years of repairs. "
                                          "The city said the work cost 12 million dollars."))
    by_date = summarize(seeded, SummaryParams(filters=Filters(since=parse_bound("2025-05-01", "since")),
                                              model="fake"))
    assert by_date.articles == ["bridge"] and all(c.hit.article_id == "bridge" for c in by_date.citations)
    by_query = summarize(seeded, SummaryParams(query="North Korean troops in Russia", model="fake"))
    assert "seed" in by_query.articles and all(c.hit.article_id == "seed" for c in by_query.citations)


def test_bad_requests(seeded: Services) -> None:
    with pytest.raises(InvalidInput):
        summarize(seeded, SummaryParams(model="fake"))
    with pytest.raises(NotFound):
        summarize(seeded, SummaryParams(article_ids=("nope",), model="fake"))


def test_every_call_is_logged_with_the_prompt_version(seeded: Services, tmp_path: Path) -> None:
    res = summarize(seeded, SummaryParams(article_ids=("seed",), model="fake"))
    row = seeded.call_log.list(limit=1)[0]
    assert (row["prompt_name"], row["prompt_version"]) == ("summary", "v1")
    assert set(row["retrieved_ids"]) <= set(res.shown)


def test_a_reply_cut_by_max_tokens_loses_its_unfinished_sentence() -> None:
    from service.generation.summarize import cut_truncated
    from service.llm.base import Completion

    text = "Officials said the dam opened. [S1] The dam will supply water to"
    assert cut_truncated(Completion(text, "m", "fake", finish_reason="length")) == \
        "Officials said the dam opened. [S1]"
    assert cut_truncated(Completion(text, "m", "fake", finish_reason="stop")) == text


def test_short_keeps_at_most_three_generated_sentences(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", model="fake")
    markers = shown_markers(seeded, params)
    chosen = [(t, m) for t, m in markers.items() if "Kursk" not in t][:5]
    fake(seeded).push(" ".join(f"{t} [{m}]" for t, m in chosen))
    res = summarize(seeded, params)
    generated = [v for v, _ in res.sentences if not ({h.id for h in v.citations} & {"seed:2", "seed:3"})]
    assert len(generated) == 3


def test_every_call_fits_the_model_context(settings: Settings, embedder: object, seed_text: str) -> None:
    from service.generation.summarize import LENGTHS
    from service.tokens import count_tokens

    tight = settings.model_copy(update={"llm_context_tokens": 1100})
    svc = build_services(tight, embedder=embedder)
    try:
        ingest_seed(svc, seed_text)
        res = summarize(svc, SummaryParams(article_ids=("seed",), length="medium", model="fake"))
        assert res.calls >= 2 and res.citations
        for call in fake(svc).calls:
            used = sum(count_tokens(m.content) + 8 for m in call.messages) + LENGTHS["medium"].max_tokens
            assert used <= 1100
    finally:
        svc.close()
