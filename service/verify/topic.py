"""What an answer adds to its question, and whether sentences speak to the question.

* **Answer items**: the numbers, dates and names a claim adds to its question
  (:func:`answer_items`, :func:`answer_mentions`; a bare reply's own words,
  :func:`fragment_items`), and whether a text states them (:func:`holds_items`): how a quote is
  matched to the draft's answer, and what the short answer is.
* **On topic**: whether sentences share enough of the question's content words
  (:func:`addresses`, :func:`question_words`), and what it asks of the names it gives
  (:func:`relation_words`, :func:`shares_relation`); whether a cited sentence adds anything to a
  claim (:func:`adds_to`).

Word-level and cheap (no embeddings), over :func:`service.verify.text.analyze`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.verify.names import name_word_in
from service.verify.text import Mention, analyze, is_stopword, normalize_text, raw_tokens, stem, vocabulary

# --------------------------------------------------------------------------------------------
# What a claim adds to its question
# --------------------------------------------------------------------------------------------


def _added(claim: str, question: str) -> list[tuple[str, Mention]]:
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


def answer_mentions(claim: str, question: str) -> list[tuple[str, str]]:
    """The same items as (kind, surface) pairs: ``("number", "1978")``, ``("name", "Creature Comforts")``."""
    return [(kind, m.surface) for kind, m in _added(claim, question)]


def holds_items(text: str, items: Sequence[frozenset[str]]) -> bool:
    """Whether ``text`` states every one of ``items`` (number keys, month/weekday names, name tokens)."""
    t = analyze(text)
    keys = {k for m in (*t.numbers, *t.dates) for k in m.keys} | set(t.words) | set(t.stems)
    return all(bool(item & keys) or all(name_word_in(w, keys) for w in item) for item in items)


# --------------------------------------------------------------------------------------------
# On topic
# --------------------------------------------------------------------------------------------


def adds_to(claim: str, text: str, question: str | None = None) -> bool:
    """Whether ``text`` holds one of the claim's own content words or numbers -- ones the question
    does not give.  A sentence that holds none adds nothing to what supports the claim, however
    it moves a similarity score ("Founded in 1926, the ADI was ..." beside the sentence that says
    "The League of Nations was founded on 10 January 1920")."""
    c = analyze(claim)
    given = set(analyze(question).content) if question else set()
    own = set(c.content) - given
    have = vocabulary([text])
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
    return set(analyze(question).content) & vocabulary(texts)


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
    heads = (_CLITIC_TAIL.sub("", w) for w in _LOWER_WORD.findall(normalize_text(question)) if not w.endswith("n't"))
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
        for w in raw_tokens(normalize_text(t)):
            if w[0][:1].isalpha():
                have |= _lemma_keys(w[0])
    return any(keys & have for keys in wanted)
