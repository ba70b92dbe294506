"""The links of a multi-hop answer that the answer's own sentence does not cite.

An answer quotes or writes the sentence that holds the answer; a multi-hop question also asks
something of what leads to it.  Besides the bridge (:func:`service.generation.answer.finish`: a
shown sentence that names the cited article), two links are cited when the sources have them:

* the **first hop**: the entry of the subject the question names ("Operation Cold Comfort");
* the **rest of an entry**: another sentence of a cited encyclopedia entry that holds what the
  question asks beyond the cited sentence ("he secretly loves and marries Juliet").

Both are shown sentences that share the question's words; neither is verified as support for
the answer's claim, because neither is offered as such: they are the chain the claim hangs on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.retrieval.search import SentenceHit
from service.verify.support import analyze, is_stopword, names, question_words

HOP_WORDS = 2
"""A first hop shares at least this many of the question's words besides its article's title.
HotpotQA dev on cached calls: citation recall 0.482 -> 0.522, precision 0.792 -> 0.780 (4 of
the 6 sentences added are gold); at 3: 0.492 / 0.792; at 1: 0.529 / 0.754.  tricky: recall
0.864 -> 0.909; RealTimeQA unchanged."""


def first_hop(question: str, ranked: Sequence[SentenceHit], cited: Sequence[SentenceHit]) -> SentenceHit | None:
    """The first hop of a multi-hop question, when the answer does not cite it: a shown sentence
    of the article whose title the question names ("Operation Cold Comfort was a failed raid by
    a unit founded in what year?" -> the "Operation Cold Comfort" entry: "... was a failed SAS
    raid ..."), the one sharing the most of the question's other words (at least
    :data:`HOP_WORDS`), then the best ranked.  News headlines are seldom all words the question
    gives, so this mostly reaches encyclopedia-like sources (and a short headline such as
    "Northwind Bank to cut jobs" for "... the Northwind Bank executive who announced 300 job
    cuts?")."""
    have = {h.article_id for h in cited}
    best: tuple[int, int, SentenceHit] | None = None
    for rank, h in enumerate(ranked):
        if h.article_id in have or not h.title or not names(question, h.title):
            continue
        own = set(analyze(h.title).content)
        shared = len(question_words(question, [h.text]) - own)
        if shared >= HOP_WORDS and (best is None or (-shared, rank) < (-best[0], best[1])):
            best = (shared, rank, h)
    return best[2] if best is not None else None


COMPLEMENT_WORDS = 2
"""HotpotQA dev on cached calls: citation recall 0.522 -> 0.556, precision 0.780 -> 0.792 (the
added sentences: 6 of 7 gold, without the entry-title condition; with it one fewer).  At 3:
0.546 / 0.795; at 1: 0.567 / 0.777.  Without the entry-title condition RealTimeQA answers gained
context sentences that support nothing (a promo line, a lawmaker's praise): ALCE precision 0.338
-> 0.320; with it, none."""


def is_entry_title(title: str) -> bool:
    """Whether ``title`` names one thing, as an encyclopedia entry's does ("Romeo Montague",
    "Walk All over Me", "Creed (band)"): at most six words, every content word capitalised.  A
    news headline ("Putin thanks North Korea for sending troops") is a sentence about many."""
    words = re.sub(r"\s*\(.*?\)\s*", " ", title).split()
    return 0 < len(words) <= 6 and all(w[:1].isupper() or w[:1].isdigit() or is_stopword(w) for w in words)


def entry_complement(question: str, ranked: Sequence[SentenceHit], cited: Sequence[SentenceHit]) -> SentenceHit | None:
    """Another shown sentence of a cited encyclopedia entry (:func:`is_entry_title`) that holds at
    least :data:`COMPLEMENT_WORDS` of the question's words the citations do not: the rest of what
    the question asks of that entry's subject ("... who secretly loves and marries a member of the
    rival house" beside "Romeo Montague is the protagonist of ...").  In an entry every sentence
    is about its title; in a news story sentences are about many people, so stories get none."""
    covered = question_words(question, [t for h in cited for t in (h.text, h.title or "")])
    entries = {h.article_id for h in cited if h.title and is_entry_title(h.title)}
    ids = {h.id for h in cited}
    return next((h for h in ranked if h.article_id in entries and h.id not in ids
                 and len(question_words(question, [h.text]) - covered) >= COMPLEMENT_WORDS), None)
