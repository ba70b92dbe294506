"""What every task records: the variant, the run context, latency and cache facts of a case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

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
    summary_length: str | None = None
    """The suite's ``summary_length`` (the summarize task's default when None)."""

    def quote(self, span: Span) -> str:
        return str(self.dataset.articles[span.article_id]["text"][span.start:span.end])


class _Hit(Protocol):
    article_id: str
    start: int
    end: int


class Quoted(Protocol):
    """A citation or evidence record: the sentence hit it quotes, and the quote shown."""

    @property
    def hit(self) -> _Hit: ...

    @property
    def quote(self) -> str: ...


def quotes_faithful(ctx: TaskContext, quoted: Iterable[Quoted],
                    spans: Iterable[tuple[str, int, int, str]] = ()) -> float:
    """1.0 when every quote is exactly the stored article's ``text[start:end]`` (``spans``: more
    ``(article_id, start, end, text)`` to check the same way), else 0.0."""
    texts: dict[str, str] = {}

    def text(aid: str) -> str:
        if aid not in texts:
            art = ctx.services.catalog.get_article(aid)
            texts[aid] = art["text"] if art else ""
        return texts[aid]

    for c in quoted:
        if text(c.hit.article_id)[c.hit.start:c.hit.end] != c.quote:
            return 0.0
    for aid, start, end, said in spans:
        if text(aid)[start:end] != said:
            return 0.0
    return 1.0


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
