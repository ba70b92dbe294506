"""Comparison questions: the sentence the sources give on each side.

"Are both Coldplay and Pierre Bouvier from the same country?" is answered by two sentences, one
about each name ("Coldplay are a British rock band"; "Pierre Bouvier ... is a Canadian singer").
A draft that cites one of them, or none that verifies, leaves the reader with half the
comparison -- or with nothing, when the two quoted sentences hold it.  Here each side the
question names (:func:`service.retrieval.question.compared`) gets the best shown sentence that
speaks of it.  A winner is named (as the short answer) only where arithmetic over the two
sentences' dates tells it ("born first", "founded earlier"); otherwise the comparison is the
reader's to make from the quoted sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.retrieval.search import SentenceHit
from service.verify.names import names
from service.verify.span import AnswerSpan
from service.verify.text import analyze
from service.verify.topic import question_words


def about(hit: SentenceHit, side: str) -> bool:
    """Whether ``hit`` speaks of ``side``: the sentence names it, or it is in the article titled
    by that name (an encyclopedia entry's later sentences say "It" or "The company")."""
    return names(hit.text, side) or own_article(hit, side)


def own_article(hit: SentenceHit, side: str) -> bool:
    """Whether ``hit`` comes from the article titled by ``side`` (its own encyclopedia entry)."""
    return bool(hit.title) and names(side, hit.title) and names(hit.title, side)


def side_sentences(question: str, sides: tuple[str, str], ranked: Sequence[SentenceHit],
                   cited: Sequence[SentenceHit] = ()) -> list[tuple[str, SentenceHit]] | None:
    """For each side no ``cited`` sentence speaks of, the best of ``ranked`` (best first) that
    does, with the side: one that shares the most of what the question asks (its words other
    than the two names: "headquarters", "born"), then one from the side's own article, then the
    best ranked.  ``None`` when a side has none -- the comparison cannot be given."""
    own = set(analyze(" ".join(sides)).content)
    out: list[tuple[str, SentenceHit]] = []
    taken = {h.id for h in cited}
    for side in sides:
        if any(about(h, side) for h in [*cited, *(h for _, h in out)]):
            continue
        speaking = [(i, h) for i, h in enumerate(ranked) if about(h, side) and h.id not in taken]
        if not speaking:
            return None
        _, best = min(speaking, key=lambda p: (-len(question_words(question, [p[1].text]) - own),
                                               not own_article(p[1], side), p[0]))
        out.append((side, best))
    return out


_EARLIER = re.compile(r"\b(?:first|earlier|earliest|older|oldest|sooner)\b", re.IGNORECASE)
_LATER = re.compile(r"\b(?:later|latest|younger|youngest|more recent(?:ly)?|most recent(?:ly)?|newer|newest)\b",
                    re.IGNORECASE)
_EVENTS = ("born", "founded", "formed", "established", "released", "published", "opened", "started", "created",
           "built", "launched", "incorporated", "died")
_MONTH = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
_M = "|".join(_MONTH)
_DATE = re.compile(rf"\b(?:(\d{{1,2}})\s+({_M})\s+(\d{{4}})|({_M})\s+(\d{{1,2}}),?\s+(\d{{4}})|({_M})\s+(\d{{4}})|"
                   r"(1[0-9]\d\d|20\d\d))(?!\d)", re.IGNORECASE)


def _date(text: str, after: str | None) -> tuple[int, int, int] | None:
    """The first date in ``text`` -- after the word ``after`` ("born") when the text has it --
    as (year, month, day), 0 for a part it does not give."""
    start = 0
    if after is not None and (m := re.search(rf"\b{after}\b", text, re.IGNORECASE)):
        start = m.end()
    m = _DATE.search(text, start)
    if m is None:
        return None
    d, mon, y, mon2, d2, y2, mon3, y3, y4 = m.groups()
    if y:
        return int(y), _MONTH[mon.lower()], int(d)
    if y2:
        return int(y2), _MONTH[mon2.lower()], int(d2)
    if y3:
        return int(y3), _MONTH[mon3.lower()], 0
    return int(y4), 0, 0


def _before(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool | None:
    """Whether ``a`` is before ``b``; ``None`` when the parts both give cannot tell."""
    for x, y in zip(a, b, strict=True):
        if not x or not y:
            return None
        if x != y:
            return x < y
    return None


def earliest_side(question: str, sided: Sequence[tuple[str, SentenceHit]]) -> tuple[str, SentenceHit] | None:
    """For "Who was born first, X or Y?" ("founded earlier", "younger", "more recent"): the side
    whose sentence's date comes first (or last), told by arithmetic over the two cited dates;
    ``None`` when the question does not ask that or a date is missing or too coarse to tell."""
    earlier = True if _EARLIER.search(question) else False if _LATER.search(question) else None
    if earlier is None or len(sided) != 2:
        return None
    event = next((e for e in _EVENTS if re.search(rf"\b{e}\b", question, re.IGNORECASE)), None)
    (a, ha), (b, hb) = sided
    da, db = _date(ha.text, event), _date(hb.text, event)
    if da is None or db is None:
        return None
    first = _before(da, db)
    if first is None:
        return None
    return (a, ha) if first == earlier else (b, hb)


def winner_span(question: str, sides: tuple[str, str], cited: Sequence[SentenceHit]) -> AnswerSpan | None:
    """The short answer of a comparison given side by side, when arithmetic over the cited dates
    tells it (:func:`earliest_side`): the winning side's name, as its sentence spells it."""
    sided = [(side, h) for side in sides if (h := next((c for c in cited if about(c, side)), None)) is not None]
    won = earliest_side(question, sided)
    if won is None:
        return None
    side, hit = won
    m = re.search(r"(?<![^\W_])" + r"\W+".join(map(re.escape, side.split())) + r"(?![^\W_])", hit.text)
    if m is None:
        return None
    return AnswerSpan(m.group(), hit, hit.start + m.start(), hit.start + m.end())
