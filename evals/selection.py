"""Evidence selection on the dev sets: does the model's vote beat retrieval's rank?

For each question, the candidates the answer pipeline gives the model (:func:`prepare`) are scored by
the model exactly as :func:`service.generation.select.select` does; the rows (retrieval scores,
the model's probabilities, gold labels) are kept in ``<cache>/evals/selection-<set>.jsonl`` so
every policy below is compared on the same numbers without calling the model again.

Metrics: hit@1 / recall@2 / recall@3 of the gold sentences among the chosen, per policy; and
for abstention, how well P(S0) and the top probability separate answerable questions from
unanswerable ones (ROC AUC).

``python -m evals.selection --data-dir ../shared/data --model local --write docs/selection.md``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.cache import CacheLedger, CachingBackend, ResponseCache
from evals.datasets import load_dataset
from evals.metrics.support import Span
from evals.retrieval import SETS, open_store
from service.config import REPO_ROOT, get_settings
from service.generation.answer import AskParams, prepare
from service.generation.evidence import Evidence
from service.generation.select import fused_scores, select
from service.prompts import load_prompt
from service.store.catalog import Filters
from service.timeutil import parse_as_of

CANDIDATES = 10


def gold_flags(services: Any, case: Any, hits: Sequence[Any]) -> list[list[int]]:
    """Per gold item, the candidate positions that count as finding it."""
    if case.gold.support:
        return [[i for i, h in enumerate(hits) if Span(h.article_id, h.start, h.end).overlaps(g)]
                for g in case.gold.support]
    answers = [a for a in case.gold.answers if a.strip()]
    if not answers or case.gold.answerable is False:
        return []
    return [[i for i, h in enumerate(hits) if any(a in h.text for a in answers)]]


def collect(name: str, data_dir: Path | None, model: str, prompt: str, limit: int | None) -> list[dict[str, Any]]:
    fmt, dev, full = SETS[name]
    path = data_dir / full if data_dir is not None and full else REPO_ROOT / dev
    dataset = load_dataset(fmt, path)
    cases = dataset.select(limit)
    work = get_settings().cache_dir / "evals"
    services = open_store(name, dataset, cases, work, str(path.resolve()) + str(limit))
    cache = ResponseCache(work / "responses.sqlite3")
    backend = CachingBackend(services.backend(model), cache, CacheLedger())
    tpl = load_prompt(*prompt.split("@"))
    rows: list[dict[str, Any]] = []
    try:
        for case in cases:
            # exactly the candidates /v1/ask gives the model (second hop and question period included)
            asked = parse_as_of(case.asked_at, "asked_at")
            prep = prepare(services, AskParams(case.question, Filters(article_ids=case.article_ids),
                                               prompt_version=tpl.version, as_of=asked))
            hits = list(prep.writer.hits) if prep.writer is not None else []
            t0 = time.perf_counter()
            sel = select(backend, tpl, Evidence(tuple(hits)), question=" ".join(case.question.split()), log=None)
            rows.append({"case": case.id, "question": case.question, "answerable": case.gold.answerable,
                         "retrieval": sel.retrieval, "model": sel.model, "none": sel.none,
                         "chosen": sel.chosen, "gold": gold_flags(services, case, sel.candidates.hits),
                         "texts": [h.text for h in sel.candidates.hits], "seconds": round(time.perf_counter() - t0, 2)})
    finally:
        services.close()
    out = work / f"selection-{name}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def recall(order: Sequence[int], gold: list[list[int]], k: int) -> float | None:
    if not gold:
        return None
    top = set(order[:k])
    return sum(1 for g in gold if top & set(g)) / len(gold)


Policy = Callable[[dict[str, Any]], list[int]]


def ranked(scores: Sequence[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def policies() -> dict[str, Policy]:
    out: dict[str, Policy] = {"retrieval rank": lambda r: ranked(r["retrieval"])}
    for w in (1.0, 0.75, 0.5, 0.25):
        out[f"model x{w:g} + retrieval x{1 - w:g}"] = (
            lambda r, w=w: ranked(fused_scores(r["retrieval"], r["model"], w)) if r["model"] else [])
    return out


def auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def report(rows_by_set: dict[str, list[dict[str, Any]]], meta: str) -> str:
    lines = [meta, ""]
    for name, rows in rows_by_set.items():
        with_gold = [r for r in rows if r["gold"]]
        lines += [f"### {name} ({len(with_gold)} questions with gold sentences among {CANDIDATES} candidates "
                  f"of {len(rows)})", "", "| ranking | hit@1 | R@2 | R@3 |", "|---|---|---|---|"]
        for label, policy in policies().items():
            vals = {k: [recall(policy(r), r["gold"], k) for r in with_gold] for k in (1, 2, 3)}
            if any(v is None for v in vals[1]) or not with_gold or not policy(with_gold[0]):
                continue
            lines.append(f"| {label} | " + " | ".join(f"{np.mean(vals[k]):.3f}" for k in (1, 2, 3)) + " |")
        chosen = [(recall(r["chosen"], r["gold"], len(r["chosen"])), len(r["chosen"])) for r in with_gold]
        if chosen:
            lines.append(f"| **chosen by select()** | recall "
                         f"{np.mean([c[0] for c in chosen]):.3f} with {np.mean([c[1] for c in chosen]):.2f} "
                         f"sentences | | |")
        scored = [r for r in rows if r["model"] is not None]
        pos = [r for r in scored if r["answerable"] is not False and r["gold"]]
        neg = [r for r in scored if r["answerable"] is False]
        a_none = auc([-r["none"] for r in pos], [-r["none"] for r in neg])
        a_top = auc([max(r["model"]) for r in pos], [max(r["model"]) for r in neg])
        if a_none is not None:
            lines += ["", f"Answerable ({len(pos)}, gold among the candidates) vs unanswerable ({len(neg)}): "
                      f"ROC AUC of 1 - P(S0) {a_none:.3f}, of the top probability {a_top:.3f}."]
        secs = [r["seconds"] for r in rows]
        lines += ["", f"Scoring time per question (cached calls count 0): median {np.median(secs):.1f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.selection", description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--model", default="local")
    ap.add_argument("--prompt", default="answer@v3")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--write", type=Path, default=None)
    args = ap.parse_args(argv)
    t0, load = time.perf_counter(), os.getloadavg()[0]
    rows = {name: collect(name, args.data_dir, args.model, args.prompt, args.limit) for name in args.sets}
    meta = (f"Measured {datetime.now(UTC):%Y-%m-%d} with `python -m evals.selection --model {args.model} "
            f"--prompt {args.prompt}{' --data-dir ' + str(args.data_dir) if args.data_dir else ''}` in "
            f"{time.perf_counter() - t0:.0f} s; {os.cpu_count()} CPUs, load average {load:.1f} at start.")
    text = report(rows, meta)
    print(text)
    if args.write:
        args.write.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
