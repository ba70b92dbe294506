"""Names: whether a text names what a title, a question or a claim names.

A name's word is found as written, stemmed, or as its place/demonym form (:func:`place_forms`:
"Ukrainian officials" for "Ukraine"; :func:`name_word_in`), in the support checker's missing
names and the answer path's checks alike.  A title is named when every content word and number
of it is in the text (:func:`names`) or by its head (:func:`names_head`).  :func:`lead_name` and
:func:`capitalised_inside` catch the name a claim begins with, which
:func:`service.verify.text.analyze` cannot tell from any capitalised first word.
"""

from __future__ import annotations

import re
from functools import lru_cache

from service.rules import enabled
from service.verify.text import analyze, is_stopword, stem, vocabulary

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


def name_word_in(word: str, keys: set[str]) -> bool:
    """Whether a name's ``word`` is among ``keys`` (words and stems), as written, stemmed, or as
    its place/demonym form (:func:`place_forms`)."""
    return word in keys or stem(word) in keys or (enabled("demonyms") and bool(place_forms(word) & keys))


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


def names(text: str, title: str) -> bool:
    """Whether ``text`` mentions what ``title`` names: every content word of the title, less a
    parenthesised qualifier ("Creed (band)" -> creed), appears in it."""
    t = analyze(bare_title(title))
    if not t.content:
        return False
    have = vocabulary([text])
    if not all(w in have for w in t.content):
        return False
    return True


def bare_title(title: str) -> str:
    """``title`` less a parenthesised qualifier: "Creed (band)" -> "Creed"."""
    return re.sub(r"\s*\(.*?\)\s*", " ", title).strip()


def names_head(text: str, title: str) -> bool:
    """Whether a name in ``text`` is the head of ``title``: at least half of its words from the
    first ("the Stedelijk Museum" for "Stedelijk Museum Amsterdam", "through Interscope" for
    "Interscope Records"); not "Hawaii" for "Hawaii County, Hawaii"."""
    whole = bare_title(title).lower().replace(",", " ").split()
    return any((said := m.surface.lower().split()) == whole[:len(said)] and 2 * len(said) >= len(whole)
               for m in analyze(text).names)
