"""A learned abstention decision: how likely an answer is right, from signals the path already has.

Every answer the path gives (written or quoted) carries :func:`signals`: the model's vote (P(none),
its top probability, its margin, the vote for what was cited), retrieval's best cosine, the
support of what verified, the question's type and what the answer is made of.  An
:class:`AbstainGate` -- a logistic regression over those signals, fitted on the *tuning* fold of
the dev suites by ``python -m evals.abstain_fit`` and checked on the *check* fold -- turns an
answer into an abstention when its probability of being right is below the fitted threshold.

The gate is a general lever, not a rule that names its case: it learns how much each signal says
from labelled answers.  It acts only when its parameters file exists
(:data:`PARAMS_PATH`, or ``Settings.abstain_params``); ``abstain_fit`` writes that file only when
the check fold gains from it (right answers lost fewer than wrong answers withdrawn).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from service.retrieval.question import QuestionType
from service.verify.support import SupportParams

PARAMS_PATH = Path(__file__).with_name("abstain_params.json")
"""Where ``python -m evals.abstain_fit --write`` puts the fitted gate (absent: the gate is off)."""

FEATURES: tuple[str, ...] = (
    "p_none",        # the model's vote that no shown sentence answers (S0)
    "vote_top",      # its top probability for a sentence
    "vote_margin",   # top minus second
    "vote_cited",    # the highest vote among the sentences the answer cites
    "dense_top",     # retrieval's best sentence cosine
    "support_min",   # the lowest support score of the answer's sentences
    "quoted",        # 1 when nothing written verified and a source sentence is quoted
    "q_number",      # the question asks for a number
    "q_date",        # ... or a date
    "n_cited",       # how many sentences the answer cites
    "draft_abstained",  # the model's draft said the sources do not answer
    "has_short",     # the answer's words were found as a short answer in a cited sentence
)


def signals(*, none: float | None, votes: Sequence[float] | None, cited_votes: Sequence[float],
            dense_top: float, supports: Sequence[float], mode: str, qtype: QuestionType, n_cited: int,
            draft_abstained: bool, has_short: bool) -> dict[str, float]:
    """The gate's inputs for one answer.  A backend that cannot score leaves the vote signals at
    neutral values (P(none) 0.5, no top, no margin), so a fitted gate still reads the others."""
    ranked = sorted(votes or (), reverse=True)
    top = ranked[0] if ranked else 0.0
    return {
        "p_none": 0.5 if none is None else float(none),
        "vote_top": float(top),
        "vote_margin": float(top - ranked[1]) if len(ranked) > 1 else float(top),
        "vote_cited": float(max(cited_votes, default=0.0)),
        "dense_top": float(dense_top),
        "support_min": float(min(supports, default=0.0)),
        "quoted": float(mode == "quoted"),
        "q_number": float(qtype is QuestionType.NUMBER),
        "q_date": float(qtype is QuestionType.DATE),
        "n_cited": float(n_cited),
        "draft_abstained": float(draft_abstained),
        "has_short": float(has_short),
    }


@dataclass(frozen=True, slots=True)
class AbstainGate:
    """A fitted logistic regression over :data:`FEATURES` and the probability below which an answer
    is withdrawn."""

    model: SupportParams
    threshold: float
    meta: Mapping[str, Any]

    def probability(self, sig: Mapping[str, float]) -> float:
        """P(the answer is right) for one answer's :func:`signals`."""
        x = np.array([[sig.get(name, 0.0) for name in self.model.feature_names]])
        return float(self.model.predict(x)[0])

    def withdraws(self, sig: Mapping[str, float]) -> tuple[bool, float]:
        p = self.probability(sig)
        return p < self.threshold, p

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model.model_dict(), "threshold": self.threshold, "meta": dict(self.meta)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AbstainGate:
        m = raw["model"]
        unknown = sorted(set(m["feature_names"]) - set(FEATURES))
        if unknown:
            raise ValueError(f"abstention gate parameters name unknown signals: {', '.join(unknown)}")
        return cls(SupportParams.from_model_dict(m), float(raw["threshold"]), raw.get("meta", {}))


@lru_cache(maxsize=4)
def load_gate(path: Path) -> AbstainGate | None:
    """The gate fitted at ``path``, or ``None`` when there is no such file (the gate is off)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return AbstainGate.from_json(raw)
