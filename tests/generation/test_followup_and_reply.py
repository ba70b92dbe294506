"""Follow-ups made to stand alone, and an answer rendered as chat text with exact marker spans."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.generation.answer import AnswerResult, AskParams, answer
from service.generation.core import Citation
from service.generation.followup import Turn, joined, standalone, transcript, usable
from service.generation.reply import render, utf16_offset, without_sources
from service.llm.fake import FakeBackend
from service.logs.calls import CallLog
from service.retrieval.search import SentenceHit
from service.runtime import Services
from service.verify.citations import VerifiedSentence

HISTORY = (Turn("user", "How many troops did North Korea send to Russia?"),
           Turn("assistant", "Officials said 10,000-12,000. [1]"))


def test_no_earlier_question_no_call() -> None:
    fake = FakeBackend()
    got = standalone(fake, (), "Did Russia retake Kursk?", log=None)
    assert (got.question, got.method, got.rewritten) == ("Did Russia retake Kursk?", "none", False)
    assert fake.calls == []


def test_the_model_rewrites_the_follow_up_and_the_call_is_logged(tmp_path: Path) -> None:
    fake = FakeBackend(["How many North Korean troops were killed or wounded?"])
    log = CallLog(tmp_path / "calls.sqlite3")
    got = standalone(fake, HISTORY, "And how many were killed or wounded?", log=log)
    assert got.method == "model" and got.question == "How many North Korean troops were killed or wounded?"
    assert got.asked == "And how many were killed or wounded?" and got.rewritten
    shown = fake.calls[0].messages[-1].content
    assert "User: How many troops did North Korea send to Russia?" in shown
    assert "Last question: And how many were killed or wounded?" in shown
    log.close()
    with sqlite3.connect(tmp_path / "calls.sqlite3") as db:
        assert db.execute("SELECT prompt_name, prompt_version FROM calls").fetchall() == [("rewrite", "v1")]


@pytest.mark.parametrize("reply", ["INSUFFICIENT", "", "One line\nand another?", "x" * 400,
                                   "About 4,000 were killed or wounded."])
def test_an_unusable_rewrite_falls_back_to_the_joined_question(reply: str) -> None:
    got = standalone(FakeBackend([reply]), HISTORY, "And how many were killed?", log=None)
    assert got.method == "joined"
    assert got.question == "How many troops did North Korea send to Russia? And how many were killed?"


def test_usable_strips_quotes_and_rejects_non_questions() -> None:
    assert usable(' "Who won?" ', "Who?") == "Who won?"
    assert usable("INSUFFICIENT", "Who?") is None


def test_history_roles_are_checked() -> None:
    with pytest.raises(InvalidInput, match=r"history\[0\]\.role"):
        standalone(FakeBackend(), (Turn("system", "x"),), "q?", log=None)


def test_the_transcript_keeps_recent_turns_and_cuts_long_ones() -> None:
    turns = tuple(Turn("user" if i % 2 == 0 else "assistant", f"turn {i} " + "word " * 300) for i in range(10))
    text = transcript(turns)
    assert "turn 0 " not in text and "turn 9 " in text and text.count("\n") == 5
    assert all(len(line) < 620 for line in text.split("\n"))
    assert joined(turns, "and then?").startswith("turn 8 ")


def test_ask_with_history_answers_the_rewritten_question(seeded: Services) -> None:
    fake = seeded.backend("fake")
    assert isinstance(fake, FakeBackend)
    fake.push("Did Russia retake the Kursk region?")
    res = answer(seeded, AskParams("And did they retake it?", model="fake", history=HISTORY))
    assert res.standalone is not None and res.standalone.question == "Did Russia retake the Kursk region?"
    assert "rewrite_ms" in res.timings and not res.abstained
    assert "Kursk" in fake.calls[1].messages[-1].content  # the answer prompt asks the rewritten question


def _hit(i: int, text: str, title: str = "T [x]") -> SentenceHit:
    return SentenceHit("a", i, text, 10 * i, 10 * i + len(text), title, None, "Outlet", "2025-04-28")


def _result(sentences: list[tuple[str, list[int]]], citations: list[Citation]) -> AnswerResult:
    hits = {c.marker: c.hit for c in citations}
    return AnswerResult(" ".join(t for t, _ in sentences),
                        [(VerifiedSentence(t, [hits[n] for n in ns], 0.9), ns) for t, ns in sentences],
                        citations, False, None, [], "m", "fake", "answer@v3", {}, {})


def test_every_marker_span_is_exact_even_after_an_emoji() -> None:
    c1, c2 = Citation(1, _hit(1, "One 🙂 said."), "One 🙂 said."), Citation(2, _hit(2, "Two denied."), "Two denied.")
    res = _result([("One 🙂 said so.", [1]), ("Two denied it.", [2, 1])], [c1, c2])
    reply = render(res, "http://desk/", sources=True)
    text = reply.text
    assert text.startswith("One 🙂 said so. [1] Two denied it. [2][1]\n\nSources:\n[1] [T (x)](http://desk/articles/a#s1)")
    spans = [(m.start(), m.end()) for m in re.finditer(r"\[\d\]", text)]
    assert [(m.start, m.end) for m in reply.marks] == spans
    assert [m.citation.marker for m in reply.marks] == [1, 2, 1, 1, 2]
    # JavaScript counts the emoji as two units: every offset after it moves by one
    assert utf16_offset(text, reply.marks[0].start) == reply.marks[0].start + 1
    assert text.encode("utf-16-le")[2 * utf16_offset(text, reply.marks[0].start):][:6].decode("utf-16-le") == "[1]"
    bare = render(res, "http://desk/", sources=False)
    assert bare.text == "One 🙂 said so. [1] Two denied it. [2][1]" and len(bare.marks) == 3
    assert without_sources(text) == bare.text
