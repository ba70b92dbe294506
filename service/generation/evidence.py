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


@dataclass(frozen=True, slots=True)
class Evidence:
    """Sentences shown to the model, in marker order (S1 is ``hits[0]``)."""

    hits: tuple[SentenceHit, ...]

    def marker(self, i: int) -> str:
        return f"S{i + 1}"

    def by_marker(self) -> dict[str, SentenceHit]:
        return {self.marker(i): h for i, h in enumerate(self.hits)}

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def render(self) -> str:
        """Group by article (best article first), sentences in reading order inside each."""
        markers = {h.id: self.marker(i) for i, h in enumerate(self.hits)}
        order: list[str] = []
        for h in self.hits:
            if h.article_id not in order:
                order.append(h.article_id)
        lines: list[str] = []
        for n, aid in enumerate(order, 1):
            group = sorted((h for h in self.hits if h.article_id == aid), key=lambda h: h.index)
            first = group[0]
            date = (first.published_at or "undated")[:10]
            lines.append(f'Article A{n}: "{sanitize(first.title)}" ({sanitize(first.source)}, {date})')
            lines.extend(f"[{markers[h.id]}] {sanitize(h.text)}" for h in group)
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
