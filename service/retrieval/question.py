"""What kind of answer a question wants, and whether a sentence holds one.

"How many soldiers did North Korea send?" wants a number: a sentence that states one
("deployed 10,000-12,000 troops") is a better candidate than one that only repeats the
question's words ("did not disclose how many soldiers").  Deliberately small: a few wh-patterns,
matched on the question's first words, and surface checks on the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import Enum

from service.store.catalog import Filters


class QuestionType(Enum):
    NUMBER = "number"
    DATE = "date"
    OTHER = "other"


_NUMBER_Q = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:how (?:many|much|old|long|far|tall|large|big|high|often)|"
    r"what (?:percentage|percent|share|proportion|number|amount|fraction)|"
    r"(?:by|to) how (?:much|many))\b", re.IGNORECASE)
_DATE_Q = re.compile(
    r"^\W*(?:when\b|(?:in |on )?what (?:year|date|day|month|decade|century)\b|"
    r"(?:in |on )?which (?:year|date|day|month|decade)\b)", re.IGNORECASE)

_NUMBER_WORDS = (r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                 r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozens?")
_HAS_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december|"
           r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec")
_HAS_DATE = re.compile(
    rf"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?:{_MONTHS})\.?\s+\d|\b\d{{1,2}}\s+(?:{_MONTHS})\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|last (?:week|month|year))\b",
    re.IGNORECASE)


_NUMBER_INSIDE = re.compile(r"\bhow (?:many|much)\b", re.IGNORECASE)
_DATE_INSIDE = re.compile(r"\b(?:in|on|by|since|until) (?:what|which) (?:year|date|day|month|decade|century)\b|"
                          r"\bwhen\s*\?\s*$|\bwhat is the (?:birthday|date of birth|birth date)\b", re.IGNORECASE)
"""The same asked mid-sentence, as quiz-style questions do ("...founded in what year?", "paid how
much to perform?", "...since when?", "What is the birthday of...")."""


def question_type(question: str) -> QuestionType:
    if _NUMBER_Q.search(question) or _NUMBER_INSIDE.search(question):
        return QuestionType.NUMBER
    if _DATE_Q.search(question) or _DATE_INSIDE.search(question):
        return QuestionType.DATE
    return QuestionType.OTHER


_ENTITY_Q = re.compile(
    r"\b(?:who|whom|whose|which|where)\b|"
    r"\bwhat\s+(?!(?:is|are|was|were|did|does|do|has|have|had|will|would|can|could|should|might|may|if|about|"
    r"happened|happens|caused|causes|made|makes|led|leads)\b)[a-z]+",
    re.IGNORECASE)


def wants_entity(question: str) -> bool:
    """Whether the answer is a name, a number or a date ("Who...", "Which team...", "How many...",
    "When..."), not a yes or no ("Did Russia retake Kursk?") or a description ("What did Putin
    thank North Korea for?")."""
    return question_type(question) is not QuestionType.OTHER or _ENTITY_Q.search(question) is not None


_AMOUNT = re.compile(rf"\d[\d,.]*\s*(?:%|percent|[kmb]n?\b|(?:{_NUMBER_WORDS})\b)|[$£€]\s*\d|"
                     r"\b(?!(?:1[5-9]|20)\d\d\b)\d[\d,.]*|\b(?:" + _NUMBER_WORDS + r")\b", re.IGNORECASE)


def states_amount(sentence: str) -> bool:
    """Whether ``sentence`` states a count or an amount, not only a year: "The new jobs are expected
    to be completed in 2018" does not answer "how much did MPs earn"."""
    return _AMOUNT.search(sentence) is not None


def answer_type_match(qtype: QuestionType, sentence: str) -> bool:
    if qtype is QuestionType.NUMBER:
        return _HAS_NUMBER.search(sentence) is not None
    if qtype is QuestionType.DATE:
        return _HAS_DATE.search(sentence) is not None
    return False


# --- the period a question asks about -------------------------------------------------------

_DAY = 86_400
_Reach = int | Callable[[date], int]
_PERIODS: tuple[tuple[re.Pattern[str], _Reach], ...] = tuple((re.compile(p, re.IGNORECASE), days) for p, days in (
    (r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", 1),
    (r"\byesterday\b", 2),
    (r"\b(?:this|last|past) weekend\b|\bthis past weekend\b", 7),
    (r"\b(?:this|the past|this past) week\b", 7),
    (r"\blast week\b", 14),
    (r"\bthis month\b", lambda d: d.day - 1),
    (r"\b(?:the past|this past) month\b", 31),
    (r"\blast month\b", 62),
    (r"\brecently\b|(?<!most )\brecent\b", 31),  # "the most recent album" is the latest, of any date
    (r"\bthis year\b", lambda d: d.timetuple().tm_yday - 1),
    (r"\bthe past year\b", 366),
))
"""Wording that ties a question to the days before it is asked, and how many days before the
asking day it reaches: "this week" a little generously (asked on a Monday it still means last
week's news), "this month" and "this year" from the first day of the calendar month or year."""


def period_days(question: str, asked: date) -> int | None:
    """How many days before ``asked`` the question is about, if its wording says ("this week",
    "yesterday", "this year"); the narrowest match wins."""
    days = [d if isinstance(d, int) else d(asked) for pattern, d in _PERIODS if pattern.search(question)]
    return min(days) if days else None


@dataclass(frozen=True, slots=True)
class Period:
    """The publication window a question was read against (epoch seconds, ``until`` exclusive)."""

    since: int | None
    until: int
    days: int | None
    """How far back the question's own wording reaches; ``None`` when it says nothing of time."""

    @property
    def first_day(self) -> str | None:
        return _iso_day(self.since) if self.since is not None else None

    @property
    def last_day(self) -> str:
        return _iso_day(self.until - 1)


def _iso_day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def as_of_filters(filters: Filters, question: str, as_of: int | None, now: int) -> tuple[Filters, Period | None]:
    """``filters`` for a question asked at ``as_of`` (epoch seconds; ``None``: ``now``).

    Asked as of a date, nothing published after that day is used.  A question that names its
    period ("this week", "recently") searches only the articles of that period, which leaves
    out undated ones.  Date bounds the caller set are kept as they are.
    """
    if filters.since is not None or filters.until is not None:
        return filters, None
    asked = as_of if as_of is not None else now
    days = period_days(question, datetime.fromtimestamp(asked, UTC).date())
    if as_of is None and days is None:
        return filters, None
    until = (asked // _DAY + 1) * _DAY
    since = until - (days + 1) * _DAY if days is not None else None
    return replace(filters, since=since, until=until), Period(since, until, days)


# --- comparison questions ---------------------------------------------------------------------

_QUESTION_WORDS = frozenset(
    "are is was were do does did has have had can could will would should which who whom whose what "
    "where when how both either between".split())
_NAME_JOINERS = frozenset("of the de du la le van von der den da di y al el bin".split())
_EDGE = "\"'“”‘’()[]"


def _capitalised(token: str) -> bool:
    word = token.strip(_EDGE)
    return bool(word) and (word[0].isupper() or word[0].isdigit()) and word.lower() not in _QUESTION_WORDS


def _name_before(tokens: list[str], end: int) -> list[str]:
    """The capitalised run of words that ends just before ``tokens[end]`` ("of" and the like
    inside it), or ``[]``."""
    i = end - 1
    while i >= 0 and (_capitalised(tokens[i]) or (tokens[i].lower() in _NAME_JOINERS and i > 0
                                                   and _capitalised(tokens[i - 1]) and i < end - 1)):
        i -= 1
    return tokens[i + 1:end] if i + 1 < end and _capitalised(tokens[i + 1]) else []


def _name_after(tokens: list[str], start: int) -> list[str]:
    i = start
    while i < len(tokens) and (_capitalised(tokens[i]) or (tokens[i].lower() in _NAME_JOINERS and i > start
                                                           and i + 1 < len(tokens) and _capitalised(tokens[i + 1]))):
        if tokens[i][-1:] in ",?;:":  # "Pizza Inn or Papa Gino's?": the name ends with its mark
            i += 1
            break
        i += 1
    return tokens[start:i]


def _clean(words: list[str]) -> str:
    return " ".join(words).strip(_EDGE + ",?;:.")


def compared(question: str) -> tuple[str, str] | None:
    """The two names a comparison question sets side by side, or ``None``: "Which of *Jonny Craig*
    and *Pete Doherty* ...", "Are both *Coldplay* and *Pierre Bouvier* ...", "Are *X* and *Y*
    both American?", "Is *Velvetpark* or *Shape* magazine written more for ...", "..., *Lucie
    Hradecká* or *Raffaella Reggi*?".  Both must be names (capitalised); a list's last item ("MS,
    M.S., or ScM") and lower-case alternatives ("a musical or comedy") are not compared.  (More
    forms, "Were X and Y of the same ...", moved one dev case and were deleted in issue 22.)"""
    tokens = question.split()
    for i, tok in enumerate(tokens):
        if tok.lower() not in ("and", "or") or i == 0 or tokens[i - 1][-1:] in ",;:":
            continue
        a, b = _name_before(tokens, i), _name_after(tokens, i + 1)
        if not a or not b:
            continue
        before = [t.lower().strip(",") for t in tokens[max(0, i - len(a) - 2):i - len(a)]]
        after = tokens[i + 1 + len(b)].lower() if i + 1 + len(b) < len(tokens) else ""
        lead = [t.lower() for t in tokens[:i - len(a)]]  # "Is X or Y ...", "Are X and Y both"
        opens = bool(lead) and lead[0] in _QUESTION_WORDS and lead[1:] in ([], ["the"])
        if tok.lower() == "and":
            marked = before[-1:] == ["both"] or before[-2:] == ["which", "of"] or (opens and after == "both")
        else:
            marked = (before[-2:] == ["which", "of"] or opens
                      or (tokens[i - len(a) - 1][-1:] == "," and (not after or tokens[i + len(b)][-1:] == "?")))
        if marked:
            return _clean(a), _clean(b)
    return None
