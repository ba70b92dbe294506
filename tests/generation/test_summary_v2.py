"""summary@v2: key sentences chosen without the model, the model only fuses them (fake backend,
real Chroma, embedder and support checker)."""

from __future__ import annotations

from service.generation.summarize import LENGTHS, SummaryParams, summarize
from service.ingest.article import ArticleInput
from service.runtime import Services
from tests.generation.fakes import fake, marker_of, prompt_markers

CLAIM = "Russia said two days earlier that its troops had fully reclaimed the Kursk region"
DENIAL = "Ukrainian officials have denied Russia’s claim"
V2 = dict(prompt_version="v2", model="fake")  # the default, named so the tests say what they test


def test_the_model_sees_only_the_key_sentences_and_the_contested_pair(seeded: Services) -> None:
    res = summarize(seeded, SummaryParams(article_ids=("seed",), length="short", **V2))
    markers = prompt_markers(seeded)
    assert res.prompt == "summary@v2" and res.calls == 1
    # three key sentences; the seed's contested pair is among them, with its denial
    assert LENGTHS["short"].key_sentences <= len(markers) <= LENGTHS["short"].key_sentences + 1
    assert any(CLAIM in t for t in markers) and any(DENIAL in t for t in markers)
    assert len(res.shown) == len(markers)


def test_v2_prompt_is_a_fraction_of_v1s(seeded: Services) -> None:
    v1 = summarize(seeded, SummaryParams(article_ids=("seed",), length="short", prompt_version="v1", model="fake"))
    v2 = summarize(seeded, SummaryParams(article_ids=("seed",), length="short", **V2))
    assert v2.usage["prompt_tokens"] is not None and v1.usage["prompt_tokens"] is not None
    assert v2.usage["prompt_tokens"] < 0.5 * v1.usage["prompt_tokens"]


def test_a_fused_sentence_that_fails_falls_back_to_its_key_sentences_quoted(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", **V2)
    summarize(seeded, params)
    markers = prompt_markers(seeded)
    claim, denial = marker_of(markers, CLAIM), marker_of(markers, DENIAL)
    # a supported sentence, then one that invents a fact while citing the contested pair
    other = next(m for t, m in markers.items() if CLAIM not in t and DENIAL not in t)
    other_text = next(t for t, m in markers.items() if m == other)
    fake(seeded).push(f"{other_text} [{other}] Russia and Ukraine signed a peace treaty in Kursk on Sunday. "
                      f"[{claim}][{denial}]")
    res = summarize(seeded, params)
    texts = [v.text for v, _ in res.sentences]
    assert "peace treaty" not in res.summary and res.dropped == 1 and not res.extractive_fallback
    assert any(t.startswith("Russia said two days earlier") for t in texts)
    assert any(t.startswith("Ukrainian officials have denied") for t in texts)
    article = seeded.catalog.get_article("seed")
    assert article is not None
    assert all(c.quote == article["text"][c.hit.start:c.hit.end] for c in res.citations)


def test_every_outlet_gets_a_key_sentence_and_repeats_are_said_once(services: Services) -> None:
    wire = "The city council voted 7-2 on Monday to close the Elm Street bridge for repairs."
    articles = [
        ArticleInput(id="a", source="Outlet A", title="Bridge closes", published_at="2025-05-05",
                     text=f"{wire} The repairs will cost $4 million, the city said. Work starts in June."),
        ArticleInput(id="b", source="Outlet B", title="Council shuts bridge", published_at="2025-05-05",
                     text=f"{wire} The bridge will stay closed for eight months, the council said."),
        ArticleInput(id="c", source="Outlet C", title="Merchants object", published_at="2025-05-05",
                     text="Shop owners on Elm Street said the closure would cut their sales in half. "
                          "The council said the bridge was unsafe."),
    ]
    services.store.ingest_many(articles)
    summarize(services, SummaryParams(article_ids=("a", "b", "c"), length="short", **V2))
    prompt = fake(services).calls[-1].messages[-1].content
    lines = [line for line in prompt.splitlines() if line.startswith("[S")]
    assert sum(wire in line for line in lines) == 1  # the wire sentence twice is one fact
    for source in ("Outlet A", "Outlet B", "Outlet C"):
        assert f"({source}," in prompt  # an article header per outlet: each has a key sentence


def test_key_sentences_the_model_leaves_out_are_quoted_after_its_own(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", **V2)
    summarize(seeded, params)
    markers = prompt_markers(seeded)
    claim = marker_of(markers, CLAIM)
    fake(seeded).push(f"Russia said its troops had fully reclaimed the Kursk region. [{claim}]")
    res = summarize(seeded, params)
    cited = {h.text for v, _ in res.sentences for h in v.citations}
    assert res.sentences[0][0].text.startswith("Russia said") and not res.extractive_fallback
    assert all(any(text == c for c in cited) for text in markers)  # every key sentence is in the summary
