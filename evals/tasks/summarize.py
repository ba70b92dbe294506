"""The summarize task: ``summarize(services, SummaryParams)`` -- behind POST /v1/summaries -- on a
case's articles, scored by ROUGE against the reference, faithfulness and the neutrality measures,
next to a lead baseline computed in the same run.

Faithfulness here is the share of the model's draft sentences that verification kept
(``1 - dropped / draft``); sentences the neutrality step restates or adds are not counted.

The lead baseline (:func:`lead`) takes the case's indexed sentences -- the ones the summarizer is
given, boilerplate never among them -- round-robin across its articles in article order (each
article's first sentence, then each one's second, ...) until :data:`LEAD_SENTENCES` of the
suite's length; for one article and a short summary that is lead-3.  It is scored with the same
ROUGE, and ``rouge*_gain`` is ours minus the lead's on the same case: a paired difference, so its
confidence interval says whether we beat the lead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import zip_longest
from typing import Any, cast

from evals.cases import Case
from evals.metrics.faithfulness import faithfulness
from evals.metrics.neutrality import neutrality_metrics
from evals.metrics.rouge import rouge
from evals.metrics.tokens import token_metrics
from evals.tasks.common import TaskContext, Variant, base_row, latency_ms, model_calls, quotes_faithful
from service.errors import InvalidInput
from service.generation.selection import article_hits
from service.generation.summarize import Length, SummaryParams, summarize
from service.retrieval.search import SentenceHit

PROMPT = "summary"
LENGTH: Length = "short"
"""The length asked for when the suite sets no ``summary_length``."""
LEAD_SENTENCES: dict[str, int] = {"short": 3, "medium": 6, "long": 10}
_MARKERS = re.compile(r"\s*\[\d+\]")


def lead(hits: Sequence[SentenceHit], k: int) -> list[SentenceHit]:
    """The first ``k`` sentences taken round-robin across articles: sentence 1 of each article (in
    the order of ``hits``' articles), then sentence 2 of each, ... ``hits`` in reading order."""
    per_article: dict[str, list[SentenceHit]] = {}
    for h in hits:
        per_article.setdefault(h.article_id, []).append(h)
    rounds = zip_longest(*per_article.values())
    return [h for row in rounds for h in row if h is not None][:k]


def lead_metrics(ctx: TaskContext, case: Case, ours: dict[str, float], length: str) -> dict[str, float]:
    """ROUGE of the lead baseline vs the case's reference, and ours minus it (same case)."""
    assert case.gold.reference
    hits = article_hits(ctx.services.catalog, list(case.article_ids))
    text = " ".join(h.text for h in lead(hits, LEAD_SENTENCES[length]))
    base = rouge(text, case.gold.reference)
    out = {f"lead_{name}": value for name, value in base.items()}
    out.update({f"{name}_gain": round(ours[name] - value, 6) for name, value in base.items()})
    return out


def run_case(ctx: TaskContext, case: Case, variant: Variant) -> dict[str, Any]:
    if variant.prompt_name != PROMPT:
        raise InvalidInput.for_field("prompt", f"the summarize task uses {PROMPT}@vN prompts, not {variant.prompt}")
    length = cast(Length, ctx.summary_length or LENGTH)
    since = len(ctx.ledger.events)
    res = summarize(ctx.services, SummaryParams(article_ids=case.article_ids, length=length,
                                                prompt_version=variant.prompt_version, model=variant.model))
    calls = model_calls(ctx.ledger, since)
    text = _MARKERS.sub("", res.summary).strip()
    quotes = {c.hit.id: c.quote for c in res.citations}
    kept = len(res.sentences)
    supports = [v.support for v, _ in res.sentences if v.support is not None]
    metrics: dict[str, float | None] = {
        "latency_ms": latency_ms(res.timings, calls), **token_metrics(res.usage),
        **neutrality_metrics(res.neutrality),
        "faithfulness": None if res.extractive_fallback else faithfulness([True] * kept + [False] * res.dropped),
        "extractive_fallback": float(res.extractive_fallback),
        "support_mean": round(sum(supports) / len(supports), 6) if supports else None,
        "summary_words": float(len(text.split())),
        "quote_fidelity": quotes_faithful(ctx, res.citations),
    }
    if case.gold.reference:
        ours = rouge(text, case.gold.reference)
        metrics.update(ours)
        metrics.update(lead_metrics(ctx, case, ours, length))
    row = base_row(case, variant, ctx, calls)
    row.update({
        "question": f"summarise {', '.join(case.article_ids)}",
        "answer": res.summary, "abstained": False,
        "sentences": [{"text": v.text, "support": v.support, "citations": [h.id for h in v.citations]}
                      for v, _ in res.sentences],
        "citations": [{"sentence_id": h.id, "title": h.title, "quote": quotes.get(h.id, h.text)}
                      for h in dict((h.id, h) for v, _ in res.sentences for h in v.citations).values()],
        "backend": res.backend, "model_name": res.model, "prompt_ref": res.prompt, "usage": res.usage,
        "timings": res.timings, "dropped": res.dropped, "length": length, "metrics": metrics,
    })
    return row
