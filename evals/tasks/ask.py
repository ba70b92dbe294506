"""The ask task: ``answer(services, AskParams)`` -- the function behind POST /v1/ask -- on one case.

The request sets ``flag_unsupported=True`` so the result also carries the draft sentences that
verification would drop; the *answer* scored is what the API returns by default (the supported
sentences only), while ALCE and faithfulness are measured on the whole draft.
"""

from __future__ import annotations

from typing import Any

from evals.cases import Case
from evals.metrics.abstention import abstention_metrics
from evals.metrics.answer import contains_answer, exact_match, token_f1
from evals.metrics.citations import Statement, alce
from evals.metrics.faithfulness import faithfulness
from evals.metrics.support import Span, support_prf
from evals.metrics.tokens import token_metrics
from evals.tasks.common import TaskContext, Variant, base_row, latency_ms, model_calls, quotes_faithful
from service.errors import InvalidInput
from service.generation.answer import AnswerResult, AskParams, answer_stream
from service.store.catalog import Filters
from service.timeutil import parse_as_of
from service.verify.citations import VerifiedSentence

PROMPT = "answer"


def run_case(ctx: TaskContext, case: Case, variant: Variant) -> dict[str, Any]:
    if variant.prompt_name != PROMPT:
        raise InvalidInput.for_field("prompt", f"the ask task uses {PROMPT}@vN prompts, not {variant.prompt}")
    since = len(ctx.ledger.events)
    params = AskParams(case.question, Filters(article_ids=case.article_ids), ctx.top_k,
                       prompt_version=variant.prompt_version, model=variant.model, flag_unsupported=True,
                       as_of=parse_as_of(case.asked_at, "asked_at"))
    res = _answer(ctx, params)
    calls = model_calls(ctx.ledger, since)
    kept = [] if res.abstained else [(v, nums) for v, nums in res.sentences if not v.flagged]
    quotes = {c.hit.id: c.quote for c in res.citations}
    row = base_row(case, variant, ctx, calls)
    row.update({
        "question": case.question,
        "answer": " ".join(f"{v.text} {''.join(f'[{n}]' for n in nums)}".strip() for v, nums in kept)
        if kept else res.answer,
        "abstained": res.abstained,
        "abstain_reason": res.abstain_reason,
        "sentences": [{"text": v.text, "support": v.support, "flagged": v.flagged, "reattributed": v.reattributed,
                       "citations": [h.id for h in v.citations]} for v, _ in res.sentences],
        "citations": [{"sentence_id": h.id, "title": h.title, "quote": quotes.get(h.id, h.text)}
                      for h in dict((h.id, h) for v, _ in kept for h in v.citations).values()],
        "mode": res.mode,
        "short_answer": res.short_answer.text if res.short_answer is not None else None,
        "signals": res.signals,
        "confidence": res.confidence,
        "evidence": [c.hit.id for c in res.evidence],
        "backend": res.backend,
        "model_name": res.model,
        "prompt_ref": res.prompt,
        "usage": res.usage,
        "timings": res.timings,
        "metrics": score(ctx, case, res, [v for v, _ in kept], latency_ms(res.timings, calls),
                         uncached=bool(calls) and not any(c.hit for c in calls)),
    })
    return row


def _answer(ctx: TaskContext, params: AskParams) -> AnswerResult:
    """The streaming path (what the SSE endpoint runs), so time to first token is recorded."""
    *_, final = answer_stream(ctx.services, params)
    assert isinstance(final, AnswerResult)
    return final


def quote_fidelity(ctx: TaskContext, res: AnswerResult) -> float:
    """1.0 when every citation's and evidence record's quote is exactly article.text[start:end]."""
    span = res.short_answer
    spans = [] if span is None else [(span.hit.article_id, span.start, span.end, span.text)]
    return quotes_faithful(ctx, [*res.citations, *res.evidence], spans)


def score(ctx: TaskContext, case: Case, res: AnswerResult, kept: list[VerifiedSentence],
          latency: float, uncached: bool = False) -> dict[str, float | None]:
    gold = case.gold
    text = " ".join(v.text for v in kept)
    draft = [v for v, _ in res.sentences]
    m: dict[str, float | None] = {"latency_ms": latency, **token_metrics(res.usage)}
    m["ttft_ms"] = res.timings.get("first_token_ms") if uncached else None
    m["quote_fidelity"] = quote_fidelity(ctx, res)
    m.update({f"mode_{mode}": float(res.mode == mode) for mode in ("written", "quoted", "abstained")})
    m.update(abstention_metrics(res.abstained, gold.answerable))
    if gold.answers and gold.answerable is not False:
        said = " ".join(v.text for v in draft)
        m.update(em=exact_match(text, gold.answers), f1=token_f1(text, gold.answers),
                 answer_contains=contains_answer(text, gold.answers),
                 draft_f1=token_f1(said, gold.answers), draft_contains=contains_answer(said, gold.answers))
        short = res.short_answer.text if res.short_answer is not None and kept else text
        m.update(short_em=exact_match(short, gold.answers), short_f1=token_f1(short, gold.answers))
    if gold.support:
        prf = support_prf([Span(h.article_id, h.start, h.end) for v in kept for h in v.citations], gold.support)
        m.update(citation_precision=prf.precision, citation_recall=prf.recall, citation_f1=prf.f1)
    if gold.forbidden:
        m["forbidden_absent"] = _absent(gold.forbidden, " ".join(v.text for v in draft))
        m["forbidden_absent_final"] = _absent(gold.forbidden, text)
    checker = ctx.services.checker
    scores = alce([Statement(v.text, tuple(h.text for h in v.citations)) for v in draft],
                  lambda pairs: [s.score for s in checker.score_many(pairs)], ctx.services.support_threshold)
    m.update(alce_recall=scores.recall, alce_precision=scores.precision,
             faithfulness=faithfulness([not v.flagged for v in draft]))
    return m


def _absent(forbidden: tuple[str, ...], said: str) -> float:
    low = said.lower()
    return float(not any(f.lower() in low for f in forbidden))
