"""Citation support checker: does the cited evidence support a generated claim?

No NLI or cross-encoder model ships offline (see ../shared/OFFLINE_MODELS.md), so the checker
combines cheap signals with a logistic regression fitted on human labels (QAGS, CNN/DM;
``python -m evals.calibrate_support``, report in docs/support_calibration.md):

* embedding cosine between the claim and its best evidence sentence, and the concatenated
  evidence (all-MiniLM-L6-v2, one batched call per :meth:`SupportChecker.score_many`);
* lexical overlap: recall of the claim's content-word stems, of its stem bigrams (over all the
  evidence and against the best single sentence), and in-order overlap (LCS) with the sentence
  most similar to the claim;
* "hard" items that must appear in the evidence: numbers ("10,000" == "10000", "2.5m" ==
  "2,500,000", "twenty-five" == "25"; a range is two numbers), months and weekdays, capitalised
  names (leading titles such as "President" may be absent).  Absent ones are listed in
  :attr:`SupportScore.missing` and cap the score (the *hard-item gate*,
  :attr:`SupportParams.missing_cap`, below the threshold);
* claim length and a scoped negation mismatch ("was not charged" vs "was charged").

:attr:`SupportScore.score` is the fitted probability that the evidence supports the claim.  It
is calibrated to QAGS's mix (74 % of the judged sentences were supported); on other data read it
as a ranking score with a recorded operating threshold (:attr:`SupportParams.threshold`).

Pass claims without their citation marks; "[1]"-style marks are stripped as a safety net.

The text analysis behind the lexical signals and the hard items is :mod:`service.verify.text`;
names are matched as :mod:`service.verify.names` matches them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from service.errors import ModelMissing
from service.rules import enabled
from service.verify.names import name_word_in
from service.verify.roles import role_conflicts, transition_conflicts
from service.verify.text import MONTHS, WEEKDAYS, Mention, TextAnalysis, analyze

DEFAULT_PARAMS_PATH = Path(__file__).with_name("support_params.json")


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupportFeatures:
    """Raw features of one (claim, evidence) pair; every value is in [0, 1]."""

    cos_max: float  # max cosine(claim, evidence sentence)
    cos_concat: float  # cosine(claim, all evidence joined)
    lex_recall: float  # share of the claim's content stems found in the evidence
    bigram_recall: float  # share of the claim's content-stem bigrams found in the evidence
    bigram_best: float  # the same against the single best-covering evidence sentence
    lcs_ratio: float  # longest common stem subsequence with the best sentence / claim length
    num_missing: float  # share of the claim's numbers absent from the evidence
    date_missing: float  # share of the claim's months/weekdays absent from the evidence
    name_missing: float  # share of the claim's capitalised names absent from the evidence
    any_missing: float  # 1 if any number, date or name is absent
    claim_len: float  # min(1, claim words / 50)
    neg_mismatch: float  # 1 if a statement is negated on one side only (scoped, see below)
    novel_recall: float = 0.0  # share of the claim's content stems *not in the question* found in the evidence
    cos_given: float = 0.0  # cosine(claim, all evidence joined with the question)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.names()}

    def vector(self, names: Sequence[str]) -> np.ndarray:
        return np.array([getattr(self, n) for n in names], dtype=np.float64)


def _recall(needles: Iterable[Any], haystack: set[Any] | frozenset[Any]) -> float:
    items = list(needles)
    if not items:
        return 1.0
    return sum(1 for x in items if x in haystack) / len(items)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _bigrams(seq: Sequence[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(seq))


def _missing(mentions: list[Mention], keys: set[str]) -> tuple[float, list[str]]:
    if not mentions:
        return 0.0, []
    absent = [m.surface for m in mentions if not (m.keys & keys)]
    return len(absent) / len(mentions), absent


def _found(kind: str, item: Any, stems: set[str], numbers: set[str], dates: set[str]) -> bool:
    if kind == "w":
        return item in stems
    return bool(item & (numbers if kind == "n" else dates))


def compute_features(
    claim: TextAnalysis,
    evidence: Sequence[TextAnalysis],
    cos_sentences: Sequence[float],
    cos_concat: float,
    given: TextAnalysis | None = None,
    cos_given: float | None = None,
) -> tuple[SupportFeatures, list[str]]:
    """Features and the list of missing hard items for one pair (``evidence`` non-empty).

    ``given`` (the question) is context the claim may repeat: its numbers, dates, names and
    words count as present ("Who directed X?" -> "Y directed X" needs only Y from the evidence).
    """
    ev_stems: set[str] = set()
    ev_words: set[str] = set()
    ev_bigrams: set[tuple[str, str]] = set()
    claim_bigrams = _bigrams(claim.content)
    bigram_best = 0.0 if claim_bigrams else 1.0
    ev_numbers: set[str] = set()
    ev_dates: set[str] = set()
    for ev in evidence:
        ev_stems.update(ev.stems)
        ev_words.update(ev.words)
        sentence_bigrams = set(_bigrams(ev.content))
        ev_bigrams.update(sentence_bigrams)
        if claim_bigrams:
            bigram_best = max(bigram_best, _recall(claim_bigrams, sentence_bigrams))
        for m in ev.numbers:
            ev_numbers.update(m.keys)
        ev_dates.update(MONTHS.get(w, w) for w in ev.words if w in MONTHS or w in WEEKDAYS)
    own_stems = set(ev_stems)
    if given is not None:
        ev_stems.update(given.stems)
        ev_words.update(given.words)
        for m in given.numbers:
            ev_numbers.update(m.keys)
        ev_dates.update(MONTHS.get(w, w) for w in given.words if w in MONTHS or w in WEEKDAYS)
    name_keys = ev_words | ev_stems
    # What the claim adds to the question must come from the evidence itself; a claim that adds
    # nothing ("Did Russia retake Kursk?" -> "Russia retook Kursk" adds only "retook") is no answer.
    # Its numbers and dates count as what it adds too ("scored 71 points" adds 71).
    asked = set(given.stems) if given is not None else set()
    asked_numbers = {k for m in given.numbers for k in m.keys} if given is not None else set()
    asked_dates = set(given.words) if given is not None else set()
    novel: list[tuple[str, Any]] = [("w", c) for c in claim.content if c not in asked]
    novel += [("n", m.keys) for m in claim.numbers if not m.keys & asked_numbers]
    novel += [("d", m.keys) for m in claim.dates if not m.keys & asked_dates]
    own_numbers = {k for ev in evidence for m in ev.numbers for k in m.keys}
    own_dates = {MONTHS.get(w, w) for ev in evidence for w in ev.words if w in MONTHS or w in WEEKDAYS}

    best = int(np.argmax(cos_sentences))
    lcs = _lcs(claim.stems, evidence[best].stems)
    num_share, num_absent = _missing(claim.numbers, ev_numbers)
    date_share, date_absent = _missing(claim.dates, ev_dates)
    name_absent = [m.surface for m in claim.names if not all(name_word_in(t, name_keys) for t in m.keys)]
    name_share = len(name_absent) / len(claim.names) if claim.names else 0.0
    missing = list(dict.fromkeys(num_absent + date_absent + name_absent))
    # Negation mismatch, scoped: the word right after a negation cue on one side appears on the
    # other side without a negation in front of it ("was not charged" vs "was charged").
    ev_targets = {t for ev in evidence for t in ev.neg_targets}
    claim_stems = set(claim.stems)
    neg_mismatch = any(t in ev_stems and t not in ev_targets for t in claim.neg_targets) or any(
        t in claim_stems and t not in claim.neg_targets for t in ev_targets
    )
    feats = SupportFeatures(
        cos_max=float(max(0.0, max(cos_sentences))),
        cos_concat=float(max(0.0, cos_concat)),
        lex_recall=_recall(claim.content, ev_stems),
        bigram_recall=_recall(claim_bigrams, ev_bigrams),
        bigram_best=bigram_best,
        lcs_ratio=lcs / len(claim.stems) if claim.stems else 1.0,
        num_missing=num_share,
        date_missing=date_share,
        name_missing=name_share,
        any_missing=1.0 if missing else 0.0,
        claim_len=min(1.0, len(claim.words) / 50.0),
        neg_mismatch=1.0 if neg_mismatch else 0.0,
        novel_recall=(sum(1 for kind, item in novel if _found(kind, item, own_stems, own_numbers, own_dates))
                      / len(novel)) if novel else 0.0,
        cos_given=float(max(0.0, cos_given if cos_given is not None else cos_concat)),
    )
    return feats, missing


# --------------------------------------------------------------------------------------------
# Fitted combination
# --------------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))


@dataclass
class SupportParams:
    """Logistic regression over standardised features, plus the operating threshold."""

    feature_names: list[str]
    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    threshold: float = 0.5
    l2: float = 1.0
    missing_cap: float | None = None
    """Upper bound on the score when a number, date or name of the claim is absent from the
    evidence ("hard-item gate"); fitted as the smoothed share of supported claims among such
    claims.  ``None`` disables the gate."""
    meta: dict[str, Any] = field(default_factory=dict)

    # -- persistence ---------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> SupportParams:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelMissing(
                f"support checker parameters {path} are missing; run `python -m evals.calibrate_support`"
            ) from exc
        params = cls.from_model_dict(raw["model"])
        params.threshold = float(raw["threshold"]["value"])
        params.missing_cap = None if raw.get("missing_gate") is None else float(raw["missing_gate"]["cap"])
        params.meta = raw
        return params

    @classmethod
    def from_model_dict(cls, model: Mapping[str, Any]) -> SupportParams:
        """The regression that :meth:`model_dict` wrote (threshold, gate and meta at their defaults)."""
        return cls(
            feature_names=list(model["feature_names"]),
            weights=[float(w) for w in model["weights"]],
            bias=float(model["bias"]),
            mean=[float(v) for v in model["mean"]],
            scale=[float(v) for v in model["scale"]],
            l2=float(model.get("l2", 1.0)),
        )

    @classmethod
    def load_default(cls) -> SupportParams:
        return cls.load(DEFAULT_PARAMS_PATH)

    def model_dict(self) -> dict[str, Any]:
        return {
            "type": "logistic_regression_l2",
            "feature_names": self.feature_names,
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "l2": self.l2,
            "note": "p = sigmoid(bias + sum(w * (x - mean) / scale))",
        }

    # -- fitting / prediction ------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        feature_names: Sequence[str],
        l2: float = 1.0,
        max_iter: int = 50,
        sample_weight: np.ndarray | None = None,
    ) -> SupportParams:
        """L2-penalised logistic regression (Newton / IRLS); the bias is not penalised.

        ``sample_weight`` lets a small labelled set count as much as a large one it is pooled with.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        mean = np.average(x, axis=0, weights=w)
        scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
        scale[scale < 1e-9] = 1.0
        z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
        beta = np.zeros(z.shape[1])
        penalty = np.full(z.shape[1], l2)
        penalty[0] = 0.0
        for _ in range(max_iter):
            p = _sigmoid(z @ beta)
            grad = z.T @ (w * (p - y)) + penalty * beta
            hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(beta))
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        return cls(
            feature_names=list(feature_names),
            weights=beta[1:].tolist(),
            bias=float(beta[0]),
            mean=mean.tolist(),
            scale=scale.tolist(),
            l2=l2,
        )

    def predict(self, x: np.ndarray, any_missing: np.ndarray | None = None) -> np.ndarray:
        """Probabilities for rows of raw features ordered as ``feature_names``.

        ``any_missing`` (bool per row) applies the hard-item gate :attr:`missing_cap`.
        """
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        p = _sigmoid(self.bias + z @ np.asarray(self.weights))
        if any_missing is not None and self.missing_cap is not None:
            p = np.where(np.asarray(any_missing, dtype=bool), np.minimum(p, self.missing_cap), p)
        return p


