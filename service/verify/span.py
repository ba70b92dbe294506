"""The short answer: the words of a cited sentence that *are* the answer ("1978", "Creature
Comforts", "10,000-12,000"), with their exact offsets.

A reader scanning an answer wants the fact first; a featured-snippet box shows the phrase and
the sentence it sits in.  The phrase is never written by the model: it is what the answer adds
to the question (the numbers, dates and names the question does not give,
:func:`service.verify.support.answer_mentions`), found verbatim in a sentence the answer cites,
so ``article.text[start:end]`` is the short answer exactly, like every quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.retrieval.question import QuestionType, question_type
from service.retrieval.search import SentenceHit
from service.verify.support import answer_mentions

_JOIN = re.compile(r"^[\s,\-\u2013\u2014/]{0,3}$|^\s*(?:and|to|or)\s*$")
"""What may sit between two parts of one answer ("10,000" "-" "12,000"; "2" " " "March")."""
_MAX_CHARS = 80


@dataclass(frozen=True, slots=True)
class AnswerSpan:
    text: str
    hit: SentenceHit
    start: int
    """Offsets into the article's text (``hit.start`` plus the offset within the sentence)."""
    end: int


def _pattern(surface: str) -> re.Pattern[str] | None:
    words = re.findall(r"[^\W_]+", surface)
    if not words:
        return None
    return re.compile(r"(?<![^\W_])" + r"[\s\-\u2013\u2014.,']*".join(map(re.escape, words)) + r"(?![^\W_])",
                      re.IGNORECASE)


def _kind_rank(kind: str, qtype: QuestionType) -> int:
    wanted = {QuestionType.NUMBER: "number", QuestionType.DATE: "date"}.get(qtype)
    if wanted is None:
        return 0
    return 0 if kind == wanted or (qtype is QuestionType.DATE and kind == "number") else 1


def locate_answer(question: str, claims: Sequence[str], hits: Sequence[SentenceHit]) -> AnswerSpan | None:
    """The short answer of ``claims`` (what they add to ``question``) in the first of ``hits``
    that holds it verbatim; ``None`` when the claims add nothing that a cited sentence spells out.

    Parts of one answer next to each other in the sentence ("2 March 1972") are joined; among
    several, the one the question asks for ("how many" wants a number, "when" a date) wins, then
    the one with the most parts, then the first."""
    qtype = question_type(question)
    mentions = [m for c in claims for m in answer_mentions(c, question)]
    if not mentions:
        return None
    for hit in hits:
        found: list[tuple[int, int, str]] = []
        for kind, surface in mentions:
            pat = _pattern(surface)
            if pat is not None and (m := pat.search(hit.text)) is not None:
                found.append((m.start(), m.end(), kind))
        if not found:
            continue
        found.sort()
        groups: list[list[tuple[int, int, str]]] = []
        for item in found:
            last = groups[-1][-1] if groups else None
            if last is not None and (item[0] < last[1] or _JOIN.match(hit.text[last[1]:item[0]])):
                groups[-1].append(item)
            else:
                groups.append([item])
        best = min(groups, key=lambda g: (min(_kind_rank(k, qtype) for *_, k in g), -len(g), g[0][0]))
        start, end = best[0][0], max(e for _, e, _ in best)
        if start and hit.text[start - 1] in "$£€":
            start -= 1
        if end < len(hit.text) and hit.text[end] == "%":
            end += 1
        if end - start > _MAX_CHARS:
            continue
        return AnswerSpan(hit.text[start:end], hit, hit.start + start, hit.start + end)
    return None
