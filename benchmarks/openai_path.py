"""The production path against the embedded one, in one run: the ask suites answered by the
local model in-process and by the same GGUF behind llama.cpp's OpenAI-compatible server
(:mod:`benchmarks.llama_server`), case by case in turn, so that both see the same load.

    python -m benchmarks.openai_path [--suites tricky@2,hotpotqa-cite@2,realtimeqa@2]
                                     [--data-dir ../shared/data] [--results-dir DIR] [--limit N]
                                     [--table-only RUN_DIR ...]

Nothing is answered from the response cache (a fresh work dir), so the latencies are real.
Prints, per suite and fold, each variant's headline metrics with their 95% CIs and the ratio
of the p50 latencies (openai / local).  ``--table-only`` prints the table of finished runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.llama_server import ALIAS, llama_server

LOCAL, SERVER = "local", f"openai:{ALIAS}"
HEADLINES = {
    "hotpotqa-cite": ["citation_recall", "citation_precision", "answer_contains", "false_abstention"],
    "realtimeqa": ["answer_contains", "abstained_unanswerable", "abstention_correct"],
    "tricky": ["answer_contains", "abstention_correct", "forbidden_absent_final", "citation_recall"],
}
SPEED = ["latency_p50_ms", "ttft_p50_ms"]


def _fmt(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "-"
    v, lo, hi = e["value"], e.get("low"), e.get("high")
    if v > 100:  # a latency
        return f"{v / 1000:.1f} s"
    return f"{v:.3f} [{lo:.2f}, {hi:.2f}]" if lo is not None else f"{v:.3f}"


def table(summary: dict[str, Any]) -> list[str]:
    """Markdown rows: one per fold x metric, local then server, and the p50 ratio."""
    name = summary["suite"].split("@")[0]
    metrics = HEADLINES.get(name, [summary["comparison"]["primary"]]) + SPEED
    lines = [f"### {summary['suite']} (run {summary['run']}, load at start {summary['machine']['load_average_start']})",
             "", "| fold | metric | local (embedded) | openai (llama.cpp server) |", "|---|---|---|---|"]
    folds = {"all": {"cases": summary["comparison"]["cases"], "estimates": summary["comparison"]["estimates"]},
             **summary.get("folds", {})}
    for fold, data in folds.items():
        est = data["estimates"]
        for m in metrics:
            lines.append(f"| {fold} (n={data['cases']}) | {m} | {_fmt(_variant(est, LOCAL).get(m))} | "
                         f"{_fmt(_variant(est, SERVER).get(m))} |")
        a = _variant(est, LOCAL).get("latency_p50_ms", {}).get("value")
        b = _variant(est, SERVER).get("latency_p50_ms", {}).get("value")
        if a and b:
            lines.append(f"| {fold} | p50 ratio openai/local | | **{b / a:.2f}x** |")
    return lines


def _variant(estimates: dict[str, Any], model: str) -> dict[str, Any]:
    """The estimates of the variant run on ``model`` (any ``openai:`` model for the server)."""
    backend = model.split(":")[0]
    return next((v for k, v in estimates.items() if k.rsplit("| ", 1)[-1].split(":")[0] == backend), {})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suites", default="tricky@2,hotpotqa-cite@2,realtimeqa@2")
    ap.add_argument("--data-dir", type=Path, default=None, help="full data sets (../shared/data)")
    ap.add_argument("--results-dir", type=Path, default=Path("results/openai-path"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--table-only", type=Path, nargs="*", default=None, metavar="RUN_DIR")
    args = ap.parse_args(argv)
    if args.table_only is not None:
        for run in args.table_only:
            print("\n".join(table(json.loads((run / "summary.json").read_text(encoding="utf-8")))), end="\n\n")
        return 0

    from evals.runner import RunOptions, run_suite
    from evals.suite import load_suite
    from service.config import Settings

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="openai-path-") as work, \
            llama_server(settings, log_path=Path(work) / "llama_server.log") as base_url:
        os.environ["NEWSDESK_OPENAI_BASE_URL"] = base_url  # read by the eval's own Settings
        for ref in args.suites.split(","):
            suite = load_suite(ref)
            data_dir = args.data_dir if suite.dataset.full else None
            opts = RunOptions(suite, models=[LOCAL, SERVER], limit=args.limit, data_dir=data_dir,
                              results_dir=args.results_dir, work_dir=Path(work), resume=False)
            outcome = run_suite(opts)
            print("\n".join(table(outcome.summary)), end="\n\n", flush=True)
            print(f"run: {outcome.run.path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