# --------------------------------------------------------------------------------------------
# Checker
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupportScore:
    score: float  # fitted probability that the evidence supports the claim
    supported: bool  # score >= the calibrated threshold
    features: dict[str, float]
    missing: list[str]  # numbers / dates / names of the claim absent from the evidence


class SupportChecker:
    """Score whether cited evidence sentences support a claim.

    ``params`` defaults to :meth:`SupportParams.load_default` (loaded on first scoring call, so
    :meth:`features_many` works before any calibration exists).
    """

    def __init__(self, embedder: Embedder, params: SupportParams | None = None) -> None:
        self.embedder = embedder
        self._params = params

    @property
    def params(self) -> SupportParams:
        if self._params is None:
            self._params = SupportParams.load_default()
        return self._params

    @property
    def threshold(self) -> float:
        return self.params.threshold

    def score(self, claim: str, evidence: list[str], *, given: str | None = None) -> SupportScore:
        return self.score_many([(claim, evidence)], given=given)[0]

    def score_many(self, pairs: Sequence[tuple[str, list[str]]], *, given: str | None = None) -> list[SupportScore]:
        """Scores for (claim, evidence sentences) pairs.  ``given``: the question, whose names,
        numbers and dates the claim may repeat without the evidence holding them.

        Two gates cap the fitted score below the threshold: a number, date or name of the claim
        that is absent from the evidence (and the question), and a role the claim swaps
        (:func:`service.verify.roles.role_conflicts`: "Russia thanked" for "Putin thanked").
        Both are listed in :attr:`SupportScore.missing`.
        """
        params = self.params
        scored = self.features_many(pairs, given=given)
        for (claim, evidence), (feats, missing) in zip(pairs, scored, strict=True):
            if feats is not None:
                said = [e for e in evidence if e.strip()]
                missing.extend(f"role {c}" for c in role_conflicts(claim, said))
                if enabled("number_roles"):
                    missing.extend(f"number {c}" for c in transition_conflicts(claim, said))
        out: list[SupportScore] = []
        rows = [f.vector(params.feature_names) for f, _ in scored if f is not None]
        gate = [bool(m) for f, m in scored if f is not None]
        probs = iter(params.predict(np.vstack(rows), np.array(gate)).tolist() if rows else [])
        for feats, missing in scored:
            if feats is None:  # no evidence: nothing can support the claim
                out.append(SupportScore(0.0, False, {}, missing))
                continue
            p = float(next(probs))
            out.append(SupportScore(p, p >= params.threshold, feats.as_dict(), missing))
        return out

    def features_many(self, pairs: Sequence[tuple[str, list[str]]], *, given: str | None = None,
                      givens: Sequence[str | None] | None = None) -> list[tuple[SupportFeatures | None, list[str]]]:
        """Raw features and missing items per pair; one batched embedding call for all texts.

        ``given`` applies to every pair; ``givens`` gives each pair its own (calibration data).
        """
        cleaned = [(claim, [e for e in evidence if e.strip()]) for claim, evidence in pairs]
        per_pair = list(givens) if givens is not None else [given] * len(cleaned)
        texts: dict[str, int] = {}
        for (claim, evidence), given in zip(cleaned, per_pair, strict=True):
            if not evidence:
                continue
            for t in (claim, *evidence, " ".join(evidence), *([" ".join([*evidence, given])] if given else [])):
                texts.setdefault(t, len(texts))
        vectors = self.embedder.embed(list(texts)) if texts else np.zeros((0, 1))
        analyses: dict[str, TextAnalysis] = {}

        def analysis(text: str) -> TextAnalysis:
            if text not in analyses:
                analyses[text] = analyze(text)
            return analyses[text]

        out: list[tuple[SupportFeatures | None, list[str]]] = []
        for (claim, evidence), given in zip(cleaned, per_pair, strict=True):
            if not evidence:
                c = analysis(claim)
                out.append((None, [m.surface for m in c.numbers + c.dates + c.names]))
                continue
            cv = vectors[texts[claim]]
            cos_sent = [float(vectors[texts[e]] @ cv) for e in evidence]
            cos_cat = float(vectors[texts[" ".join(evidence)]] @ cv)
            cos_q = float(vectors[texts[" ".join([*evidence, given])]] @ cv) if given else None
            out.append(compute_features(analysis(claim), [analysis(e) for e in evidence], cos_sent, cos_cat,
                                        analysis(given) if given else None, cos_q))
        return out
