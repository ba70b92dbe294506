"""Paired v3 - v2 and v3 - lead differences, by fold, with 95% bootstrap CIs, for the fresh-case
runs in this folder; cases also in the suite's dev sample (matched by reference text) are left out.

    .venv/bin/python evals/reports/fresh-2026-12-08/paired.py neus-summary evals/data/neus_dev.jsonl
    .venv/bin/python evals/reports/fresh-2026-12-08/paired.py allsides-summary evals/data/allsides_roundups_dev.jsonl

The runs: ``newsdesk eval run <suite> --prompt summary@v2 --prompt summary@v3 --model local
--data-dir ../shared/data --limit 60`` (2026-12-08 02:20-02:43 UTC, load 1.6-4.0).
"""

import json
import statistics
import sys
from pathlib import Path

from evals.folds import fold_of
from evals.stats import bootstrap_ci

HERE = Path(__file__).parent
KEYS = ("rouge1", "rouge2", "rougeL")


def main(suite: str, sample: str) -> None:
    rows = [json.loads(line) for line in (HERE / suite / "results.jsonl").open(encoding="utf-8")]
    dev = {str(v).strip()[:80] for line in open(sample, encoding="utf-8") for v in json.loads(line).values()}
    fresh = [r for r in rows if (r["gold"].get("reference") or "").strip()[:80] not in dev and not r.get("error")]
    print(f"{suite}: {len({r['case_id'] for r in rows})} cases, {len({r['case_id'] for r in fresh})} not in the sample")
    for fold in ("tune", "check"):
        by: dict[str, dict[str, dict[str, float]]] = {}
        for r in fresh:
            if fold_of(r["case_id"]) == fold:
                by.setdefault(r["prompt"], {})[r["case_id"]] = r["metrics"]
        v2, v3 = by["summary@v2"], by["summary@v3"]
        ids = sorted(set(v2) & set(v3))
        ours = " / ".join(f"{statistics.mean(v3[i][k] for i in ids):.3f}" for k in KEYS)
        lead = " / ".join(f"{statistics.mean(v3[i]['lead_' + k] for i in ids):.3f}" for k in KEYS)
        print(f"  {fold} (n={len(ids)}): v3 {ours}, lead {lead}")
        for k in KEYS:
            d = bootstrap_ci([v3[i][k] - v2[i][k] for i in ids])
            g = bootstrap_ci([v3[i][k] - v3[i]["lead_" + k] for i in ids])
            print(f"    {k}: v3-v2 {d.value:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
                  f"  v3-lead {g.value:+.3f} [{g.low:+.3f}, {g.high:+.3f}]")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
