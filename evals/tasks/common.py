"""What every task records: the variant, the run context, latency and cache facts of a case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.cache import CacheEvent, CacheLedger
from evals.cases import Case, Dataset
from evals.metrics.support import Span
from service.runtime import Services


@dataclass(frozen=True, slots=True)
class Variant:
    prompt: str  # answer@v1
    model: str  # local | fake | openai:gpt-4o-mini

    @property
    def label(self) -> str:
        return f"{self.prompt} | {self.model}"

    @property
    def prompt_name(self) -> str:
        return self.prompt.partition("@")[0]

    @property
    def prompt_version(self) -> str:
        return self.prompt.partition("@")[2]


@dataclass(slots=True)
class TaskContext:
    services: Services
    dataset: Dataset
    ledger: CacheLedger
    top_k: int

    def quote(self, span: Span) -> str:
        return str(self.dataset.articles[span.article_id]["text"][span.start:span.end])


def model_calls(ledger: CacheLedger, since: int) -> list[CacheEvent]:
    return ledger.events[since:]


def latency_ms(timings: dict[str, float], calls: list[CacheEvent]) -> float:
    """End-to-end time with each model call counted at its first (uncached) duration: the time
    spent in model steps (selection, writing) is replaced by the sum of the calls' own times."""
    total = timings.get("total_ms", 0.0)
    if not calls:
        return total
    model_steps = timings.get("generate_ms", 0.0) + timings.get("select_ms", 0.0)
    return max(0.0, total - model_steps) + sum(c.latency_ms for c in calls)


def base_row(case: Case, variant: Variant, ctx: TaskContext, calls: list[CacheEvent]) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "variant": variant.label,
        "prompt": variant.prompt,
        "model": variant.model,
        "tags": list(case.tags),
        "model_calls": len(calls),
        "cached": all(c.hit for c in calls) if calls else None,
        "gold": {"answers": list(case.gold.answers), "answerable": case.gold.answerable,
                 "support_quotes": [ctx.quote(s) for s in case.gold.support],
                 "reference": case.gold.reference},
        "error": None,
    }
