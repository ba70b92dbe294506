"""Citation support checker: does the cited evidence support a generated claim?

No NLI or cross-encoder model ships offline (see ../shared/OFFLINE_MODELS.md), so the checker
combines cheap signals with a logistic regression fitted on human labels (QAGS, CNN/DM;
``python -m evals.calibrate_support``, report in docs/support_calibration.md):

* embedding cosine between the claim and its best evidence sentence, and the concatenated
  evidence (all-MiniLM-L6-v2, one batched call per :meth:`SupportChecker.score_many`);
* lexical overlap: recall of the claim's content-word stems, of its stem bigrams (over all the
  evidence and against the best single sentence), and in-order overlap (LCS) with the sentence
  most similar to the claim;
* "hard" items that must appear in the evidence: numbers ("10,000" == "10000", "2.5m" ==
  "2,500,000", "twenty-five" == "25"; a range is two numbers), months and weekdays, capitalised
  names (leading titles such as "President" may be absent).  Absent ones are listed in
  :attr:`SupportScore.missing` and cap the score (the *hard-item gate*,
  :attr:`SupportParams.missing_cap`, below the threshold);
* claim length and a scoped negation mismatch ("was not charged" vs "was charged").

:attr:`SupportScore.score` is the fitted probability that the evidence supports the claim.  It
is calibrated to QAGS's mix (74 % of the judged sentences were supported); on other data read it
as a ranking score with a recorded operating threshold (:attr:`SupportParams.threshold`).

Pass claims without their citation marks; "[1]"-style marks are stripped as a safety net.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from service.errors import ModelMissing
from service.rules import enabled
from service.verify.roles import role_conflicts, transition_conflicts

DEFAULT_PARAMS_PATH = Path(__file__).with_name("support_params.json")


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------
# Text analysis
# --------------------------------------------------------------------------------------------

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
_MONTHS = {
    "january": "january", "jan": "january", "february": "february", "feb": "february",
    "march": "march", "april": "april", "apr": "april", "may": "may", "june": "june",
    "july": "july", "august": "august", "aug": "august", "september": "september",
    "sept": "september", "sep": "september", "october": "october", "oct": "october",
    "november": "november", "nov": "november", "december": "december", "dec": "december",
}  # fmt: skip
_AMBIGUOUS_MONTHS = frozenset({"may", "march"})  # also common verbs: need a capital or a digit
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
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
class _Mention:
    surface: str
    keys: frozenset[str]


@dataclass(slots=True)
class TextAnalysis:
    """Tokens and hard items of one text (claim or evidence sentence)."""

    words: list[str]  # lowercase word tokens, possessive stripped, numbers excluded
    stems: list[str]  # stems of ``words``
    content: list[str]  # stems of non-stopword words, in order
    numbers: list[_Mention]
    dates: list[_Mention]
    names: list[_Mention]
    negated: bool
    neg_targets: list[str]  # first content stem after each negation cue ("did not *attend*")


def _raw_tokens(text: str) -> list[tuple[str, bool]]:
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
    toks = _raw_tokens(normalize_text(text))
    words: list[str] = []
    numbers: list[_Mention] = []
    dates: list[_Mention] = []
    names: list[_Mention] = []
    negated = False
    run: list[str] = []

    def close_name() -> None:
        while len(run) > 1 and run[0].lower() in _NAME_TITLES:
            run.pop(0)
        if run and not (len(run) == 1 and run[0].lower() in _NAME_TITLES):
            names.append(_Mention(" ".join(run), frozenset(t.lower() for t in run)))
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
            numbers.append(_Mention(surface, frozenset(keys)))
            i += 1
            continue
        if low in _ORDINALS:
            close_name()
            if low != "first":  # "for the first time", "at first": idiom more often than a rank
                numbers.append(_Mention(tok, frozenset({str(_ORDINALS[low])})))
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
                numbers.append(_Mention(" ".join(parts), frozenset({_number_key(total + current)})))
            continue
        words.append(low)
        if low in _NEGATIONS or low.endswith("n't"):
            negated = True
        month = _MONTHS.get(low)
        if month is not None and low != month:  # abbreviation ("Jan", "Dec"): only next to a number
            is_date = _near_digit(toks, i)
        elif month in _AMBIGUOUS_MONTHS:  # "may", "march" are also verbs
            is_date = (tok[0].isupper() and not initial) or _near_digit(toks, i)
        else:
            is_date = month is not None or low in _WEEKDAYS
        if is_date:
            close_name()
            dates.append(_Mention(tok, frozenset({month or low})))
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


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupportFeatures:
    """Raw features of one (claim, evidence) pair; every value is in [0, 1]."""

    cos_max: float  # max cosine(claim, evidence sentence)
    cos_concat: float  # cosine(claim, all evidence joined)
    lex_recall: float  # share of the claim's content stems found in the evidence
    bigram_recall: float  # share of the claim's content-stem bigrams found in the evidence
    bigram_best: float  # the same against the single best-covering evidence sentence
    lcs_ratio: float  # longest common stem subsequence with the best sentence / claim length
    num_missing: float  # share of the claim's numbers absent from the evidence
    date_missing: float  # share of the claim's months/weekdays absent from the evidence
    name_missing: float  # share of the claim's capitalised names absent from the evidence
    any_missing: float  # 1 if any number, date or name is absent
    claim_len: float  # min(1, claim words / 50)
    neg_mismatch: float  # 1 if a statement is negated on one side only (scoped, see below)
    novel_recall: float = 0.0  # share of the claim's content stems *not in the question* found in the evidence
    cos_given: float = 0.0  # cosine(claim, all evidence joined with the question)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.names()}

    def vector(self, names: Sequence[str]) -> np.ndarray:
        return np.array([getattr(self, n) for n in names], dtype=np.float64)


def _recall(needles: Iterable[Any], haystack: set[Any] | frozenset[Any]) -> float:
    items = list(needles)
    if not items:
        return 1.0
    return sum(1 for x in items if x in haystack) / len(items)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _bigrams(seq: Sequence[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(seq))


_IRREGULAR_DEMONYMS = {
    "britain": "british", "france": "french", "netherlands": "dutch", "holland": "dutch", "switzerland": "swiss",
    "greece": "greek", "thailand": "thai", "turkey": "turkish", "poland": "polish", "spain": "spanish",
    "philippines": "filipino", "wales": "welsh", "ireland": "irish", "scotland": "scottish", "england": "english",
    "denmark": "danish", "sweden": "swedish", "finland": "finnish", "norway": "norwegian", "peru": "peruvian",
    "yemen": "yemeni", "pakistan": "pakistani", "bangladesh": "bangladeshi", "afghanistan": "afghan",
}
_IRREGULAR_BACK = {v: k for k, v in _IRREGULAR_DEMONYMS.items()}
_DEMONYM_ENDINGS = ("ian", "ese", "ean", "an", "ish", "n", "i")


@lru_cache(maxsize=4096)
def place_forms(word: str) -> frozenset[str]:
    """A place name's word and its demonym, either way round ("ukraine" <-> "ukrainian", "china"
    <-> "chinese", "israel" <-> "israeli", "britain" <-> "british"): sources say "Ukrainian
    officials denied" where an answer says "Ukraine denied".  Stems shorter than four letters
    are not guessed at ("Julian" is not "July")."""
    low = word.lower()
    forms = {low}
    for table in (_IRREGULAR_DEMONYMS, _IRREGULAR_BACK):
        if low in table:
            forms.add(table[low])
    base = low[:-1] if low[-1:] in "aeiouy" else low
    if len(base) >= 4:
        forms.update(base + e for e in ("", *_DEMONYM_ENDINGS))  # "germany" -> "german"
    for e in _DEMONYM_ENDINGS[:-2]:  # back from a demonym; not from any name ending in -n or -i
        stem_ = low[:-len(e)]
        if low.endswith(e) and len(stem_) >= 4:
            forms.update(stem_ + v for v in ("", "a", "e", "y", "o", "ia"))
    return frozenset(forms)


def _name_word_in(word: str, keys: set[str]) -> bool:
    """Whether a name's ``word`` is among ``keys`` (words and stems), as written, stemmed, or as
    its place/demonym form (:func:`place_forms`)."""
    return word in keys or stem(word) in keys or (enabled("demonyms") and bool(place_forms(word) & keys))


def _missing(mentions: list[_Mention], keys: set[str]) -> tuple[float, list[str]]:
    if not mentions:
        return 0.0, []
    absent = [m.surface for m in mentions if not (m.keys & keys)]
    return len(absent) / len(mentions), absent


def _found(kind: str, item: Any, stems: set[str], numbers: set[str], dates: set[str]) -> bool:
    if kind == "w":
        return item in stems
    return bool(item & (numbers if kind == "n" else dates))


def _added(claim: str, question: str) -> list[tuple[str, _Mention]]:
    c, q = analyze(claim), analyze(question)
    q_numbers = {k for m in q.numbers for k in m.keys}
    q_words = set(q.words) | set(q.stems)
    out = [("number", m) for m in c.numbers if not m.keys & q_numbers]
    out += [("date", m) for m in c.dates if not m.keys & q_words]
    out += [("name", m) for m in c.names if not all(t in q_words or stem(t) in q_words for t in m.keys)]
    return out


def answer_items(claim: str, question: str) -> list[frozenset[str]]:
    """The numbers, dates and names a claim adds to its question (the answer it gives), as key sets."""
    return [m.keys for _, m in _added(claim, question)]


FRAGMENT_WORDS = 3
"""A reply of at most this many content words is a bare answer ("eggs", "the Apollo Theater")."""


def fragment_items(claim: str, question: str) -> list[frozenset[str]]:
    """A bare answer's own content words that the question does not give ("eggs" -> {"egg"});
    nothing for a full sentence."""
    c, q = analyze(claim), analyze(question)
    if not c.content or len(c.content) > FRAGMENT_WORDS:
        return []
    asked = set(q.stems)
    return [frozenset({w}) for w in dict.fromkeys(c.content) if w not in asked]


_LEAD = re.compile(r"^\W*([A-Z][a-z]{2,})\b(?!['’]?\s*[A-Z])")


def lead_name(claim: str, question: str) -> str | None:
    """The claim's first word, when it may be the name it answers with ("*Amazon* is the latest
    tech giant..."): capitalised, no stop word, not in the question.  A sentence's first word is
    capitalised either way, so :func:`analyze` does not count it as a name; whoever uses this
    checks that the evidence capitalises it mid-sentence (:func:`capitalised_inside`)."""
    m = _LEAD.match(claim)
    if m is None or is_stopword(m.group(1)):
        return None
    q = analyze(question)
    word = m.group(1).lower()
    return None if word in q.words or stem(word) in q.stems else m.group(1)


def capitalised_inside(word: str, text: str) -> bool:
    """Whether ``text`` has ``word``, capitalised, after its first word: a name, not a sentence start."""
    return any(m.start() > 0 and not re.search(r"[.!?]\W*$", text[:m.start()])
               for m in re.finditer(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", text.strip(" \"'“‘")))


def answer_mentions(claim: str, question: str) -> list[tuple[str, str]]:
    """The same items as (kind, surface) pairs: ``("number", "1978")``, ``("name", "Creature Comforts")``."""
    return [(kind, m.surface) for kind, m in _added(claim, question)]


def _vocabulary(texts: Iterable[str]) -> set[str]:
    """Every word of ``texts``, as written (lower-cased) and stemmed."""
    out: set[str] = set()
    for t in texts:
        a = analyze(t)
        out.update(a.stems)
        out.update(a.words)
    return out


def names(text: str, title: str) -> bool:
    """Whether ``text`` mentions what ``title`` names: every content word and number of the title,
    less a parenthesised qualifier ("Creed (band)" -> creed), appears in it ("the 1978 FIFA World
    Cup" does not name "2002 FIFA World Cup")."""
    t = analyze(bare_title(title))
    if not t.content:
        return False
    have = _vocabulary([text])
    if not all(w in have for w in t.content):
        return False
    if t.numbers and not enabled("title_numbers"):
        return True
    numbers = {k for m in analyze(text).numbers for k in m.keys} if t.numbers else set()
    return all(m.keys & numbers for m in t.numbers)


def bare_title(title: str) -> str:
    """``title`` less a parenthesised qualifier: "Creed (band)" -> "Creed"."""
    return re.sub(r"\s*\(.*?\)\s*", " ", title).strip()


def names_head(text: str, title: str) -> bool:
    """Whether a name in ``text`` is the head of ``title``: at least half of its words from the
    first ("the Stedelijk Museum" for "Stedelijk Museum Amsterdam", "through Interscope" for
    "Interscope Records"), or all before its comma ("Frederick Lindemann, Baron Cherwell" for
    "Frederick Lindemann, 1st Viscount Cherwell"); not "Hawaii" for "Hawaii County, Hawaii"."""
    bare = bare_title(title).lower()
    whole, lead = bare.replace(",", " ").split(), bare.split(",")[0].split()
    for m in analyze(text).names:
        said = m.surface.lower().split()
        if said == whole[:len(said)] and 2 * len(said) >= len(whole):
            return True
        if lead != whole and said[:len(lead)] == lead and enabled("head_before_comma"):  # a run may go past a comma
            return True
    return False


def names_given(question: str, texts: Sequence[str]) -> bool:
    """Whether ``texts`` name one of the names the question gives (a word of one, in any of its
    forms: "Ukrainian" for "Ukraine"), or the question gives none."""
    given = [set(m.keys) for m in analyze(question).names]
    quoted = _QUOTED if enabled("curly_quoted_titles") else _STRAIGHT_QUOTED
    given += [set(analyze(q).content) for q in quoted.findall(normalize_text(question))]
    if not any(given):
        return True
    t = analyze(" ".join(texts))
    keys = set(t.words) | set(t.stems)
    return any(_name_word_in(w, keys) for name in given for w in name if not is_stopword(w))


_QUOTED = re.compile(r'["\u201c]([^"\u201c\u201d]+)["\u201d]')
"""A title the question quotes is a name it gives ("best known for which role on "'Allo
'Allo!"?"), though its words are not capitalised as a name's."""
_STRAIGHT_QUOTED = re.compile(r'"([^"]+)"')
"""... in straight quotes only, as before 171875d (the ``curly_quoted_titles`` rule off)."""


def adds_to(claim: str, text: str, question: str | None = None) -> bool:
    """Whether ``text`` holds one of the claim's own content words or numbers -- ones the question
    does not give.  A sentence that holds none adds nothing to what supports the claim, however
    it moves a similarity score ("Founded in 1926, the ADI was ..." beside the sentence that says
    "The League of Nations was founded on 10 January 1920")."""
    c = analyze(claim)
    given = set(analyze(question).content) if question else set()
    own = set(c.content) - given
    have = _vocabulary([text])
    if own & have:
        return True
    keys = {k for m in c.numbers for k in m.keys}
    return bool(keys) and any(keys & m.keys for m in analyze(text).numbers)


def addresses(question: str, texts: Sequence[str], need: int) -> bool:
    """Whether ``texts`` share at least ``need`` of the question's content words (stemmed; all of
    them when the question has fewer).  A sentence can be true and cited exactly, yet be about
    something else ("The Roman Catholic Church has about 1.3 billion members" for "Which UK
    religious group reported a 200% rise in membership?"): such an answer does not answer."""
    return len(question_words(question, texts)) >= words_needed(question, need)


def words_needed(question: str, need: int) -> int:
    """How many of the question's content words :func:`addresses` asks for: ``need``, or all of
    them when the question has fewer."""
    return min(need, len(set(analyze(question).content)))


def question_words(question: str, texts: Sequence[str]) -> set[str]:
    """The question's content words (stemmed) that ``texts`` share."""
    return set(analyze(question).content) & _vocabulary(texts)


def _lemma_keys(word: str) -> set[str]:
    """A word's stem and its lemma's stem: "fought" -> {fought, fight}, "children" -> {children, child}
    (irregular forms no stemmer joins; simplemma ships its dictionaries in its wheel)."""
    import simplemma

    low = word.lower()
    return {stem(low), stem(simplemma.lemmatize(low, lang="en"))}


_LOWER_WORD = re.compile(r"(?<![^\W_])[a-z][a-z'-]*[a-z](?![^\W_])")


def relation_words(question: str) -> list[set[str]]:
    """What the question asks about the names it gives: its lower-case content words, each as the
    keys it may appear under ("Who did Ali *fight* next...", "which US *artist* *created* the
    *sculpture*"); a name's own words ("Fight of the Century") do not count."""
    if enabled("contraction_heads"):
        heads: Iterable[str] = (_CLITIC_TAIL.sub("", w) for w in _LOWER_WORD.findall(normalize_text(question))
                                if not w.endswith("n't"))
    else:  # as before 49d0f59: "it's" is a word of its own
        heads = _LOWER_WORD.findall(question)
    words = dict.fromkeys(w for w in heads if not is_stopword(w) and len(w) > 1)
    return [_lemma_keys(w) for w in words]


_CLITIC_TAIL = re.compile(r"'(?:s|re|ve|ll|d|m)$")
"""A contraction or possessive is its head word: "it's" is "it" (a stop word, which "It was
founded ..." does not answer "changed it's name" with), "country's" is "country"; a negated auxiliary
("don't", "can't") asks nothing."""


RELATION_MIN = 3
"""Only a question with this many :func:`relation_words` needs one of them in its answer's
sentences: one or two ("Did Russia *retake* Kursk?") are too easily said in other words
("fully reclaimed").  RealTimeQA dev on cached calls: unanswerable abstained 0.48 -> 0.59 at 2,
3 or 4, answerable right and HotpotQA unchanged."""


def shares_relation(question: str, texts: Sequence[str], least: int = RELATION_MIN) -> bool:
    """Whether ``texts`` hold one of the question's :func:`relation_words` (as any form of it:
    "fought" for "fight"), or the question has fewer than ``least`` of them (at least one;
    :data:`RELATION_MIN` by default).  Names alone
    are not enough: "Prime Minister Boris Johnson makes a speech" shares the name, not what was
    asked of him ("told not to use which slogan")."""
    wanted = relation_words(question)
    if len(wanted) < max(least, 1):
        return True
    have: set[str] = set()
    for t in texts:
        for w in _raw_tokens(normalize_text(t)):
            if w[0][:1].isalpha():
                have |= _lemma_keys(w[0])
    return any(keys & have for keys in wanted)


def holds_items(text: str, items: Sequence[frozenset[str]]) -> bool:
    """Whether ``text`` states every one of ``items`` (number keys, month/weekday names, name tokens)."""
    t = analyze(text)
    keys = {k for m in (*t.numbers, *t.dates) for k in m.keys} | set(t.words) | set(t.stems)
    return all(bool(item & keys) or all(_name_word_in(w, keys) for w in item) for item in items)


def compute_features(
    claim: TextAnalysis,
    evidence: Sequence[TextAnalysis],
    cos_sentences: Sequence[float],
    cos_concat: float,
    given: TextAnalysis | None = None,
    cos_given: float | None = None,
) -> tuple[SupportFeatures, list[str]]:
    """Features and the list of missing hard items for one pair (``evidence`` non-empty).

    ``given`` (the question) is context the claim may repeat: its numbers, dates, names and
    words count as present ("Who directed X?" -> "Y directed X" needs only Y from the evidence).
    """
    ev_stems: set[str] = set()
    ev_words: set[str] = set()
    ev_bigrams: set[tuple[str, str]] = set()
    claim_bigrams = _bigrams(claim.content)
    bigram_best = 0.0 if claim_bigrams else 1.0
    ev_numbers: set[str] = set()
    ev_dates: set[str] = set()
    for ev in evidence:
        ev_stems.update(ev.stems)
        ev_words.update(ev.words)
        sentence_bigrams = set(_bigrams(ev.content))
        ev_bigrams.update(sentence_bigrams)
        if claim_bigrams:
            bigram_best = max(bigram_best, _recall(claim_bigrams, sentence_bigrams))
        for m in ev.numbers:
            ev_numbers.update(m.keys)
        ev_dates.update(_MONTHS.get(w, w) for w in ev.words if w in _MONTHS or w in _WEEKDAYS)
    own_stems = set(ev_stems)
    if given is not None:
        ev_stems.update(given.stems)
        ev_words.update(given.words)
        for m in given.numbers:
            ev_numbers.update(m.keys)
        ev_dates.update(_MONTHS.get(w, w) for w in given.words if w in _MONTHS or w in _WEEKDAYS)
    name_keys = ev_words | ev_stems
    # What the claim adds to the question must come from the evidence itself; a claim that adds
    # nothing ("Did Russia retake Kursk?" -> "Russia retook Kursk" adds only "retook") is no answer.
    # Its numbers and dates count as what it adds too ("scored 71 points" adds 71).
    asked = set(given.stems) if given is not None else set()
    asked_numbers = {k for m in given.numbers for k in m.keys} if given is not None else set()
    asked_dates = set(given.words) if given is not None else set()
    novel: list[tuple[str, Any]] = [("w", c) for c in claim.content if c not in asked]
    novel += [("n", m.keys) for m in claim.numbers if not m.keys & asked_numbers]
    novel += [("d", m.keys) for m in claim.dates if not m.keys & asked_dates]
    own_numbers = {k for ev in evidence for m in ev.numbers for k in m.keys}
    own_dates = {_MONTHS.get(w, w) for ev in evidence for w in ev.words if w in _MONTHS or w in _WEEKDAYS}

    best = int(np.argmax(cos_sentences))
    lcs = _lcs(claim.stems, evidence[best].stems)
    num_share, num_absent = _missing(claim.numbers, ev_numbers)
    date_share, date_absent = _missing(claim.dates, ev_dates)
    name_absent = [m.surface for m in claim.names if not all(_name_word_in(t, name_keys) for t in m.keys)]
    name_share = len(name_absent) / len(claim.names) if claim.names else 0.0
    missing = list(dict.fromkeys(num_absent + date_absent + name_absent))
    # Negation mismatch, scoped: the word right after a negation cue on one side appears on the
    # other side without a negation in front of it ("was not charged" vs "was charged").
    ev_targets = {t for ev in evidence for t in ev.neg_targets}
    claim_stems = set(claim.stems)
    neg_mismatch = any(t in ev_stems and t not in ev_targets for t in claim.neg_targets) or any(
        t in claim_stems and t not in claim.neg_targets for t in ev_targets
    )
    feats = SupportFeatures(
        cos_max=float(max(0.0, max(cos_sentences))),
        cos_concat=float(max(0.0, cos_concat)),
        lex_recall=_recall(claim.content, ev_stems),
        bigram_recall=_recall(claim_bigrams, ev_bigrams),
        bigram_best=bigram_best,
        lcs_ratio=lcs / len(claim.stems) if claim.stems else 1.0,
        num_missing=num_share,
        date_missing=date_share,
        name_missing=name_share,
        any_missing=1.0 if missing else 0.0,
        claim_len=min(1.0, len(claim.words) / 50.0),
        neg_mismatch=1.0 if neg_mismatch else 0.0,
        novel_recall=(sum(1 for kind, item in novel if _found(kind, item, own_stems, own_numbers, own_dates))
                      / len(novel)) if novel else 0.0,
        cos_given=float(max(0.0, cos_given if cos_given is not None else cos_concat)),
    )
    return feats, missing


# --------------------------------------------------------------------------------------------
# Fitted combination
# --------------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))


@dataclass
class SupportParams:
    """Logistic regression over standardised features, plus the operating threshold."""

    feature_names: list[str]
    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    threshold: float = 0.5
    l2: float = 1.0
    missing_cap: float | None = None
    """Upper bound on the score when a number, date or name of the claim is absent from the
    evidence ("hard-item gate"); fitted as the smoothed share of supported claims among such
    claims.  ``None`` disables the gate."""
    meta: dict[str, Any] = field(default_factory=dict)

    # -- persistence ---------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> SupportParams:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelMissing(
                f"support checker parameters {path} are missing; run `python -m evals.calibrate_support`"
            ) from exc
        model = raw["model"]
        return cls(
            feature_names=list(model["feature_names"]),
            weights=[float(w) for w in model["weights"]],
            bias=float(model["bias"]),
            mean=[float(v) for v in model["mean"]],
            scale=[float(v) for v in model["scale"]],
            threshold=float(raw["threshold"]["value"]),
            l2=float(model.get("l2", 1.0)),
            missing_cap=None if raw.get("missing_gate") is None else float(raw["missing_gate"]["cap"]),
            meta=raw,
        )

    @classmethod
    def load_default(cls) -> SupportParams:
        return cls.load(DEFAULT_PARAMS_PATH)

    def model_dict(self) -> dict[str, Any]:
        return {
            "type": "logistic_regression_l2",
            "feature_names": self.feature_names,
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "l2": self.l2,
            "note": "p = sigmoid(bias + sum(w * (x - mean) / scale))",
        }

    # -- fitting / prediction ------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        feature_names: Sequence[str],
        l2: float = 1.0,
        max_iter: int = 50,
        sample_weight: np.ndarray | None = None,
    ) -> SupportParams:
        """L2-penalised logistic regression (Newton / IRLS); the bias is not penalised.

        ``sample_weight`` lets a small labelled set count as much as a large one it is pooled with.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        mean = np.average(x, axis=0, weights=w)
        scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
        scale[scale < 1e-9] = 1.0
        z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
        beta = np.zeros(z.shape[1])
        penalty = np.full(z.shape[1], l2)
        penalty[0] = 0.0
        for _ in range(max_iter):
            p = _sigmoid(z @ beta)
            grad = z.T @ (w * (p - y)) + penalty * beta
            hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(beta))
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        return cls(
            feature_names=list(feature_names),
            weights=beta[1:].tolist(),
            bias=float(beta[0]),
            mean=mean.tolist(),
            scale=scale.tolist(),
            l2=l2,
        )

    def predict(self, x: np.ndarray, any_missing: np.ndarray | None = None) -> np.ndarray:
        """Probabilities for rows of raw features ordered as ``feature_names``.

        ``any_missing`` (bool per row) applies the hard-item gate :attr:`missing_cap`.
        """
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        p = _sigmoid(self.bias + z @ np.asarray(self.weights))
        if any_missing is not None and self.missing_cap is not None:
            p = np.where(np.asarray(any_missing, dtype=bool), np.minimum(p, self.missing_cap), p)
        return p


# --------------------------------------------------------------------------------------------
# Checker
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupportScore:
    score: float  # fitted probability that the evidence supports the claim
    supported: bool  # score >= the calibrated threshold
    features: dict[str, float]
    missing: list[str]  # numbers / dates / names of the claim absent from the evidence


class SupportChecker:
    """Score whether cited evidence sentences support a claim.

    ``params`` defaults to :meth:`SupportParams.load_default` (loaded on first scoring call, so
    :meth:`features_many` works before any calibration exists).
    """

    def __init__(self, embedder: Embedder, params: SupportParams | None = None) -> None:
        self.embedder = embedder
        self._params = params

    @property
    def params(self) -> SupportParams:
        if self._params is None:
            self._params = SupportParams.load_default()
        return self._params

    @property
    def threshold(self) -> float:
        return self.params.threshold

    def score(self, claim: str, evidence: list[str], *, given: str | None = None) -> SupportScore:
        return self.score_many([(claim, evidence)], given=given)[0]

    def score_many(self, pairs: Sequence[tuple[str, list[str]]], *, given: str | None = None) -> list[SupportScore]:
        """Scores for (claim, evidence sentences) pairs.  ``given``: the question, whose names,
        numbers and dates the claim may repeat without the evidence holding them.

        Two gates cap the fitted score below the threshold: a number, date or name of the claim
        that is absent from the evidence (and the question), and a role the claim swaps
        (:func:`service.verify.roles.role_conflicts`: "Russia thanked" for "Putin thanked").
        Both are listed in :attr:`SupportScore.missing`.
        """
        params = self.params
        scored = self.features_many(pairs, given=given)
        for (claim, evidence), (feats, missing) in zip(pairs, scored, strict=True):
            if feats is not None:
                said = [e for e in evidence if e.strip()]
                missing.extend(f"role {c}" for c in role_conflicts(claim, said))
                if enabled("number_roles"):
                    missing.extend(f"number {c}" for c in transition_conflicts(claim, said))
        out: list[SupportScore] = []
        rows = [f.vector(params.feature_names) for f, _ in scored if f is not None]
        gate = [bool(m) for f, m in scored if f is not None]
        probs = iter(params.predict(np.vstack(rows), np.array(gate)).tolist() if rows else [])
        for feats, missing in scored:
            if feats is None:  # no evidence: nothing can support the claim
                out.append(SupportScore(0.0, False, {}, missing))
                continue
            p = float(next(probs))
            out.append(SupportScore(p, p >= params.threshold, feats.as_dict(), missing))
        return out

    def features_many(self, pairs: Sequence[tuple[str, list[str]]], *, given: str | None = None,
                      givens: Sequence[str | None] | None = None) -> list[tuple[SupportFeatures | None, list[str]]]:
        """Raw features and missing items per pair; one batched embedding call for all texts.

        ``given`` applies to every pair; ``givens`` gives each pair its own (calibration data).
        """
        cleaned = [(claim, [e for e in evidence if e.strip()]) for claim, evidence in pairs]
        per_pair = list(givens) if givens is not None else [given] * len(cleaned)
        texts: dict[str, int] = {}
        for (claim, evidence), given in zip(cleaned, per_pair, strict=True):
            if not evidence:
                continue
            for t in (claim, *evidence, " ".join(evidence), *([" ".join([*evidence, given])] if given else [])):
                texts.setdefault(t, len(texts))
        vectors = self.embedder.embed(list(texts)) if texts else np.zeros((0, 1))
        analyses: dict[str, TextAnalysis] = {}

        def analysis(text: str) -> TextAnalysis:
            if text not in analyses:
                analyses[text] = analyze(text)
            return analyses[text]

        out: list[tuple[SupportFeatures | None, list[str]]] = []
        for (claim, evidence), given in zip(cleaned, per_pair, strict=True):
            if not evidence:
                c = analysis(claim)
                out.append((None, [m.surface for m in c.numbers + c.dates + c.names]))
                continue
            cv = vectors[texts[claim]]
            cos_sent = [float(vectors[texts[e]] @ cv) for e in evidence]
            cos_cat = float(vectors[texts[" ".join(evidence)]] @ cv)
            cos_q = float(vectors[texts[" ".join([*evidence, given])]] @ cv) if given else None
            out.append(compute_features(analysis(claim), [analysis(e) for e in evidence], cos_sent, cos_cat,
                                        analysis(given) if given else None, cos_q))
        return out
