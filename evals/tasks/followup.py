"""The follow-up task: does a rewritten follow-up retrieve what the standalone question would?

For each conversation the follow-up is made to stand alone by
:func:`service.generation.followup.standalone` -- the function ``/v1/ask`` and
``/v1/chat/completions`` call -- and three questions are searched for, in the same run:

* ``none``: the follow-up as typed (the "before": no rewrite);
* ``joined``: the earlier user question, then the follow-up (the cheap rewrite, no model);
* ``model``: the model's rewrite (what the desk does).

Scored against the hand-written standalone question: ``overlap_<method>``, the share of the
standalone question's top-k sentences that the method's top-k also holds; and, on answerable
conversations, ``gold_hit_<method>``: a gold sentence is among the top k.
"""

from __future__ import annotations

import time
from typing import Any

from evals.cases import Case
from evals.metrics.support import Span
from evals.tasks.common import TaskContext, Variant, base_row, model_calls
from service.errors import InvalidInput
from service.generation.followup import Turn, joined, standalone
from service.retrieval.search import SentenceHit
from service.store.catalog import Filters

PROMPT = "rewrite"
METHODS = ("none", "joined", "model")


def _hits_gold(hits: list[SentenceHit], gold: tuple[Span, ...]) -> bool:
    return any(h.article_id == s.article_id and h.start < s.end and s.start < h.end for h in hits for s in gold)


def run_case(ctx: TaskContext, case: Case, variant: Variant) -> dict[str, Any]:
    if variant.prompt_name != PROMPT:
        raise InvalidInput.for_field("prompt", f"the followup task uses {PROMPT}@vN prompts, not {variant.prompt}")
    if not case.history or not case.gold.standalone:
        raise InvalidInput.for_field("dataset", f"case {case.id} needs a history and a standalone question")
    since = len(ctx.ledger.events)
    history = tuple(Turn(role, content) for role, content in case.history)
    t0 = time.perf_counter()
    rewrite = standalone(ctx.services.backend(variant.model), history, case.question,
                         log=ctx.services.call_log, prompt_version=variant.prompt_version)
    elapsed = (time.perf_counter() - t0) * 1000
    calls = model_calls(ctx.ledger, since)
    filters = Filters(article_ids=case.article_ids)
    k = ctx.top_k

    def top(question: str) -> list[SentenceHit]:
        return ctx.services.retriever.search(question, k=k, filters=filters).sentences[:k]

    reference = {h.id for h in top(case.gold.standalone)}
    asked = {"none": case.question, "joined": joined(history, case.question), "model": rewrite.question}
    metrics: dict[str, Any] = {"rewrite_used": float(rewrite.method == "model")}
    retrieved: dict[str, list[str]] = {}
    for method, question in asked.items():
        hits = top(question)
        retrieved[method] = [h.id for h in hits]
        metrics[f"overlap_{method}"] = len(reference & {h.id for h in hits}) / len(reference) if reference else None
        if case.gold.answerable and case.gold.support:
            metrics[f"gold_hit_{method}"] = float(_hits_gold(hits, case.gold.support))
    metrics["latency_ms"] = sum(c.latency_ms for c in calls) if calls else elapsed
    row = base_row(case, variant, ctx, calls)
    row.update({"question": case.question, "standalone_gold": case.gold.standalone, "asked": asked,
                "rewrite_method": rewrite.method, "retrieved": retrieved, "metrics": metrics})
    return row
