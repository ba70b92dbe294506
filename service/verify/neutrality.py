"""Neutrality, made measurable -- and enforced where a small model cannot be trusted with it.

Three measures, on every summary and briefing (and, in the benchmarks, on editors' summaries):

* **loaded words we introduced**: words of our output that a published subjectivity lexicon
  rates as subjective and that do not occur in the sentences the output cites.  The lexicon is
  the one TextBlob ships (``textblob/en/en-sentiment.xml``, from the Pattern library, De Smedt &
  Daelemans 2012): ~2,900 adjective senses of ~1,500 words with a subjectivity in [0, 1].  A word
  counts when the mean subjectivity of its senses reaches :data:`SUBJECTIVE_AT`.
* **attribution rate**: of our sentences whose main source sentence attributes its claim
  ("X said", "according to Y", "Z denied"), the share that keep an attribution.
* **contested-claim coverage**: the sources' contested pairs (a claim and a sentence that denies,
  rejects or disputes it, found by verb cues plus shared names, embedding similarity and
  adjacency); for each pair our output touches, whether it carries both sides.

:func:`enforce` applies the same rules to verified sentences: an unattributed restatement of an
attributed claim, or a sentence that adds loaded words, is replaced by its cited source sentence
(verbatim, so it stays supported); a cited claim whose counter-claim is missing gets the
counter-claim added right after it (and vice versa).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from service.retrieval.search import SentenceHit
from service.verify.citations import VerifiedSentence
from service.verify.lexicon import brill_tags, textblob_file
from service.verify.text import analyze, stem

SUBJECTIVE_AT = 0.6
"""Mean lexicon subjectivity from which a word counts as loaded."""
_NOT_LOADED = frozenset(
    "only first last same own such other more most much many few least less next former full".split())
"""Lexicon entries that are mostly grammatical in news copy ("the only", "the first")."""

ATTRIBUTION = re.compile(
    r"\b(?:said|says|say|saying|told|tells|tell|claim(?:s|ed|ing)?|den(?:y|ies|ied|ying)|according to|"
    r"report(?:s|ed|edly)?|announc(?:e|es|ed|ing)|stated|statement|insist(?:s|ed)?|alleg(?:e|es|ed|edly)|"
    r"argu(?:e|es|ed|ing)|assert(?:s|ed)?|accus(?:e|es|ed|ing)|confirm(?:s|ed)?|acknowledg(?:e|es|ed)|"
    r"maintain(?:s|ed)|contend(?:s|ed)|warn(?:s|ed)|estimat(?:e|es|ed)|assess(?:es|ed)|testif(?:y|ies|ied)|"
    r"wr(?:ote|ites)|tweet(?:s|ed)|reject(?:s|ed)|disput(?:e|es|ed)|suggest(?:s|ed)|believ(?:e|es|ed)|"
    r"call(?:s|ed) (?:on|for)|describ(?:e|es|ed)|praised|vowed|pledged|promised)\b",
    re.IGNORECASE,
)
COUNTER = re.compile(
    r"\b(?:den(?:y|ies|ied|ying|ial)|reject(?:s|ed|ing)?|disput(?:e|es|ed|ing)|refut(?:e|es|ed|ing)|"
    r"counter(?:s|ed|ing)|dismiss(?:es|ed|ing)|contradict(?:s|ed|ing)?|rebut(?:s|ted)?|rebuff(?:s|ed)?|"
    r"push(?:es|ed)? back|(?:not |un)true|false(?:ly)?|baseless)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


# --------------------------------------------------------------------------------------------
# Lexicon and cues
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def subjectivity_lexicon() -> dict[str, float]:
    """word -> mean subjectivity of its senses, from TextBlob's bundled en-sentiment.xml.

    The lexicon rates adjective senses; words whose usual part of speech (Brill's tagger
    lexicon, also bundled) is not an adjective or adverb -- "base", "right" -- are left out.
    """
    usual = {word.lower(): tag for word, tag in brill_tags()}
    senses: dict[str, list[float]] = {}
    for node in ET.fromstring(textblob_file("en-sentiment.xml").read_bytes()).iter("word"):
        form = (node.get("form") or "").lower()
        if form and node.get("subjectivity") is not None and usual.get(form, "JJ").startswith(("JJ", "RB")):
            senses.setdefault(form, []).append(float(node.get("subjectivity") or 0.0))
    return {w: sum(v) / len(v) for w, v in senses.items()}


def loaded_words(text: str, *, threshold: float = SUBJECTIVE_AT) -> list[str]:
    """Words of ``text`` (lowercase, in order) that the lexicon rates as subjective."""
    lex = subjectivity_lexicon()
    return [w for w in words(text) if w not in _NOT_LOADED and lex.get(w, 0.0) >= threshold]


def words(text: str) -> list[str]:
    return [w.lower().strip("'-") for w in _WORD.findall(text.replace("\u2019", "'"))]


def vocabulary(texts: Sequence[str]) -> set[str]:
    """Every word of ``texts``, lowercased, and its stem."""
    vocab: set[str] = set()
    for t in texts:
        for w in words(t):
            vocab.update((w, stem(w)))
    return vocab


def introduced_loaded(text: str, sources: Sequence[str]) -> list[str]:
    """Loaded words of ``text`` that none of ``sources`` contains (as a word or a stem)."""
    vocab = vocabulary(sources)
    return [w for w in loaded_words(text) if w not in vocab and stem(w) not in vocab]


def is_attributed(text: str) -> bool:
    return ATTRIBUTION.search(text) is not None


_NOMINAL = frozenset("the a an this that its their his her our no".split())
"""A cue right after one of these is a noun or a relative clause ("the dispute arose", "a false
claim", "the board that denied him"): background, not someone answering a claim."""


def counter_cues(text: str) -> set[str]:
    """Stems of the counter-claim cues that ``text`` uses as acts ("denied" -> "deni")."""
    out = set()
    for m in COUNTER.finditer(text):
        before = text[: m.start()].split()[-1:]
        if before and before[0].lower().strip("(\"'“") in _NOMINAL:
            continue
        out.add(stem(m.group(0).split()[0].lower()))
    return out


def is_counterclaim(text: str) -> bool:
    return bool(counter_cues(text))


def names(text: str) -> set[str]:
    return {k for m in analyze(text).names for k in m.keys}


def _content(text: str) -> set[str]:
    return set(analyze(text).content)


def primary_source(text: str, cited: Sequence[SentenceHit]) -> SentenceHit | None:
    """The cited sentence sharing the most content words with ``text`` (first on ties)."""
    if not cited:
        return None
    mine = _content(text)
    return max(cited, key=lambda h: len(mine & _content(h.text)))


# --------------------------------------------------------------------------------------------
# Contested pairs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContestedPair:
    claim: SentenceHit
    counter: SentenceHit
    score: float


PAIR_MIN_SCORE = 0.6
ADJACENT_BONUS = 0.2
NAME_BONUS = 0.1


def find_contested_pairs(hits: Sequence[SentenceHit], vectors: np.ndarray) -> list[ContestedPair]:
    """Each counter-claim sentence with the claim it answers, when one is clear enough.

    A candidate claim must share a name with the counter-claim or sit just before it in the
    same article; its score is cosine + adjacency and shared-name bonuses.  A candidate that uses
    the same cue as the counter-claim reports the same act ("the court dismissed the case", twice,
    from two outlets), so it is no claim the counter-claim answers.
    """
    name_sets = [names(h.text) for h in hits]
    cue_sets = [counter_cues(h.text) for h in hits]
    pairs: list[ContestedPair] = []
    for d, counter in enumerate(hits):
        if not cue_sets[d]:
            continue
        best, best_score = -1, PAIR_MIN_SCORE
        sims = vectors @ vectors[d]
        for c, claim in enumerate(hits):
            if c == d or claim.text == counter.text or cue_sets[c] & cue_sets[d]:
                continue
            adjacent = claim.article_id == counter.article_id and 0 < counter.index - claim.index <= 2
            shared = len(name_sets[c] & name_sets[d])
            if not (adjacent or shared):
                continue
            score = float(sims[c]) + ADJACENT_BONUS * adjacent + NAME_BONUS * min(shared, 2)
            if score > best_score:
                best, best_score = c, score
        if best >= 0:
            pairs.append(ContestedPair(hits[best], counter, round(best_score, 4)))
    return pairs


def complete_pairs(chosen: Sequence[SentenceHit], pairs: Sequence[ContestedPair]) -> list[SentenceHit]:
    """``chosen`` plus the other side of every contested pair one of them belongs to."""
    ids = {h.id for h in chosen}
    out = list(chosen)
    for p in pairs:
        for a, b in ((p.claim, p.counter), (p.counter, p.claim)):
            if a.id in ids and b.id not in ids:
                out.append(b)
                ids.add(b.id)
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PairCoverage:
    claim_id: str
    counter_id: str
    claim: str
    counter: str
    claim_present: bool
    counter_present: bool

    @property
    def both(self) -> bool:
        return self.claim_present and self.counter_present


@dataclass(slots=True)
class NeutralityReport:
    words: int
    loaded_introduced: list[str]
    loaded_rate: float
    attributed_in_sources: int
    attribution_kept: int
    attribution_rate: float | None
    contested: list[PairCoverage] = field(default_factory=list)
    contested_touched: int = 0
    contested_complete: int = 0
    contested_coverage: float | None = None
    fixes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for item, cov in zip(out["contested"], self.contested, strict=True):
            item["both"] = cov.both
        return out


def report(outputs: Sequence[tuple[str, Sequence[SentenceHit]]], pairs: Sequence[ContestedPair],
           fixes: dict[str, int] | None = None) -> NeutralityReport:
    """Measure ``outputs``: (sentence text, the source sentences it cites or is aligned to)."""
    n_words = sum(len(words(t)) for t, _ in outputs)
    loaded = [w for t, cited in outputs for w in introduced_loaded(t, [h.text for h in cited])]
    needing = [t for t, cited in outputs if (p := primary_source(t, cited)) is not None and is_attributed(p.text)]
    kept = sum(1 for t in needing if is_attributed(t))
    cited_ids = {h.id for _, cited in outputs for h in cited}
    coverage = [PairCoverage(p.claim.id, p.counter.id, p.claim.text, p.counter.text,
                             p.claim.id in cited_ids, p.counter.id in cited_ids) for p in pairs]
    touched = [c for c in coverage if c.claim_present or c.counter_present]
    complete = sum(1 for c in touched if c.both)
    return NeutralityReport(
        words=n_words, loaded_introduced=loaded, loaded_rate=round(len(loaded) / n_words, 4) if n_words else 0.0,
        attributed_in_sources=len(needing), attribution_kept=kept,
        attribution_rate=round(kept / len(needing), 4) if needing else None,
        contested=coverage, contested_touched=len(touched), contested_complete=complete,
        contested_coverage=round(complete / len(touched), 4) if touched else None, fixes=dict(fixes or {}),
    )


def align(texts: Sequence[str], text_vectors: np.ndarray, hits: Sequence[SentenceHit], vectors: np.ndarray,
          *, threshold: float = 0.6, per_sentence: int = 2) -> list[list[SentenceHit]]:
    """Pseudo-citations for uncited text (editors' summaries): the most similar source sentences."""
    if not hits:
        return [[] for _ in texts]
    sims = text_vectors @ vectors.T
    out: list[list[SentenceHit]] = []
    for row in sims:
        order = [int(i) for i in np.argsort(-row, kind="stable")[:per_sentence] if row[int(i)] >= threshold]
        out.append([hits[i] for i in order])
    return out


# --------------------------------------------------------------------------------------------
# Enforcement
# --------------------------------------------------------------------------------------------


def restate(hits: Sequence[SentenceHit], checker: Any) -> list[VerifiedSentence]:
    """Source sentences as output sentences citing themselves (scored by the checker)."""
    texts = [" ".join(h.text.split()) for h in hits]
    scores = checker.score_many([(t, [h.text]) for t, h in zip(texts, hits, strict=True)]) if hits else []
    return [VerifiedSentence(t, [h], round(float(s.score), 4)) for t, h, s in zip(texts, hits, scores, strict=True)]


def _needs_restating(v: VerifiedSentence) -> tuple[SentenceHit, str] | None:
    src = primary_source(v.text, v.citations)
    if src is None:
        return None
    if is_attributed(src.text) and not is_attributed(v.text):
        return src, "attribution_restored"
    if introduced_loaded(v.text, [h.text for h in v.citations]):
        return src, "loaded_restated"
    return None


def enforce(kept: Sequence[VerifiedSentence], pairs: Sequence[ContestedPair], checker: Any,
            *, surface: Sequence[ContestedPair] = ()) -> tuple[list[VerifiedSentence], dict[str, int]]:
    """Apply the neutrality rules to verified sentences; return them and the fix counts.

    ``surface``: pairs to append (claim and counter-claim) when the output touches none of
    ``pairs`` at all -- a neutral summary names what is disputed.
    """
    fixes = {"attribution_restored": 0, "loaded_restated": 0, "counterclaims_added": 0, "duplicates_removed": 0,
             "contested_surfaced": 0}
    out: list[VerifiedSentence] = []
    todo: list[tuple[int, SentenceHit]] = []
    for v in kept:
        need = _needs_restating(v)
        if need is not None:
            fixes[need[1]] += 1
            todo.append((len(out), need[0]))
        out.append(v)
    for (pos, _), fresh in zip(todo, restate([h for _, h in todo], checker), strict=True):
        out[pos] = fresh
    out = _add_counterclaims(out, pairs, checker, fixes)
    cited = {h.id for v in out for h in v.citations}
    if surface and out and not any(p.claim.id in cited or p.counter.id in cited for p in pairs):
        out += restate([h for p in surface for h in (p.claim, p.counter)], checker)
        fixes["contested_surfaced"] = len(surface)
    return _dedupe(out, fixes), fixes


def _add_counterclaims(out: list[VerifiedSentence], pairs: Sequence[ContestedPair], checker: Any,
                       fixes: dict[str, int]) -> list[VerifiedSentence]:
    for p in pairs:
        cited = [{h.id for h in v.citations} for v in out]
        has_claim = [i for i, ids in enumerate(cited) if p.claim.id in ids]
        has_counter = [i for i, ids in enumerate(cited) if p.counter.id in ids]
        if has_claim and not has_counter:
            out.insert(has_claim[0] + 1, restate([p.counter], checker)[0])
        elif has_counter and not has_claim:
            out.insert(has_counter[0], restate([p.claim], checker)[0])
        else:
            continue
        fixes["counterclaims_added"] += 1
    return out


def _dedupe(out: Sequence[VerifiedSentence], fixes: dict[str, int]) -> list[VerifiedSentence]:
    seen: set[str] = set()
    kept: list[VerifiedSentence] = []
    for v in out:
        key = " ".join(v.text.lower().split())
        if key in seen:
            fixes["duplicates_removed"] += 1
            continue
        seen.add(key)
        kept.append(v)
    return kept
