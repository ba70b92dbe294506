"""Evidence first: pick the source sentences that answer *before* anything is written.

Attribute first, then generate (Slobodkin et al., ACL 2024): selecting the content and then
writing from it alone gives text that can be attributed sentence by sentence.  The model is
used as a scorer here, not as a writer.  The candidates are rendered with the answer prompt,
plus a last line ``[S0]`` that stands for "none of these"; the reply is pre-filled with
"The sentence that answers the question is [S", and the backend's next-token probability of
each marker number ranks every candidate in one pass (:meth:`ChatBackend.choice_probs`).
That pass shares its prompt prefix with the writing call, so it costs little more than the
tokens of the candidates.

The model's vote is fused with the retrieval score (:data:`MODEL_WEIGHT`) and the best one is
chosen.  (A second pass asking which sentence completes the answer was measured and dropped: its
pick was a gold sentence for 13 of 50 HotpotQA questions.)  Where a backend cannot score, the
ranking is retrieval's own and the writer sees more candidates.

The weights and thresholds below were picked on the dev sets with ``python -m evals.selection``
(docs/selection.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.generation.evidence import Evidence
from service.llm.base import ChatBackend, ChatMessage
from service.logs.calls import CallLog, score_choices
from service.prompts import PromptTemplate
from service.retrieval.search import SentenceHit

CANDIDATES = 10
"""Retrieved sentences the model scores (evidence-first prompts)."""
MODEL_WEIGHT = 0.5
"""Share of the model's (normalised) vote in the fused selection score; the rest is retrieval's."""
UNSCORED_CHOSEN = 5
"""Without model scores the writer sees retrieval's top five and picks for itself."""


@dataclass(slots=True)
class Selection:
    """Candidates in marker order (S1 is ``candidates.hits[0]``) and what was made of them."""

    candidates: Evidence
    retrieval: list[float]
    model: list[float] | None
    """P(S_k) for each candidate, from the model; ``None`` when the backend cannot score."""
    none: float | None
    """P(S0): the model's vote that no candidate answers."""
    scores: list[float]
    chosen: list[int]
    """Indexes into the candidates, best first."""

    @property
    def hits(self) -> list[SentenceHit]:
        return [self.candidates.hits[i] for i in self.chosen]

    @property
    def order(self) -> list[int]:
        """Indexes of every candidate, best fused score first."""
        return sorted(range(len(self.scores)), key=lambda i: -self.scores[i])

    @property
    def top_model_prob(self) -> float | None:
        if self.model is None or not self.chosen:
            return None
        return self.model[self.chosen[0]]


def fused_scores(retrieval: Sequence[float], model: Sequence[float] | None,
                 weight: float = MODEL_WEIGHT) -> list[float]:
    """``weight`` x the model's share of the candidates' probability mass, plus the rest x the
    retrieval score relative to the best one."""
    top = max(retrieval, default=0.0) or 1.0
    r = [x / top for x in retrieval]
    if model is None:
        return r
    mass = sum(model) or 1.0
    return [weight * p / mass + (1 - weight) * x for p, x in zip(model, r, strict=True)]


def select(backend: ChatBackend, tpl: PromptTemplate, candidates: Evidence, *, question: str,
           log: CallLog | None, render: dict[str, str] | None = None) -> Selection:
    """Score ``candidates`` with the model (where it can) and choose the evidence to write from."""
    retrieval = [h.score for h in candidates.hits]
    n = len(candidates.hits)
    if tpl.select is None or n == 0:
        return _choose(candidates, retrieval, None, None)
    messages = selection_messages(tpl, candidates, question, render)
    probs = score_choices(backend, messages, tpl.select.prefill, range(n + 1), log=log, prompt_name=tpl.name,
                          prompt_version=tpl.version, retrieved_ids=candidates.ids)
    if probs is None:
        return _choose(candidates, retrieval, None, None)
    return _choose(candidates, retrieval, probs[1:], probs[0])


def selection_messages(tpl: PromptTemplate, candidates: Evidence, question: str,
                       render: dict[str, str] | None = None) -> list[ChatMessage]:
    values = {"question": question, "sources": candidates.render(none_option=True),
              "dates": candidates.date_range(), **(render or {})}
    return tpl.render(**{k: v for k, v in values.items() if k in tpl.variables})


def _choose(candidates: Evidence, retrieval: list[float], model: list[float] | None,
            none: float | None) -> Selection:
    scores = fused_scores(retrieval, model)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    chosen = order[:UNSCORED_CHOSEN] if model is None else order[:1]
    return Selection(candidates, retrieval, model, none, scores, chosen)
