"""The short answer: the words of a cited sentence that *are* the answer ("1978", "Creature
Comforts", "10,000-12,000"), with their exact offsets.

A reader scanning an answer wants the fact first; a featured-snippet box shows the phrase and
the sentence it sits in.  The phrase is never written by the model: it is what the answer adds
to the question (the numbers, dates and names the question does not give,
:func:`service.verify.topic.answer_mentions`), found verbatim in a sentence the answer cites,
so ``article.text[start:end]`` is the short answer exactly, like every quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.retrieval.question import QuestionType, question_type, wants_entity
from service.retrieval.search import SentenceHit
from service.verify.names import capitalised_inside, lead_name
from service.verify.text import analyze, is_stopword, stem
from service.verify.topic import answer_mentions

_JOIN = re.compile(r"^(?:[\-\u2013/]|,? ?|\s+(?:and|to|or)\s+)$")
"""What may sit between two parts of one answer: "10,000-12,000", "2 March 1972", "March 3, 2023",
"Love and Theft" -- but not a spaced dash ("November 8, 1927 – January 1, 2013" is two dates)."""
_MAX_CHARS = 80
_WH = re.compile(r"\b(?:what|which|who|whom|whose|where|when|how)\b", re.IGNORECASE)
_ANCHOR_WORDS = 2
"""Content words of the question just before its wh-word that anchor the answer ..."""
_ANCHOR_REACH = 6
"""... when the answer starts within this many words after one of them in the sentence."""
_WORD = re.compile(r"[^\W_]+")
_YEAR_Q = re.compile(r"\b(?:what|which) year\b", re.IGNORECASE)
_YEAR = re.compile(r"\b1\d{3}\b|\b20\d{2}\b")


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
    coup" -- a name the answer describes with, not the name it gives; "Love and Theft" is not)."""
    placed: list[tuple[int, str, re.Pattern[str], bool]] = []
    for kind, surface in mentions:
        pat = _pattern(surface)
        if pat is None:
            continue
        m = pat.search(claim)
        if m is None:
            placed.append((len(claim), kind, pat, False))
            continue
        follows = re.match(r"\s+([a-z]+)", claim[m.end():])  # a lower-case content word: "American *country*"
        attributive = (kind == "name" and " " not in surface.strip() and follows is not None
                       and not is_stopword(follows.group(1)))
        placed.append((m.start(), kind, pat, attributive))
    placed.sort(key=lambda p: p[0])
    return [(kind, pat, attributive) for _, kind, pat, attributive in placed]


def _anchors(question: str) -> dict[str, bool]:
    """The question's last content words before its wh-word, stemmed, each with whether "by"
    follows it: "a film directed by *which* director" -> {film, direct (by)}; "a railway that
    linked Edinburgh to *what* city" -> {link, edinburgh}.  The answer sits where the wh-word
    sits, so in a sentence it follows one of them ("written and directed by M. Night Shyamalan",
    "a railway link between London and Edinburgh").  Words of the kind asked for are no anchor
    ("small breweries, such as what brewery": a sentence's "brewery" precedes its description,
    not its name)."""
    m = _WH.search(question)
    if m is None:
        return {}
    wanted = set(analyze(" ".join(question[m.end():].split()[:3])).content)  # "what *brewery*"
    words = _WORD.findall(question[:m.start()])
    out: dict[str, bool] = {}
    for i in range(len(words) - 1, -1, -1):
        if len(out) == _ANCHOR_WORDS:
            break
        if is_stopword(words[i]) or len(words[i]) < 2 or (st := stem(words[i].lower())) in wanted:
            continue
        out.setdefault(st, i + 1 < len(words) and words[i + 1].lower() == "by")
    return out


