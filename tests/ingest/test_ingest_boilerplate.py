"""Boilerplate: promo cross-headlines, credits and trailers are kept in the text but never indexed."""

from __future__ import annotations

import pytest

from service.ingest.article import ArticleInput, chunk, process, segment
from service.ingest.clean import CREDIT, PROMO_HEADLINE, TRAILER, boilerplate_reason

SEED_BOILERPLATE = {
    "TRUMP BLASTS PUTIN, QUESTIONING IF RUSSIAN LEADER WANTS PEACE OR IS JUST ‘TAPPING ME ALONG’": PROMO_HEADLINE,
    "RUSSIA ‘READY TO MAKE A DEAL’ ON UKRAINE WAR, LAVROV SAYS": PROMO_HEADLINE,
    "The Associated Press contributed to this report.": CREDIT,
    "Read the full article here": TRAILER,
}


def test_seed_flags_exactly_the_promo_headlines_credit_and_trailer(seed_text: str) -> None:
    flagged = {s.text: s.boilerplate for s in segment(seed_text) if s.boilerplate}
    assert flagged == SEED_BOILERPLATE


def test_seed_chunks_never_contain_boilerplate(seed_text: str) -> None:
    art = process(ArticleInput(id="seed", text=seed_text), max_tokens=64, overlap_tokens=16)
    boiler = {s.index for s in art.sentences if s.boilerplate}
    assert len(boiler) == 4
    assert art.chunks
    for ch in art.chunks:
        assert not boiler & set(ch.sentence_indexes), ch
        for s in art.sentences:
            if s.boilerplate:
                assert s.text not in ch.text
    assert {s.index for s in art.indexed} == {i for ch in art.chunks for i in ch.sentence_indexes}
    # the title is never a promo headline
    assert art.title.startswith("Russian President Vladimir Putin")


@pytest.mark.parametrize(
    "sentence",
    [
        "NATO and the U.S. said they would send more air defence systems to Ukraine.",
        "The EU, NATO, the UN and the IAEA met in Vienna on Monday.",
        "U.S., South Korean and Ukrainian intelligence officials have said North Korea deployed 10,000-12,000 troops.",
        "“The Russian people will never forget the heroism of the DPRK special forces,” Putin said.",
        "Read more about the talks in our explainer on the ceasefire negotiations, which began in March of last year.",
        "Reporters asked whether the report was accurate.",
        "He said the full article of the treaty would be read out in parliament.",
        "Police said the suspect contributed to the campaign of a local candidate.",
        "OK.",
        "NASA",
        "FBI AND CIA",
    ],
)
def test_content_sentences_are_not_flagged(sentence: str) -> None:
    assert boilerplate_reason(sentence, line_is_own=True) is None
    assert boilerplate_reason(sentence, line_is_own=False) is None


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Read the full article here", TRAILER),
        ("Read the full story at CNN.com", TRAILER),
        ("Click here to subscribe.", TRAILER),
        ("This article originally appeared on The Conversation.", TRAILER),
        ("Sign up for our daily newsletter.", TRAILER),
        ("Advertisement", TRAILER),
        ("The Associated Press contributed to this report.", CREDIT),
        ("Reuters reporter Jane Doe also contributed to this story.", CREDIT),
        ("Reporting by John Smith; Editing by Jane Doe", CREDIT),
        ("WHITE HOUSE SAYS TALKS WILL RESUME NEXT WEEK", PROMO_HEADLINE),
    ],
)
def test_boilerplate_reasons(sentence: str, reason: str) -> None:
    assert boilerplate_reason(sentence, line_is_own=True) == reason


def test_all_caps_line_is_a_headline_only_when_it_fills_its_line() -> None:
    headline = "WHITE HOUSE SAYS TALKS WILL RESUME NEXT WEEK"
    assert boilerplate_reason(headline, line_is_own=False) is None
    text = f"The talks stalled. {headline}. Officials declined to comment.\n{headline}\nThey met later."
    flagged = [(s.text, s.boilerplate) for s in segment(text) if s.boilerplate]
    assert flagged == [(headline, PROMO_HEADLINE)]


def test_boilerplate_stays_in_the_text_with_exact_offsets(seed_text: str) -> None:
    art = process(ArticleInput(id="seed", text=seed_text), max_tokens=192, overlap_tokens=32)
    assert art.text == seed_text
    for s in art.sentences:
        assert seed_text[s.start : s.end] == s.text
    assert [s.boilerplate for s in art.sentences if s.boilerplate] == [
        PROMO_HEADLINE, PROMO_HEADLINE, CREDIT, TRAILER]


def test_article_of_only_boilerplate_has_no_chunks() -> None:
    sentences = segment("Read the full article here\nThe Associated Press contributed to this report.")
    assert all(s.boilerplate for s in sentences)
    assert chunk(sentences, max_tokens=64, overlap_tokens=8) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Reporting by The Washington Post found that the agency ignored the warnings.",
        "Reporting by the BBC revealed the scandal.",
        "Writing by hand is becoming rare in schools.",
        "Copyright law is changing fast.",
    ],
)
def test_credit_rule_does_not_swallow_content(sentence: str) -> None:
    assert boilerplate_reason(sentence, line_is_own=False) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "Get more rest before the race, doctors advise.",
        "The story was published accidentally.",
    ],
)
def test_trailer_rule_does_not_swallow_content(sentence: str) -> None:
    assert boilerplate_reason(sentence, line_is_own=False) is None


def test_sponsored_content_label_is_a_trailer() -> None:
    assert boilerplate_reason("Sponsored content", line_is_own=True) == TRAILER


def _headline_between(sep: str) -> list[tuple[str, str | None]]:
    text = (f"Putin thanked North Korea on Monday.{sep}"
            f"TRUMP BLASTS PUTIN, QUESTIONING IF RUSSIAN LEADER WANTS PEACE{sep}Kim sent troops.")
    return [(s.text, s.boilerplate) for s in segment(text)]


@pytest.mark.parametrize("sep", ["\n", "\r\n", "\n\n"])
def test_cross_headline_between_newlines(sep: str) -> None:
    assert [r for _, r in _headline_between(sep)] == [None, PROMO_HEADLINE, None]


@pytest.mark.parametrize("sep", ["\r", "\u2028", "\u2029"])
def test_cross_headline_between_other_line_breaks(sep: str) -> None:
    assert [r for _, r in _headline_between(sep)] == [None, PROMO_HEADLINE, None]
