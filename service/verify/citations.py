"""Citation parsing and verification, shared by answers, summaries and briefings.

1. ``parse_draft``: split the model's text into sentences and collect each one's markers.
   Markers that point at sentences the model was not shown are dropped (and counted).
2. ``verify``: score each sentence's support from its cited sentences with the calibrated
   :class:`SupportChecker`.  A sentence with no (or a wrong) citation is re-attributed to the
   shown sentence that supports it best, if that one clears the threshold.  What is still
   unsupported is dropped, or kept with ``flagged=True`` when the caller asks for flags.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from service.ingest.segment import split_sentences
from service.retrieval.search import SentenceHit
from service.rules import enabled
from service.verify.topic import adds_to

_MARKER_GROUP = re.compile(r"\[\s*((?:S?\s*\d+\s*[,;]?\s*)+)\]", re.IGNORECASE)
_ONE = re.compile(r"S?\s*(\d+)", re.IGNORECASE)
_ECHOED_HEADER = re.compile(r"^(?:Article A\d+:|Sources\b.*:$|Question:)")
"""Lines of our own prompt layout that a small model sometimes copies into its reply."""
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
        if _ABSTAIN.match(clean) or _ECHOED_HEADER.match(clean):
            continue
        out.append(DraftSentence(clean, markers))
    return Draft(out, invalid, abstained=not out)


MAX_UNION = 3
"""A claim may rest on up to this many sentences together (multi-hop: "X's director was born in Y")."""


def verify(draft: Draft, evidence: dict[str, SentenceHit], checker: Any, threshold: float,
           *, question: str | None = None, keep_flagged: bool = False) -> list[VerifiedSentence]:
    """Score, re-attribute, and drop or flag unsupported sentences.

    A sentence is checked against the union of the sentences it cites.  When that fails (or it
    cites nothing), the shown sentences that support it best are tried, alone and then as
    unions of two or three: a multi-hop claim needs every sentence it rests on, and its
    citation then lists all of them -- and only them: a cited sentence the claim does not need is
    left out (:func:`_needed`).  ``question``: what it gives counts as given.
    """
    if not draft.sentences:
        return []
    markers = list(evidence)
    texts = {m: evidence[m].text for m in markers}
    cited = [_adding(s, texts, question) for s in draft.sentences]
    cited_pairs = [(s.text, joined([texts[m] for m in c])) for s, c in zip(draft.sentences, cited, strict=True)]
    scores = checker.score_many([(c, e) if e else (c, [""]) for c, e in cited_pairs], given=question)
    out: list[VerifiedSentence] = []
    for sent, own, score in zip(draft.sentences, cited, scores, strict=True):
        best, best_markers = score, own
        if not sent.markers or score.score < threshold:
            found = _reattribute(checker, sent, markers, texts, threshold, question)
            if found is not None and found[0].score > (score.score if sent.markers else -1.0):
                best, best_markers = found
        supported = best.score >= threshold and bool(best_markers)
        if supported and len(best_markers) > 1 and enabled("drop_unneeded_citations"):
            best, best_markers = _needed(checker, sent.text, best, best_markers, texts, threshold, question)
        if supported or keep_flagged:
            out.append(VerifiedSentence(sent.text, [evidence[m] for m in best_markers], round(float(best.score), 4),
                                        flagged=not supported, reattributed=best_markers != sent.markers,
                                        missing=list(best.missing)))
    return out


def _adding(sent: DraftSentence, texts: dict[str, str], question: str | None) -> list[str]:
    """The sentence's markers less those whose sentence adds none of its own words
    (:func:`service.verify.topic.adds_to`): cited beside others, such a sentence only pads the
    passage the claim is scored against."""
    if len(sent.markers) < 2 or not enabled("padding"):
        return list(sent.markers)
    return [m for m in sent.markers if adds_to(sent.text, texts[m], question)] or list(sent.markers)


def _needed(checker: Any, claim: str, score: Any, chosen: list[str], texts: dict[str, str], threshold: float,
            question: str | None) -> tuple[Any, list[str]]:
    """``chosen`` less the sentences the claim does not need: while one can be left out and the
    rest still support it, the one whose absence costs least goes.  "The League of Nations was
    founded on 10 January 1920 [1][2][3]" keeps the sentence that says so and drops the ones that
    only restate the question ("Titulescu was president of the League") or say nothing of it."""
    while len(chosen) > 1:
        trials = [[m for m in chosen if m != drop] for drop in chosen]
        scored = checker.score_many([(claim, joined([texts[m] for m in t])) for t in trials], given=question)
        i = max(range(len(trials)), key=lambda i: scored[i].score)
        if scored[i].score < threshold:
            break
        score, chosen = scored[i], trials[i]
    return score, chosen


def joined(texts: list[str]) -> list[str]:
    """Several cited sentences are judged as one passage: a claim that rests on them together
    (multi-hop) is compared with what they say together, not with each one apart."""
    return [" ".join(texts)] if len(texts) > 1 else texts


def _reattribute(checker: Any, sent: DraftSentence, markers: list[str], texts: dict[str, str], threshold: float,
                 question: str | None) -> tuple[Any, list[str]] | None:
    """The best-supporting single shown sentence, else the best union of up to
    :data:`MAX_UNION` (the claim's own markers first, then the best singles), if it clears
    ``threshold``."""
    singles = checker.score_many([(sent.text, [texts[m]]) for m in markers], given=question)
    order = sorted(range(len(markers)), key=lambda i: -singles[i].score)
    top = order[0]
    if singles[top].score >= threshold:
        return singles[top], [markers[top]]
    ranked = list(dict.fromkeys([*sent.markers, *(markers[i] for i in order[:MAX_UNION])]))
    if enabled("padding"):
        ranked = [m for m in ranked if adds_to(sent.text, texts[m], question)]  # the rest would only pad
    unions = [ranked[:k] for k in range(2, MAX_UNION + 1) if len(ranked) >= k]
    unions += [[a, b] for a, b in itertools.combinations(ranked[:MAX_UNION], 2) if [a, b] not in unions]
    if not unions:
        return None
    scored = checker.score_many([(sent.text, joined([texts[m] for m in u])) for u in unions], given=question)
    best = max(range(len(unions)), key=lambda i: (scored[i].score, -len(unions[i])))
    if scored[best].score < threshold:
        return None
    # the union's sentences in marker order, each one of them needed
    return scored[best], sorted(unions[best], key=markers.index)
