"""What kind of answer a question wants, and whether a sentence holds one.

"How many soldiers did North Korea send?" wants a number: a sentence that states one
("deployed 10,000-12,000 troops") is a better candidate than one that only repeats the
question's words ("did not disclose how many soldiers").  Deliberately small: a few wh-patterns,
matched on the question's first words, and surface checks on the sentence.
"""

from __future__ import annotations

import re
from enum import Enum


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


def question_type(question: str) -> QuestionType:
    if _NUMBER_Q.search(question):
        return QuestionType.NUMBER
    if _DATE_Q.search(question):
        return QuestionType.DATE
    return QuestionType.OTHER


def answer_type_match(qtype: QuestionType, sentence: str) -> bool:
    if qtype is QuestionType.NUMBER:
        return _HAS_NUMBER.search(sentence) is not None
    if qtype is QuestionType.DATE:
        return _HAS_DATE.search(sentence) is not None
    return False
