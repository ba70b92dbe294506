"""The links of a multi-hop answer that the answer's own sentence does not cite.

An answer quotes or writes the sentence that holds the answer; a multi-hop question also asks
something of what leads to it.  Besides the bridge (:func:`service.generation.answer.finish`: a
shown sentence that names the cited article), these links are cited when the sources have them
(:func:`links`, in this order):

* the **rest of an entry**: another sentence of a cited encyclopedia entry that holds what the
  question asks beyond the cited sentence ("he secretly loves and marries Juliet");
* the **next hop**: the entry a cited sentence names ("the band Creed" -> "Creed (band)"), for
  what the question asks of it ("disbanded").

The issue-22 audit deleted four more links: the first hop (the entry of the subject the question
names; four dev cases, none on the check fold), a link back in two steps, qualified titles and
short lower-case entry titles (one case each): all encyclopedia-only.

All are shown sentences that share the question's words; none is verified as support for
the answer's claim, because none is offered as such: they are the chain the claim hangs on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from service.retrieval.search import SentenceHit
from service.rules import enabled
from service.verify.names import bare_title, names, names_head
from service.verify.text import is_stopword
from service.verify.topic import question_words


def _richest(counted: Iterable[tuple[int, SentenceHit]], least: int) -> SentenceHit | None:
    """Of (question words it adds, hit) pairs in rank order, the hit that adds the most, at least
    ``least``; the best ranked among equals (``max`` keeps the first)."""
    best = max(counted, key=lambda pair: pair[0], default=None)
    return best[1] if best is not None and best[0] >= least else None


def _covered(question: str, cited: Sequence[SentenceHit]) -> set[str]:
    """The question's words that the cited sentences and their titles already hold."""
    return question_words(question, [t for h in cited for t in (h.text, h.title or "")])


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
    words = bare_title(title).split()
    return 0 < len(words) <= 6 and all(w[:1].isupper() or w[:1].isdigit() or is_stopword(w) for w in words)


def leads_to(text: str, title: str) -> bool:
    """Whether ``text`` names what the article titled ``title`` is about: the whole title, or an
    encyclopedia entry's head ("released through Interscope" -> "Interscope Records"); a news
    headline's first words name no article ("Putin" is not "Putin thanks North Korea ...")."""
    return names(text, title) or (enabled("bridge_by_head") and is_entry_title(title) and names_head(text, title))


def entry_complement(question: str, ranked: Sequence[SentenceHit], cited: Sequence[SentenceHit]) -> SentenceHit | None:
    """Another shown sentence of a cited encyclopedia entry (:func:`is_entry_title`) that holds at
    least :data:`COMPLEMENT_WORDS` of the question's words the citations do not: the rest of what
    the question asks of that entry's subject ("... who secretly loves and marries a member of the
    rival house" beside "Romeo Montague is the protagonist of ...").  In an entry every sentence
    is about its title; in a news story sentences are about many people, so stories get none."""
    covered = _covered(question, cited)
    entries = {h.article_id for h in cited if h.title and is_entry_title(h.title)}
    ids = {h.id for h in cited}
    return next((h for h in ranked if h.article_id in entries and h.id not in ids
                 and len(question_words(question, [h.text]) - covered) >= COMPLEMENT_WORDS), None)


NEXT_WORDS = 1
"""HotpotQA dev on cached calls: citation recall 0.556 -> 0.581, precision 0.810 -> 0.812; with
a bridge that names an entry by its head (:func:`leads_to`) 0.587.  RealTimeQA and tricky
unchanged (news headlines are no entry titles).  Issue-22 audit, turned off alone: next hop -3
recall cases (check fold -2), bridge by head -3 (check -1)."""


def next_hop(question: str, ranked: Sequence[SentenceHit], cited: Sequence[SentenceHit]) -> SentenceHit | None:
    """The entry a cited sentence leads to: a shown sentence of an uncited encyclopedia entry
    whose title a cited sentence names ("... former frontman of the band Creed" -> "Creed
    (band)"), the one holding the most of the question's words the citations lack (at least
    :data:`NEXT_WORDS`: "... before the band disbanded in 2004"), then the best ranked."""
    covered = _covered(question, cited)
    have = {h.article_id for h in cited}
    return _richest(((len(question_words(question, [h.text]) - covered), h) for h in ranked
                     if h.article_id not in have and h.title and is_entry_title(h.title)
                     and any(leads_to(c.text, h.title) for c in cited)), NEXT_WORDS)


def links(question: str, ranked: Sequence[SentenceHit], cited: Sequence[SentenceHit]) -> list[SentenceHit]:
    """The links to cite beside an answer that cites ``cited``, in order: the rest of an entry
    and the next hop, the second found with the first counted as cited."""
    found: list[SentenceHit] = []
    if enabled("entry_rest") and (more := entry_complement(question, ranked, cited)):
        found.append(more)
    if enabled("next_hop") and (nxt := next_hop(question, ranked, [*cited, *found])):
        found.append(nxt)
    return found
