"""Comparison questions: the sentence the sources give on each side.

"Are both Coldplay and Pierre Bouvier from the same country?" is answered by two sentences, one
about each name ("Coldplay are a British rock band"; "Pierre Bouvier ... is a Canadian singer").
A draft that cites one of them, or none that verifies, leaves the reader with half the
comparison -- or with nothing, when the two quoted sentences hold it.  Here each side the
question names (:func:`service.retrieval.question.compared`) gets the best shown sentence that
speaks of it.  No winner is named: the comparison is the reader's to make from the quoted
sentences (a winner by arithmetic over the two sentences' dates moved no case in the issue-22
audit and was deleted).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.retrieval.search import SentenceHit
from service.verify.names import names
from service.verify.text import analyze
from service.verify.topic import question_words


def about(hit: SentenceHit, side: str) -> bool:
    """Whether ``hit`` speaks of ``side``: the sentence names it, or it is in the article titled
    by that name (an encyclopedia entry's later sentences say "It" or "The company")."""
    return names(hit.text, side) or own_article(hit, side)


def own_article(hit: SentenceHit, side: str) -> bool:
    """Whether ``hit`` comes from the article titled by ``side`` (its own encyclopedia entry)."""
    return bool(hit.title) and names(side, hit.title) and names(hit.title, side)


def side_sentences(question: str, sides: tuple[str, str], ranked: Sequence[SentenceHit],
                   cited: Sequence[SentenceHit] = ()) -> list[tuple[str, SentenceHit]] | None:
    """For each side no ``cited`` sentence speaks of, the best of ``ranked`` (best first) that
    does, with the side: one that shares the most of what the question asks (its words other
    than the two names: "headquarters", "born"), then one from the side's own article, then the
    best ranked.  ``None`` when a side has none -- the comparison cannot be given."""
    own = set(analyze(" ".join(sides)).content)
    out: list[tuple[str, SentenceHit]] = []
    taken = {h.id for h in cited}
    for side in sides:
        if any(about(h, side) for h in [*cited, *(h for _, h in out)]):
            continue
        speaking = [(i, h) for i, h in enumerate(ranked) if about(h, side) and h.id not in taken]
        if not speaking:
            return None
        _, best = min(speaking, key=lambda p: (-len(question_words(question, [p[1].text]) - own),
                                               not own_article(p[1], side), p[0]))
        out.append((side, best))
    return out
