"""summary@v2: key sentences chosen without the model, the model only fuses them (fake backend,
real Chroma, embedder and support checker)."""

from __future__ import annotations

from service.generation.core import FirstVerified
from service.generation.evidence import Evidence
from service.generation.summarize import LENGTHS, SummaryParams, summarize
from service.ingest.article import ArticleInput
from service.retrieval.search import SentenceHit
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


def _reply_with_every_key_sentence_twice(markers: dict[str, str]) -> tuple[str, list[str]]:
    """A reply that copies each key sentence, then goes on: more than a short summary keeps."""
    sentences = [f"{text} [{m}]" for text, m in markers.items()]
    return " ".join(sentences + sentences), sentences


def test_the_model_is_stopped_once_it_has_written_the_sentences_a_summary_keeps(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", **V2)
    summarize(seeded, params)
    reply, sentences = _reply_with_every_key_sentence_twice(prompt_markers(seeded))
    keep = LENGTHS["short"].max_sentences
    assert len(sentences) >= keep
    fake(seeded).push(reply)
    res = summarize(seeded, params)
    assert fake(seeded).calls[-1].stream  # streamed, so it can be stopped
    row = seeded.call_log.list(limit=1)[0]
    assert row["finish_reason"] == "enough" and row["error"] is None
    assert row["response"] == " ".join(sentences[:keep])  # cut after the third verified sentence
    assert res.usage["completion_tokens"] is not None
    assert res.usage["completion_tokens"] < len(reply.split())  # the rest was never read
    # what is kept is what the whole reply would have given: its first three verified sentences
    assert [v.text for v, _ in res.sentences[:keep]] == [s.rsplit(" [", 1)[0] for s in sentences[:keep]]


def test_a_sentence_that_fails_verification_does_not_count_towards_the_stop(seeded: Services) -> None:
    params = SummaryParams(article_ids=("seed",), length="short", **V2)
    summarize(seeded, params)
    markers = prompt_markers(seeded)
    reply, sentences = _reply_with_every_key_sentence_twice(markers)
    first = next(iter(markers.values()))
    invented = f"Russia and Ukraine signed a peace treaty in Kursk on Sunday. [{first}]"
    fake(seeded).push(f"{invented} {reply}")
    res = summarize(seeded, params)
    row = seeded.call_log.list(limit=1)[0]
    keep = LENGTHS["short"].max_sentences
    assert row["finish_reason"] == "enough"
    assert row["response"] == " ".join([invented, *sentences[:keep]])  # the failed one did not count
    assert "peace treaty" not in res.summary


def _key_evidence(seeded: Services) -> tuple[Evidence, dict[str, str]]:
    """The Evidence the seed's short summary shows the model, and its {text: marker}."""
    summarize(seeded, SummaryParams(article_ids=("seed",), length="short", **V2))
    markers = prompt_markers(seeded)
    rows = [r for r in seeded.catalog.article_sentences(["seed"]) if r["text"] in markers]
    evidence = Evidence(tuple(SentenceHit(r["article_id"], r["idx"], r["text"], r["start"], r["end"], r["title"],
                                          r["url"], r["source"], r["published_iso"]) for r in rows))
    assert {f"[{m}]" for m in markers.values()} == {line.split(" ", 1)[0] for line in evidence.render().splitlines()
                                                     if line.startswith("[S")}
    return evidence, markers


def test_the_cut_is_the_same_whether_the_reply_streams_in_or_comes_whole(seeded: Services) -> None:
    evidence, markers = _key_evidence(seeded)
    reply, _ = _reply_with_every_key_sentence_twice(markers)
    whole = FirstVerified(seeded, evidence, 2)(reply)
    streamed, by_delta = FirstVerified(seeded, evidence, 2), None
    for end in range(1, len(reply) + 1):
        if (by_delta := streamed(reply[:end])) is not None:
            break
    assert whole is not None and whole == by_delta


def test_a_full_stop_after_the_markers_stays_with_its_sentence(seeded: Services) -> None:
    evidence, markers = _key_evidence(seeded)
    (first, m1), (second, m2) = list(markers.items())[:2]
    reply = f"{first.rstrip('.')} [{m1}]. {second.rstrip('.')} [{m2}]. More text"
    cut = FirstVerified(seeded, evidence, 1)(reply)
    assert cut is not None and reply[:cut].endswith(f"[{m1}].")


def test_v3_quotes_a_sentence_written_from_one_key_sentence_and_keeps_a_merge(services: Services) -> None:
    services.store.ingest_many([
        ArticleInput(id="a", source="Outlet A", title="Port reopens", published_at="2025-05-05",
                     text="The port reopened on Tuesday after a two-week strike, the port authority said in a "
                          "statement. Shipping companies expect delays to last into next month."),
        ArticleInput(id="b", source="Outlet B", title="Dockworkers return", published_at="2025-05-05",
                     text="Dockworkers returned to the port on Tuesday, ending a strike that began two weeks "
                          "earlier."),
    ])
    params = SummaryParams(article_ids=("a", "b"), length="short", prompt_version="v3", model="fake")
    summarize(services, params)
    markers = prompt_markers(services)
    port, docks = marker_of(markers, "port reopened"), marker_of(markers, "Dockworkers")
    delays = marker_of(markers, "Shipping companies")
    merged = ("The port reopened on Tuesday, the port authority said, and dockworkers returned to the port, "
              "ending a strike that began two weeks earlier.")
    fake(services).push(f"{merged} [{port}][{docks}] Shipping companies expect delays. [{delays}]")
    res = summarize(services, params)
    texts = [v.text for v, _ in res.sentences]
    assert res.prompt == "summary@v3"
    assert texts[0] == merged  # a merge of two key sentences stays in the model's words
    # the trimmed copy of one key sentence is that sentence, whole, and its quote is exact
    assert texts[1] == "Shipping companies expect delays to last into next month."
    assert all(c.quote == c.hit.text for c in res.citations)
