"""Sentence segmentation with exact character offsets.

Lines are hard boundaries in news copy (cross-headlines, bullets, datelines, trailers), so the
text is first split at line breaks; each line is then segmented by nupunkt, a maintained Punkt
implementation with a trained English model that knows abbreviations such as "U.S." and
"Dr.".  We measured it against pysbd and sentencex on the seed and on realtimeqa articles:
pysbd agrees but is ~20x slower, sentencex merges a quote into the preceding headline
(tests/ingest/test_segment.py keeps the hard cases).

Invariant, checked by a property test: ``text[s.start:s.end] == s.text`` and ``s.text`` is
never empty and never starts or ends with whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE_BREAK_CHARS = "\n\r\u2028\u2029"
_LINE = re.compile(f"[^{LINE_BREAK_CHARS}]+")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str


def _sentence_spans(line: str) -> list[tuple[int, int]]:
    import nupunkt

    return list(nupunkt.sent_spans(line))


def split_sentences(text: str) -> list[Span]:
    """Segment ``text`` into sentences whose offsets slice ``text`` exactly."""
    out: list[Span] = []
    for line in _LINE.finditer(text):
        base = line.start()
        segment = line.group()
        if not segment.strip():
            continue
        for s, e in _sentence_spans(segment):
            piece = segment[s:e]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            start, end = base + s + lead, base + e - trail
            if end > start:
                out.append(Span(start, end, text[start:end]))
    return out
