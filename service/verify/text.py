"""Text analysis: tokens, stems and the "hard" items of a claim, an evidence sentence or a question.

:func:`analyze` reads one text into a :class:`TextAnalysis`: its words (lowercase, possessive
stripped), their Snowball stems, the content stems (stop words left out), the items a claim's
evidence must hold -- numbers ("10,000" == "10000", "2.5m" == "2,500,000", "twenty-five" == "25"),
months and weekdays, capitalised names (leading titles such as "President" dropped) -- and
whether it is negated, with the word each negation cue negates.  :func:`normalize_text` first
drops citation marks and undoes CNN/DM tokenisation artefacts ("1, 000", "27 - year - old").

The support checker (:mod:`service.verify.support`) scores over these analyses; the name and
topic checks (:mod:`service.verify.names`, :mod:`service.verify.topic`) read them too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up upon very was we were what when where
    which while who whom why will with would you your yours yourself yourselves said says say told
    tell according s t mr mrs ms dr""".split()
)
_NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot without deny denies denied denying".split())
MONTHS = {
    "january": "january", "jan": "january", "february": "february", "feb": "february",
    "march": "march", "april": "april", "apr": "april", "may": "may", "june": "june",
    "july": "july", "august": "august", "aug": "august", "september": "september",
    "sept": "september", "sep": "september", "october": "october", "oct": "october",
    "november": "november", "nov": "november", "december": "december", "dec": "december",
}  # fmt: skip
_AMBIGUOUS_MONTHS = frozenset({"may", "march"})  # also common verbs: need a capital or a digit
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
}  # fmt: skip
_SCALES = {
    "hundred": 100, "thousand": 1_000, "k": 1_000, "million": 1_000_000, "m": 1_000_000,
    "mn": 1_000_000, "billion": 1_000_000_000, "bn": 1_000_000_000,
    "trillion": 1_000_000_000_000, "tn": 1_000_000_000_000,
}  # fmt: skip
_WORD_SCALES = frozenset({"hundred", "thousand", "million", "billion", "trillion"})

