"""An answer as chat text: its verified sentences with ``[n]`` markers, and where each marker is.

Chat clients show text, and only some of them read citation fields, so the text itself carries
the sources (``render(..., sources=True)`` appends a numbered list: linked title, outlet, date,
quote).
Every ``[n]`` in the text is a :class:`Mark`: its span in the text and the citation it points
at, so that an API can hand out annotations whose offsets are right by construction.

Offsets count Unicode code points, as Python's ``str`` does (``text[start:end] == "[2]"``).  A
JavaScript client counts UTF-16 units: the two differ after a character outside the Basic
Multilingual Plane (an emoji), and :func:`utf16_offset` converts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.generation.answer import AnswerResult
from service.generation.core import Citation

SOURCES_HEADING = "Sources:"


@dataclass(frozen=True, slots=True)
class Mark:
    start: int
    end: int
    citation: Citation


@dataclass(slots=True)
class Reply:
    parts: list[str] = field(default_factory=list)
    """The text in the pieces a stream sends: one a sentence, then one a source line."""
    marks: list[Mark] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _add(self, pieces: list[tuple[str, Citation | None]]) -> None:
        """Append one part made of plain pieces and marker pieces (a piece with its citation)."""
        at = sum(len(p) for p in self.parts)
        part = ""
        for text, citation in pieces:
            if citation is not None:
                self.marks.append(Mark(at + len(part), at + len(part) + len(text), citation))
            part += text
        self.parts.append(part)


def permalink(base_url: str, citation: Citation) -> str:
    """The desk's page of the cited article, scrolled to the sentence: unique per sentence."""
    return f"{base_url.rstrip('/')}/articles/{citation.hit.article_id}#s{citation.hit.index}"


def _outlet(citation: Citation) -> str:
    """The outlet and the day, "Fox News, 2025-04-28" (the outlet alone when undated)."""
    when = (citation.hit.published_at or "")[:10]
    return f"{citation.hit.source}, {when}" if when else citation.hit.source


def source_title(citation: Citation) -> str:
    return f"{citation.hit.title} ({_outlet(citation)})"


def render(res: AnswerResult, base_url: str, *, sources: bool) -> Reply:
    """The answer's text; with ``sources``, followed by its numbered sources list."""
    reply = Reply()
    by_marker = {c.marker: c for c in res.citations}
    if res.abstained or not res.sentences:
        reply._add([(res.answer, None)])
        return reply
    for sentence, numbers in res.sentences:
        if sentence.flagged:
            continue
        pieces: list[tuple[str, Citation | None]] = [((" " if reply.parts else "") + sentence.text, None)]
        cited = [by_marker[n] for n in numbers if n in by_marker]
        if cited:
            pieces.append((" ", None))
            pieces += [(f"[{c.marker}]", c) for c in cited]
        reply._add(pieces)
    if sources and res.citations:
        reply._add([("\n\n" + SOURCES_HEADING, None)])
        for c in sorted(res.citations, key=lambda c: c.marker):
            title = c.hit.title.replace("[", "(").replace("]", ")")  # a bracket would end the link text
            reply._add([("\n", None), (f"[{c.marker}]", c),
                        (f" [{title}]({permalink(base_url, c)}), {_outlet(c)}: “{c.quote}”", None)])
    return reply


def without_sources(content: str) -> str:
    """A reply of ours as the next turn's history: the answer without its sources list."""
    return content.split("\n\n" + SOURCES_HEADING + "\n", 1)[0]


def utf16_offset(text: str, index: int) -> int:
    """``index`` (code points into ``text``) counted in UTF-16 units, as JavaScript counts."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)
