"""The summarize task: ``summarize(services, SummaryParams)`` -- behind POST /v1/summaries -- on one
article, scored by ROUGE against the reference, faithfulness and the neutrality measures.

Faithfulness here is the share of the model's draft sentences that verification kept
(``1 - dropped / draft``); sentences the neutrality step restates or adds are not counted.
"""

from __future__ import annotations

import re
from typing import Any

from evals.cases import Case
from evals.metrics.faithfulness import faithfulness
from evals.metrics.neutrality import neutrality_metrics
from evals.metrics.rouge import rouge
from evals.metrics.tokens import token_metrics
from evals.tasks.common import TaskContext, Variant, base_row, latency_ms, model_calls
from service.errors import InvalidInput
from service.generation.summarize import Length, SummaryParams, summarize

PROMPT = "summary"
LENGTH: Length = "short"
_MARKERS = re.compile(r"\s*\[\d+\]")


def run_case(ctx: TaskContext, case: Case, variant: Variant) -> dict[str, Any]:
    if variant.prompt_name != PROMPT:
        raise InvalidInput.for_field("prompt", f"the summarize task uses {PROMPT}@vN prompts, not {variant.prompt}")
    since = len(ctx.ledger.events)
    res = summarize(ctx.services, SummaryParams(article_ids=case.article_ids, length=LENGTH,
                                                prompt_version=variant.prompt_version, model=variant.model))
    calls = model_calls(ctx.ledger, since)
    text = _MARKERS.sub("", res.summary).strip()
    quotes = {c.hit.id: c.quote for c in res.citations}
    kept = len(res.sentences)
    metrics: dict[str, float | None] = {
        "latency_ms": latency_ms(res.timings, calls), **token_metrics(res.usage),
        **neutrality_metrics(res.neutrality),
        "faithfulness": None if res.extractive_fallback else faithfulness([True] * kept + [False] * res.dropped),
        "extractive_fallback": float(res.extractive_fallback),
    }
    if case.gold.reference:
        metrics.update(rouge(text, case.gold.reference))
    row = base_row(case, variant, ctx, calls)
    row.update({
        "question": f"summarise {', '.join(case.article_ids)}",
        "answer": res.summary, "abstained": False,
        "sentences": [{"text": v.text, "support": v.support, "citations": [h.id for h in v.citations]}
                      for v, _ in res.sentences],
        "citations": [{"sentence_id": h.id, "title": h.title, "quote": quotes.get(h.id, h.text)}
                      for h in dict((h.id, h) for v, _ in res.sentences for h in v.citations).values()],
        "backend": res.backend, "model_name": res.model, "prompt_ref": res.prompt, "usage": res.usage,
        "timings": res.timings, "dropped": res.dropped, "metrics": metrics,
    })
    return row
