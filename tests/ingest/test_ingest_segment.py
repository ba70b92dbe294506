"""Sentence segmentation: exact offsets on any text, and the hard cases of news copy."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.ingest.article import segment
from service.ingest.segment import split_sentences
from tests.conftest import SHARED_DATA

REALTIMEQA = SHARED_DATA / "realtimeqa_2023" / "docs_gcs.jsonl"

# Fragments that stress the segmenter: abbreviations, numbers with commas and hyphens,
# curly quotes, ellipses, bullets, every kind of line break and odd whitespace.
_FRAGMENTS = [
    "Dr.", "Mr.", "U.S.", "U.K.", "e.g.", "a.m.", "Jan.", "No.", "St.", "Inc.", "3.5", "10,000-12,000",
    "1,200", "2023-01-05", "troops", "said", "He", "left", "Then", "NATO", "Putin", "officials",
    ".", "..", "...", "…", "?", "!", "?!", ",", ";", ":", "“", "”", "‘", "’", "\"", "'", "(", ")", "—",
    "- ", "* ", "• ", "\n", "\n\n", "\r\n", "\r", "\u2028", "\u2029", "\x0b", "\x0c", "\x85",
    " ", "  ", "\t", "\xa0", "\u3000",
]
_fragment_text = st.lists(st.sampled_from(_FRAGMENTS), max_size=80).map(" ".join)
_glued_text = st.lists(st.sampled_from(_FRAGMENTS), max_size=80).map("".join)
_mixed_text = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=8)), max_size=50).map("".join)
ANY_TEXT = st.one_of(st.text(), _fragment_text, _glued_text, _mixed_text)


def assert_exact_spans(text: str, spans) -> None:
    prev_end = 0
    for s in spans:
        assert s.text, f"empty sentence at {s.start}"
        assert text[s.start : s.end] == s.text, (s.start, s.end, s.text)
        assert s.text == s.text.strip(), f"sentence has outer whitespace: {s.text!r}"
        assert s.start < s.end
        assert s.start >= prev_end, f"span {s.start}:{s.end} overlaps or precedes the previous end {prev_end}"
        prev_end = s.end


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(ANY_TEXT)
def test_spans_slice_the_text_exactly_for_any_input(text: str) -> None:
    spans = split_sentences(text)
    assert_exact_spans(text, spans)
    # nothing but whitespace is left out: no text is lost between sentences
    covered = set()
    for s in spans:
        covered.update(range(s.start, s.end))
    lost = [text[i] for i in range(len(text)) if i not in covered and not text[i].isspace()]
    assert not lost, f"characters outside every sentence: {lost!r}"


@settings(max_examples=150, deadline=None, database=None)
@given(ANY_TEXT)
def test_article_segment_keeps_the_same_spans_and_numbers_them(text: str) -> None:
    sentences = segment(text)
    assert [(s.start, s.end) for s in sentences] == [(s.start, s.end) for s in split_sentences(text)]
    assert [s.index for s in sentences] == list(range(len(sentences)))
    assert_exact_spans(text, sentences)


def texts(text: str) -> list[str]:
    spans = split_sentences(text)
    assert_exact_spans(text, spans)
    return [s.text for s in spans]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith met U.S. officials.", ["Dr. Smith met U.S. officials."]),
        ("Dr. Smith met U.S. officials. They talked.", ["Dr. Smith met U.S. officials.", "They talked."]),
        ("North Korea deployed 10,000-12,000 troops to Russia last fall.",
         ["North Korea deployed 10,000-12,000 troops to Russia last fall."]),
        ("The fund grew 3.5% to $1,200.50 in 2023. Analysts cheered.",
         ["The fund grew 3.5% to $1,200.50 in 2023.", "Analysts cheered."]),
        ("He left... Then he came back.", ["He left...", "Then he came back."]),
        ("Key points:\n- First point here.\n- Second point here\n- Third point.",
         ["Key points:", "- First point here.", "- Second point here", "- Third point."]),
        ("“We will win this war,” Putin said. Nobody answered.",
         ["“We will win this war,” Putin said.", "Nobody answered."]),
        ("“We will win this war,” Putin said.", ["“We will win this war,” Putin said."]),
        ("NATO and the U.S. said they would respond. Then came the vote.",
         ["NATO and the U.S. said they would respond.", "Then came the vote."]),
        ("First line without a stop\nSecond line.", ["First line without a stop", "Second line."]),
        ("  padded sentence.  \r\n\r\n  Another one.  ", ["padded sentence.", "Another one."]),
    ],
)
def test_hard_cases(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_empty_and_blank_text_have_no_sentences() -> None:
    for text in ("", " ", "\n\n", "\t \r\n \u2028 "):
        assert split_sentences(text) == []


def test_seed_cross_headlines_are_their_own_sentences(seed_text: str) -> None:
    sentences = segment(seed_text)
    assert_exact_spans(seed_text, sentences)
    by_text = [s.text for s in sentences]
    assert "TRUMP BLASTS PUTIN, QUESTIONING IF RUSSIAN LEADER WANTS PEACE OR IS JUST ‘TAPPING ME ALONG’" in by_text
    assert "RUSSIA ‘READY TO MAKE A DEAL’ ON UKRAINE WAR, LAVROV SAYS" in by_text
    # the quote that follows the first headline is not merged into it
    i = by_text.index("TRUMP BLASTS PUTIN, QUESTIONING IF RUSSIAN LEADER WANTS PEACE OR IS JUST ‘TAPPING ME ALONG’")
    assert by_text[i + 1].startswith("“The Russian people will never forget")
    assert any("10,000-12,000 troops" in t and t.startswith("U.S., South Korean") for t in by_text)
    assert "The Associated Press contributed to this report." in by_text
    assert by_text[-1] == "Read the full article here"


@pytest.mark.skipif(not REALTIMEQA.is_file(), reason=f"{REALTIMEQA} is not available")
def test_offsets_exact_on_real_articles() -> None:
    n_sentences = 0
    with REALTIMEQA.open(encoding="utf-8") as fh:
        for line in itertools.islice(fh, 200):
            doc = json.loads(line)
            text = doc.get("text") or ""
            sentences = segment(text)
            assert_exact_spans(text, sentences)
            assert all("\n" not in s.text for s in sentences), doc.get("url")
            n_sentences += len(sentences)
    assert n_sentences > 1000
