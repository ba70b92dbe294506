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

from service.retrieval.question import QuestionType, question_type, wants_entity
from service.retrieval.search import SentenceHit
from service.verify.support import answer_mentions

_JOIN = re.compile(r"^(?:[\-\u2013/]|,? ?|\s+(?:and|to|or)\s+)$")
"""What may sit between two parts of one answer: "10,000-12,000", "2 March 1972", "March 3, 2023",
"Love and Theft" -- but not a spaced dash ("November 8, 1927 – January 1, 2013" is two dates)."""
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
    """0 for the kind the question asks for: a number, a date (a bare year reads as a number), or
    otherwise a name."""
    if qtype is QuestionType.NUMBER:
        return 0 if kind == "number" else 1
    if qtype is QuestionType.DATE:
        return 0 if kind in ("date", "number") else 1
    return 0 if kind == "name" else 1


def _in_claim_order(claim: str, mentions: list[tuple[str, str]]) -> list[tuple[str, re.Pattern[str], bool]]:
    """Mentions in the order the claim states them, as (kind, pattern to find them by, whether
    *attributive*: one capitalised word used as an adjective, "American country duo", "Nazi
    coup" -- a name the answer describes with, not the name it gives)."""
    placed: list[tuple[int, str, re.Pattern[str], bool]] = []
    for kind, surface in mentions:
        pat = _pattern(surface)
        if pat is None:
            continue
        m = pat.search(claim)
        if m is None:
            placed.append((len(claim), kind, pat, False))
            continue
        single = " " not in surface.strip()
        placed.append((m.start(), kind, pat, single and re.match(r"\s+[a-z]", claim[m.end():]) is not None))
    placed.sort(key=lambda p: p[0])
    return [(kind, pat, attributive) for _, kind, pat, attributive in placed]


def locate_answer(question: str, claims: Sequence[str], hits: Sequence[SentenceHit]) -> AnswerSpan | None:
    """The short answer of ``claims`` (what they add to ``question``) in the first of ``hits``
    that holds it verbatim; ``None`` when the question does not ask for a name, number or date
    (:func:`service.retrieval.question.wants_entity`) or the claims add none that a cited sentence
    spells out.

    Parts of one answer next to each other in the sentence ("2 March 1972") are joined; among
    several, the kind the question asks for wins ("how many" wants a number, "when" a date,
    anything else a name), then the one the claims state first (the answer prompt puts the
    answer itself first), names used as adjectives last."""
    if not wants_entity(question):
        return None
    qtype = question_type(question)
    mentions = [m for c in claims for m in _in_claim_order(c, answer_mentions(c, question))]
    if not mentions:
        return None
    for hit in hits:
        found: list[tuple[int, int, str, int]] = []
        for order, (kind, pat, attributive) in enumerate(mentions):
            if (m := pat.search(hit.text)) is not None:
                found.append((m.start(), m.end(), kind, order + (len(mentions) if attributive else 0)))
        if not found:
            continue
        found.sort()
        groups: list[list[tuple[int, int, str, int]]] = []
        for item in found:
            last = groups[-1][-1] if groups else None
            if last is not None and (item[0] < last[1] or _JOIN.match(hit.text[last[1]:item[0]])):
                groups[-1].append(item)
            else:
                groups.append([item])
        best = min(groups, key=lambda g: (min(_kind_rank(k, qtype) for _, _, k, _ in g), min(o for *_, o in g)))
        start, end = best[0][0], max(e for _, e, _, _ in best)
        if start and hit.text[start - 1] in "$£€":
            start -= 1
        if end < len(hit.text) and hit.text[end] == "%":
            end += 1
        if end - start > _MAX_CHARS:
            continue
        return AnswerSpan(hit.text[start:end], hit, hit.start + start, hit.start + end)
    return None