def _anchored(text: str, start: int, anchors: dict[str, bool]) -> bool:
    """Whether one of ``anchors`` is among the :data:`_ANCHOR_REACH` words before ``start``, in
    the same voice: "also created *what*" is not answered by "created by Nick Park" (the agent of
    a passive), "directed by *which* director" is."""
    words = _WORD.findall(text[:start])[-_ANCHOR_REACH:]
    for i, w in enumerate(words):
        by = anchors.get(stem(w.lower()))
        if by is not None and by == (i + 1 < len(words) and words[i + 1].lower() == "by"):
            return True
    return False


def _narrow_to_year(question: str, text: str) -> tuple[int, int] | None:
    """"In what year..." is answered by the year of a full date ("November 8, 1927" -> "1927")."""
    if not _YEAR_Q.search(question) or _YEAR.fullmatch(text):
        return None
    years = list(_YEAR.finditer(text))
    return (years[0].start(), years[0].end()) if len(years) == 1 else None


def locate_answer(question: str, claims: Sequence[str], hits: Sequence[SentenceHit]) -> AnswerSpan | None:
    """The short answer of ``claims`` (what they add to ``question``), found verbatim in one of
    ``hits`` (the cited sentences, in citation order); ``None`` when the question does not ask
    for a name, number or date (:func:`service.retrieval.question.wants_entity`) or the claims
    add none of its kind that a cited sentence spells out.

    Parts of one answer next to each other in the sentence ("2 March 1972") are joined; among
    several, in any cited sentence, the kind the question asks for wins ("how many" wants a
    number and "when" a date, and takes nothing else; anything else wants a name), names used as
    adjectives last, then one that follows the words the question puts before its wh-word
    (:func:`_anchors`), then the one the claims state first (the answer prompt puts the answer
    itself first), then the first cited sentence.  "In what year" takes the year of a full date."""
    if not wants_entity(question):
        return None
    qtype = question_type(question)
    anchors = _anchors(question)
    mentions = [m for c in claims for m in _in_claim_order(c, answer_mentions(c, question))]
    if not mentions:  # "Amazon is the latest tech giant to ...": a first word the sources capitalise
        leads = [w for c in claims
                 if (w := lead_name(c, question)) and any(capitalised_inside(w, h.text) for h in hits)]
        mentions = [("name", p, False) for w in leads[:1] if (p := _pattern(w)) is not None]
    if not mentions:
        return None
    best: tuple[tuple[int, bool, bool, int, int], AnswerSpan] | None = None
    for rank, hit in enumerate(hits):
        found: list[tuple[int, int, str, int]] = []
        for order, (kind, pat, attributive) in enumerate(mentions):
            if (m := pat.search(hit.text)) is not None:
                found.append((m.start(), m.end(), kind, order + (len(mentions) if attributive else 0)))
        found.sort()
        groups: list[list[tuple[int, int, str, int]]] = []
        for item in found:
            last = groups[-1][-1] if groups else None
            if last is not None and (item[0] < last[1] or _JOIN.match(hit.text[last[1]:item[0]])):
                groups[-1].append(item)
            else:
                groups.append([item])
        for g in groups:
            start, end = g[0][0], max(e for _, e, _, _ in g)
            if start and hit.text[start - 1] in "$£€":
                start -= 1
            if end < len(hit.text) and hit.text[end] == "%":
                end += 1
            if end - start > _MAX_CHARS:
                continue
            if (year := _narrow_to_year(question, hit.text[start:end])) is not None:
                start, end = start + year[0], start + year[1]
            kind_rank = min(_kind_rank(k, qtype) for _, _, k, _ in g)
            if kind_rank and qtype is not QuestionType.OTHER:
                continue  # "when" is not answered by a name, nor "how many" by a date
            order = min(o for *_, o in g)  # attributive names come after all others
            key = (kind_rank, order >= len(mentions),
                   not _anchored(hit.text, start, anchors), order, rank)
            if best is None or key < best[0]:
                best = (key, AnswerSpan(hit.text[start:end], hit, hit.start + start, hit.start + end))
    return best[1] if best is not None else None
