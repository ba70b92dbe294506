"""Evidence shown to the model: numbered candidate sentences with their article context.

The model only ever sees markers ``[S1]..[Sn]``; each maps back to a stable sentence id.
Article text is data: anything in it that looks like one of our markers or delimiters is
neutralised before it reaches the prompt, so an article cannot forge a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.retrieval.search import SentenceHit

_FORGED_MARKER = re.compile(r"\[\s*(S?\s*\d+)\s*\]", re.IGNORECASE)
_FORGED_DELIMITER = re.compile(r"<{3,}|>{3,}")
NONE_OF_THESE = "(None of the sentences above answers the question.)"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Sentences shown to the model, in marker order (S1 is ``hits[0]``).

    The given hits (best first) are put into the order they are shown in -- articles by their
    best sentence, then reading order inside each article -- and numbered in that order, so the
    markers run S1, S2, S3 down the page.  A small model picking "the sentence that answers"
    was misled by markers shuffled against the page (tricky suite, docs/selection.md).
    """

    hits: tuple[SentenceHit, ...]

    def __post_init__(self) -> None:
        rank: dict[str, int] = {}
        for h in self.hits:
            rank.setdefault(h.article_id, len(rank))
        object.__setattr__(self, "hits", tuple(sorted(self.hits, key=lambda h: (rank[h.article_id], h.index))))

    def marker(self, i: int) -> str:
        return f"S{i + 1}"

    def by_marker(self) -> dict[str, SentenceHit]:
        return {self.marker(i): h for i, h in enumerate(self.hits)}

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def date_range(self) -> str:
        """When the evidence was published ("published 2025-04-20 to 2025-04-28"), for the
        prompt: the model needs the sources' dates, not today's."""
        days = sorted({h.published_at[:10] for h in self.hits if h.published_at})
        if not days:
            return "undated"
        return f"published {days[0]}" if len(days) == 1 else f"published {days[0]} to {days[-1]}"

    def render(self, *, none_option: bool = False) -> str:
        """One header line per article, then its sentences with their markers.

        ``none_option`` adds a last line ``[S0]`` that stands for "none of these": when the model
        scores the markers, its probability is the model's own vote for abstaining.
        """
        markers = {h.id: self.marker(i) for i, h in enumerate(self.hits)}
        order = list(dict.fromkeys(h.article_id for h in self.hits))
        lines: list[str] = []
        for n, aid in enumerate(order, 1):
            group = [h for h in self.hits if h.article_id == aid]
            first = group[0]
            date = (first.published_at or "undated")[:10]
            lines.append(f'Article A{n}: "{sanitize(first.title)}" ({sanitize(first.source)}, {date})')
            lines.extend(f"[{markers[h.id]}] {sanitize(h.text)}" for h in group)
        if none_option:
            lines.append(f"[S0] {NONE_OF_THESE}")
        return "\n".join(lines)


def sanitize(text: str) -> str:
    """One line of plain text that cannot forge a marker or close the sources block."""
    text = _FORGED_MARKER.sub(r"(\1)", " ".join(text.split()))
    return _FORGED_DELIMITER.sub(lambda m: "«" if m.group(0)[0] == "<" else "»", text)


def select_evidence(hits: list[SentenceHit], *, max_sentences: int, min_dense: float | None = None) -> Evidence:
    """The best ``max_sentences`` hits (already fused and ranked by retrieval).

    Hits whose dense similarity is far below the best one are left out: they only invite
    the model to wander.
    """
    chosen = [h for h in hits if min_dense is None or h.dense is None or h.dense >= min_dense]
    return Evidence(tuple(chosen[:max_sentences]))
