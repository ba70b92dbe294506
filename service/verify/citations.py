"""Citation parsing and verification, shared by answers, summaries and briefings.

1. ``parse_draft``: split the model's text into sentences and collect each one's markers.
   Markers that point at sentences the model was not shown are dropped (and counted).
2. ``verify``: score each sentence's support from its cited sentences with the calibrated
   :class:`SupportChecker`.  A sentence with no (or a wrong) citation is re-attributed to the
   shown sentence that supports it best, if that one clears the threshold.  What is still
   unsupported is dropped, or kept with ``flagged=True`` when the caller asks for flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from service.ingest.segment import split_sentences
from service.retrieval.search import SentenceHit

_MARKER_GROUP = re.compile(r"\[\s*((?:S?\s*\d+\s*[,;]?\s*)+)\]", re.IGNORECASE)
_ONE = re.compile(r"S?\s*(\d+)", re.IGNORECASE)
_ABSTAIN = re.compile(
    r"^\W*(insufficient|i (do not|don't|cannot|can't) (know|answer)|the sources do not|"
    r"(the )?sources (do not|don't) (contain|say|mention|answer))", re.IGNORECASE)


@dataclass(slots=True)
class DraftSentence:
    text: str
    markers: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Draft:
    sentences: list[DraftSentence]
    invalid_markers: list[str]
    abstained: bool


@dataclass(slots=True)
class VerifiedSentence:
    text: str
    citations: list[SentenceHit]
    support: float
    flagged: bool = False
    reattributed: bool = False
    missing: list[str] = field(default_factory=list)


def parse_draft(text: str, shown: set[str]) -> Draft:
    """Sentences with their markers; ``shown`` is the set of markers given to the model."""
    stripped = text.strip()
    if not stripped or _ABSTAIN.match(stripped):
        return Draft([], [], True)
    invalid: list[str] = []
    out: list[DraftSentence] = []
    for span in split_sentences(stripped):
        markers: list[str] = []
        for group in _MARKER_GROUP.finditer(span.text):
            for num in _ONE.findall(group.group(1)):
                m = f"S{int(num)}"
                if m in shown:
                    if m not in markers:
                        markers.append(m)
                else:
                    invalid.append(m)
        clean = " ".join(_MARKER_GROUP.sub(" ", span.text).split())
        clean = re.sub(r"\s+([.,;:!?])", r"\1", clean).strip()
        leading = bool(_MARKER_GROUP.match(span.text.strip()))
        if not re.search(r"\w", clean):
            if out:  # a marker-only fragment belongs to the sentence before it
                out[-1].markers.extend(m for m in markers if m not in out[-1].markers)
            continue
        if leading and out and not out[-1].markers and markers:
            # "[S1] Next sentence" after an unmarked sentence: the marker closes the previous one
            lead_markers = [f"S{int(n)}" for n in _ONE.findall(_MARKER_GROUP.match(span.text.strip()).group(1))]  # type: ignore[union-attr]
            out[-1].markers.extend(m for m in lead_markers if m in shown)
            markers = [m for m in markers if m not in lead_markers]
        if _ABSTAIN.match(clean):
            continue
        out.append(DraftSentence(clean, markers))
    return Draft(out, invalid, abstained=not out)


def verify(draft: Draft, evidence: dict[str, SentenceHit], checker: Any, threshold: float,
           *, keep_flagged: bool = False) -> list[VerifiedSentence]:
    """Score, re-attribute, and drop or flag unsupported sentences."""
    if not draft.sentences:
        return []
    markers = list(evidence)
    texts = {m: evidence[m].text for m in markers}
    cited_pairs = [(s.text, [texts[m] for m in s.markers]) for s in draft.sentences]
    scores = checker.score_many([(c, e) if e else (c, [""]) for c, e in cited_pairs])
    out: list[VerifiedSentence] = []
    for sent, score in zip(draft.sentences, scores, strict=True):
        cited = [evidence[m] for m in sent.markers]
        best, best_markers, reattributed = score, sent.markers, False
        if not sent.markers or score.score < threshold:
            singles = checker.score_many([(sent.text, [texts[m]]) for m in markers])
            top = max(range(len(markers)), key=lambda i: singles[i].score)
            if singles[top].score >= threshold and singles[top].score > (score.score if sent.markers else -1):
                best, best_markers, reattributed = singles[top], [markers[top]], True
                cited = [evidence[markers[top]]]
        supported = best.score >= threshold and bool(best_markers)
        if supported or keep_flagged:
            out.append(VerifiedSentence(sent.text, cited if best_markers else [], round(float(best.score), 4),
                                        flagged=not supported, reattributed=reattributed,
                                        missing=list(best.missing)))
    return out
