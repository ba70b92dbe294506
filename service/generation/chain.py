"""The links of a multi-hop answer that the answer's own sentence does not cite.

An answer quotes or writes the sentence that holds the answer; a multi-hop question also asks
something of what leads to it.  Besides the bridge (:func:`service.generation.answer.finish`: a
shown sentence that names the cited article), these links are cited when the sources have them
(:func:`links`, in this order):

* the **first hop**: the entry of the subject the question names ("Operation Cold Comfort");
* the **rest of an entry**: another sentence of a cited encyclopedia entry that holds what the
  question asks beyond the cited sentence ("he secretly loves and marries Juliet");
* the **next hop**: the entry a cited sentence names ("the band Creed" -> "Creed (band)"), for
  what the question asks of it ("disbanded");
* a **link back** in two steps, when no single bridge leads from the question to the answer:
  "the W. H. Shipman House in Hilo" -> "Hilo ... in Hawaii County" -> the "Hawaii County" entry.

All are shown sentences that share the question's words; none is verified as support for
the answer's claim, because none is offered as such: they are the chain the claim hangs on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from service.retrieval.search import SentenceHit
from service.rules import enabled
from service.verify.names import bare_title, names, names_head
from service.verify.text import analyze, is_stopword
from service.verify.topic import question_words

HOP_WORDS = 2
"""A first hop shares at least this many of the question's words besides its article's title.
HotpotQA dev on cached calls: citation recall 0.482 -> 0.522, precision 0.792 -> 0.780 (4 of
the 6 sentences added are gold); at 3: 0.492 / 0.792; at 1: 0.529 / 0.754.  tricky: recall
0.864 -> 0.909; RealTimeQA unchanged."""


def names_entry(text: str, title: str) -> bool:
    """Whether ``text`` names the entry titled ``title``: all of the title, and a word of its
    qualifier if it has one -- a qualifier says the bare title means several things ("the band
    Creed" names "Creed (band)"; "Muhammad Ali" does not name "Ali (film)").  A disambiguation
    page is the entry of none of them."""
    qualifier = re.search(r"\((.*?)\)", title)
    if qualifier is None or not enabled("qualified_titles"):
        return names(text, title)
    if qualifier.group(1).strip().lower() == "disambiguation" or not names(text, title):
        return False
    return any(names(text, word) for word in qualifier.group(1).split() if not is_stopword(word))


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
    return _richest(((len(question_words(question, [h.text]) - set(analyze(h.title).content)), h) for h in ranked
                     if h.article_id not in have and h.title and names_entry(question, h.title)), HOP_WORDS)


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
    "Walk All over Me", "Creed (band)"): at most six words, every content word capitalised, or
    at most four from a capital ("Maine gubernatorial election, 1820").  A news headline ("Putin
    thanks North Korea for sending troops") is a sentence about many; of the 1,501 RealTimeQA
    headlines 15 have four words or fewer, roundups all capitalised already ("50 States")."""
    words = bare_title(title).split()
    capitalised = all(w[:1].isupper() or w[:1].isdigit() or is_stopword(w) for w in words)
    short = 0 < len(words) <= 4 and words[0][:1].isupper() and enabled("lowercase_entry_titles")
    return 0 < len(words) <= 6 and (capitalised or short)


def leads_to(text: str, title: str) -> bool:
    """Whether ``text`` names what the article titled ``title`` is about: the whole title, or an
    encyclopedia entry's head ("released through Interscope" -> "Interscope Records"); a news
    headline's first words name no article ("Putin" is not "Putin thanks North Korea ...")."""
    return names_entry(text, title) or (enabled("bridge_by_head") and is_entry_title(title) and names_head(text, title))


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
a bridge that names an entry by its head (:func:`leads_to`) 0.587, and with qualified titles
named only with their qualifier (:func:`names_entry`) 0.594 / 0.824.  RealTimeQA and tricky
unchanged (news headlines are no entry titles).  A title's numbers must be named too: "the 1978
FIFA World Cup" had led to the "2002 FIFA World Cup" entry."""


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


BACK_WORDS = 2
"""HotpotQA dev on cached calls: citation recall 0.609 -> 0.629, precision 0.844 -> 0.860, one
case ("Hawaii County" reached from "the W. H. Shipman House in Hilo" through "Hilo ... in Hawaii
County"), the same at 1 or 2; RealTimeQA and tricky unchanged."""


def back_link(question: str, ranked: Sequence[SentenceHit],
              cited: Sequence[SentenceHit]) -> tuple[SentenceHit, SentenceHit] | None:
    """Two shown sentences that lead back from the question to a cited article, when no single
    one does: the first holds at least :data:`BACK_WORDS` of the question's words the citations
    lack and names the second's article ("the W. H. Shipman House in Hilo, Hawaii"), which names
    the cited one ("Hilo is the largest settlement in Hawaii County, Hawaii")."""
    covered = _covered(question, cited)
    have = {h.article_id for h in cited}
    for mid in ranked:
        if mid.article_id in have or not mid.title or not any(leads_to(mid.text, h.title or "") for h in cited):
            continue
        for far in ranked:
            if far.article_id in have or far.article_id == mid.article_id:
                continue
            if leads_to(far.text, mid.title) and len(question_words(question, [far.text]) - covered) >= BACK_WORDS:
                return far, mid
    return None


def links(question: str, ranked: Sequence[SentenceHit], cited: Sequence[SentenceHit], *,
          bridged: bool) -> list[SentenceHit]:
    """The links to cite beside an answer that cites ``cited``, in order: the first hop, the rest
    of an entry, the next hop and a link back, each found with the ones before it counted as
    cited.  An answer already ``bridged`` to the question (:func:`service.generation.answer.finish`)
    needs neither the first hop nor a link back."""
    found: list[SentenceHit] = []
    if not bridged and enabled("first_hop") and (hop := first_hop(question, ranked, cited)):
        found.append(hop)
    if enabled("entry_rest") and (more := entry_complement(question, ranked, [*cited, *found])):
        found.append(more)
    if enabled("next_hop") and (nxt := next_hop(question, ranked, [*cited, *found])):
        found.append(nxt)
    if not bridged and enabled("link_back") and (back := back_link(question, ranked, [*cited, *found])):
        found.extend(back)
    return found