_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_THOUSANDS_GAP = re.compile(r"(?<=\d), (?=\d{3}\b)")  # CNN/DM tokenisation: "1, 000"
_SPACED_HYPHEN = re.compile(r"(?<=\w) - (?=\w)")  # CNN/DM tokenisation: "27 - year - old"
_DETACHED_CLITIC = re.compile(r"(?<=\w) '(?=(?:s|t|re|ve|ll|d|m)\b)", re.IGNORECASE)
_TOKEN = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th)?|[A-Za-z]+(?:'[A-Za-z]+)?")
_ORDINAL_SUFFIX = re.compile(r"(?<=\d)(?:st|nd|rd|th)$")
# Leading titles of a name run that the evidence may omit ("President Biden" vs "Biden").
_NAME_TITLES = frozenset(
    """president prime minister senator sen rep representative gov governor judge justice
    chancellor king queen prince princess pope general gen secretary chief mayor coach manager
    captain capt dr mr mrs ms sir dame lord lady saint st bishop rev professor prof officer
    sergeant sgt detective inspector lt col colonel""".split()
)
_CITATION_MARK = re.compile(r"\s*\[(?:[A-Za-z]?\d+)(?:\s*[,;\-]\s*[A-Za-z]?\d+)*\]")
_TITLES = frozenset("mr mrs ms dr st gen sen rep gov prof capt lt col sgt rev no".split())
_BOUNDARY = re.compile(r"[.!?:;\"'(]")


def is_stopword(word: str) -> bool:
    return word.lower() in _STOPWORDS


def normalize_text(text: str) -> str:
    """Drop citation marks ("[2]"), unify quotes, undo CNN/DM tokenisation artefacts."""
    text = _CITATION_MARK.sub("", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _ACRONYM.sub(lambda m: m.group().replace(".", ""), text)  # U.S. -> US
    text = _THOUSANDS_GAP.sub(",", text)
    text = _SPACED_HYPHEN.sub("-", text)
    return _DETACHED_CLITIC.sub("'", text)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    from nltk.stem.snowball import SnowballStemmer  # code, no corpus: works offline

    return SnowballStemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter2) stem of ``word``, lowercased: nltk's, a kept library.

    It replaced a hand-written suffix stripper after measuring both on the same data (QAGS 5-fold
    CV ROC AUC 0.8547 vs 0.8544; our labelled drafts 0.941 vs 0.939, recall at precision 0.90
    0.676 vs 0.662); see docs/support_calibration.md.
    """
    return str(_stemmer().stem(word.lower()))


def _number_key(value: float) -> str:
    if math.isfinite(value) and float(value).is_integer():
        return str(round(value))
    return f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class Mention:
    """A number, date or name of a text: as written, and the keys it is matched by."""

    surface: str
    keys: frozenset[str]


@dataclass(slots=True)
class TextAnalysis:
    """Tokens and hard items of one text (claim or evidence sentence)."""

    words: list[str]  # lowercase word tokens, possessive stripped, numbers excluded
    stems: list[str]  # stems of ``words``
    content: list[str]  # stems of non-stopword words, in order
    numbers: list[Mention]
    dates: list[Mention]
    names: list[Mention]
    negated: bool
    neg_targets: list[str]  # first content stem after each negation cue ("did not *attend*")


def raw_tokens(text: str) -> list[tuple[str, bool]]:
    """(token, is_sentence_initial) pairs of normalised ``text``; possessive 's dropped."""
    out: list[tuple[str, bool]] = []
    prev_end = 0
    for m in _TOKEN.finditer(text):
        initial = not out or (
            _BOUNDARY.search(text, prev_end, m.start()) is not None and out[-1][0].lower() not in _TITLES
        )
        tok = m.group()
        if "'" in tok:
            head, tail = tok.split("'", 1)
            tok = head if tail.lower() == "s" else tok
        out.append((tok, initial))
        prev_end = m.end()
    return out


def _near_digit(toks: list[tuple[str, bool]], i: int) -> bool:
    return (i + 1 < len(toks) and toks[i + 1][0][0].isdigit()) or (i > 0 and toks[i - 1][0][0].isdigit())


def analyze(text: str) -> TextAnalysis:
    """Tokens, stems, numbers, dates, names and negation of ``text``."""
    toks = raw_tokens(normalize_text(text))
    words: list[str] = []
    numbers: list[Mention] = []
    dates: list[Mention] = []
    names: list[Mention] = []
    negated = False
    run: list[str] = []

    def close_name() -> None:
        while len(run) > 1 and run[0].lower() in _NAME_TITLES:
            run.pop(0)
        if run and not (len(run) == 1 and run[0].lower() in _NAME_TITLES):
            names.append(Mention(" ".join(run), frozenset(t.lower() for t in run)))
        run.clear()

    i, n = 0, len(toks)
    while i < n:
        tok, initial = toks[i]
        low = tok.lower()
        if tok[0].isdigit():  # "10,000", "2.5" optionally followed by a scale ("million", "m")
            close_name()
            value = float(_ORDINAL_SUFFIX.sub("", tok).replace(",", ""))
            keys = {_number_key(value)}
            surface = tok
            if i + 1 < n and toks[i + 1][0].lower() in _SCALES:
                scale = toks[i + 1][0]
                keys.add(_number_key(value * _SCALES[scale.lower()]))
                surface = f"{tok} {scale}"
                i += 1
            numbers.append(Mention(surface, frozenset(keys)))
            i += 1
            continue
        if low in _ORDINALS:
            close_name()
            if low != "first":  # "for the first time", "at first": idiom more often than a rank
                numbers.append(Mention(tok, frozenset({str(_ORDINALS[low])})))
            words.append(low)
            i += 1
            continue
        if low in _UNITS:  # "twenty-five", "three million", "a dozen"
            close_name()
            total, current, parts = 0, 0, []
            while i < n:
                w = toks[i][0].lower()
                if w in _UNITS:
                    current += _UNITS[w]
                elif w in _WORD_SCALES:
                    current = max(current, 1) * _SCALES[w]
                    if _SCALES[w] >= 1000:
                        total, current = total + current, 0
                else:
                    break
                parts.append(toks[i][0])
                i += 1
            words.extend(p.lower() for p in parts)
            if [p.lower() for p in parts] != ["one"]:  # "one of the", "no one": not a count
                numbers.append(Mention(" ".join(parts), frozenset({_number_key(total + current)})))
            continue
        words.append(low)
        if low in _NEGATIONS or low.endswith("n't"):
            negated = True
        month = MONTHS.get(low)
        if month is not None and low != month:  # abbreviation ("Jan", "Dec"): only next to a number
            is_date = _near_digit(toks, i)
        elif month in _AMBIGUOUS_MONTHS:  # "may", "march" are also verbs
            is_date = (tok[0].isupper() and not initial) or _near_digit(toks, i)
        else:
            is_date = month is not None or low in WEEKDAYS
        if is_date:
            close_name()
            dates.append(Mention(tok, frozenset({month or low})))
            i += 1
            continue
        # Capitalised names: runs of capitalised non-stopwords; a sentence-initial word only
        # when the next word is capitalised too ("Gary Locke said", not "Police said").
        next_cap = i + 1 < n and toks[i + 1][0][0].isupper() and not toks[i + 1][1]
        if tok[0].isupper() and low not in _STOPWORDS and low not in _NEGATIONS and (not initial or next_cap or run):
            run.append(tok)
        else:
            close_name()
        i += 1
    close_name()
    stems = [stem(w) for w in words]
    is_content = [w not in _STOPWORDS and len(w) > 1 for w in words]
    content = [s for s, c in zip(stems, is_content, strict=True) if c]
    targets: list[str] = []
    for k, w in enumerate(words):
        if w in _NEGATIONS or w.endswith("n't"):
            nxt = [
                stems[m]
                for m in range(k + 1, min(k + 5, len(words)))
                if is_content[m] and not (words[m] in _NEGATIONS or words[m].endswith("n't"))
            ]
            if nxt:
                targets.append(nxt[0])
    return TextAnalysis(words, stems, content, numbers, dates, names, negated, targets)


def vocabulary(texts: Iterable[str]) -> set[str]:
    """Every word of ``texts``, as written (lower-cased) and stemmed."""
    out: set[str] = set()
    for t in texts:
        a = analyze(t)
        out.update(a.stems)
        out.update(a.words)
    return out
