"""Briefings of AllSides days with the local model: which model headlines stand, which are refused, why.

    python -m benchmarks.headline_check 2021-04-22 2021-04-23 ... [--out benchmarks/results/headlines.json]

One line per story: the day, its fold, where the headline came from (model, title, key_point),
the headline, and the refused model headline with the reason (issue 23, item 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.summaries_bench import ALLSIDES, allsides_articles, allsides_by_day, allsides_records
from evals.folds import fold_of
from service.config import REPO_ROOT, Settings
from service.generation.briefing import BriefingParams, build_briefing
from service.runtime import build_services


def run(days: Sequence[str], backend: str) -> list[dict[str, Any]]:
    by_day = allsides_by_day(allsides_records(Path(ALLSIDES)))
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        svc = build_services(Settings(data_dir=Path(tmp), llm_backend=backend))
        try:
            for d in days:
                svc.store.ingest_many([a for a, _ in allsides_articles(by_day[d])])
                t = time.perf_counter()
                briefing = build_briefing(svc, BriefingParams(day=date.fromisoformat(d)))
                out += [{"day": d, "fold": fold_of(f"allsides-day-{d}"), "headline": s["headline"],
                         "from": s["headline_from"], "refused": s.get("headline_rejected")}
                        for s in briefing["stories"]]
                print(f"{d}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        finally:
            svc.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.headline_check", description=__doc__.split("\n")[0])
    ap.add_argument("days", nargs="+", help="AllSides roundup days, YYYY-MM-DD")
    ap.add_argument("--backend", default="local")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "headlines.json")
    args = ap.parse_args(argv)
    rows = run(args.days, args.backend)
    args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for r in rows:
        print(f"{r['day']} {r['fold']} {r['from']} | {r['headline']} | {r['refused']}")
    refused = sum(1 for r in rows if r["refused"])
    print(f"{refused} of {len(rows)} model headlines refused")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
