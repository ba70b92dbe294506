"""Fuzz the whole OpenAPI schema with schemathesis against a real ``newsdesk serve``.

    nice -n 19 .venv/bin/python -m benchmarks.fuzz --max-examples 80 --out benchmarks/results/fuzz.json

The service runs with the fake backend, NEWSDESK_AUTH=required, an admin key sent on every
request, rate limits off, and the seed article.  Checks: ``not_a_server_error`` (no 5xx) and
``problem_json_for_4xx`` (benchmarks/st_hooks.py).  Exit status 0 only when both held on every
generated case.  The test suite calls :func:`run` with a smaller budget.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import make_key, start_service

PHASES = "examples,coverage,fuzzing,stateful"
CHECKS = "not_a_server_error,problem_json_for_4xx"


def run(data_dir: Path, *, max_examples: int, seed: int = 1, phases: str = PHASES, workers: int = 1,
        checks: str = CHECKS, **settings: Any) -> dict[str, Any]:
    """``settings``: more NEWSDESK_* settings of the service (``database_url``, ``chroma_host`` ...)."""
    svc = start_service(data_dir, seed=True, auth="required", rate_limit_default="off", rate_limit_model="off",
                        max_inflight_requests=1000, model_queue_size=1000, **settings)
    key = make_key(data_dir, "admin", "fuzz", database_url=settings.get("database_url"))
    report_dir = data_dir / "st-report"
    cmd = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{svc.url}/openapi.json",
           "-H", f"Authorization: Bearer {key}", "--checks", checks,
           "--phases", phases, "-n", str(max_examples), "--seed", str(seed), "--no-color", "--workers", "1",
           "--request-timeout", "60", "--report", "junit", "--report-dir", str(report_dir)]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "benchmarks.st_hooks", "PYTHONPATH": str(Path.cwd())}
    started = time.perf_counter()
    try:
        # in the data dir: schemathesis keeps a cache folder in its working directory
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600, cwd=data_dir)
    finally:
        svc.terminate()
    elapsed = time.perf_counter() - started
    out = proc.stdout + proc.stderr
    if key in out:  # a failure report might echo headers; keep the key out of saved results
        out = out.replace(key, "ndk_<redacted>")
    cases = _cases(out)
    server_log = svc.log_text()
    statuses: dict[str, int] = {}
    for m in re.finditer(r'"logger": "newsdesk.access".*?"status": (\d+)', server_log):
        statuses[m.group(1)] = statuses.get(m.group(1), 0) + 1
    return {"statuses": dict(sorted(statuses.items())), "exit_code": proc.returncode, "cases": cases,
            "seconds": round(elapsed, 1), "max_examples": max_examples, "phases": phases, "seed": seed,
            "server_5xx_in_log": len(re.findall(r'"status": 5\d\d', server_log)),
            "key_in_server_log": key in server_log, "output_tail": out[-4000:]}


def _cases(out: str) -> dict[str, int]:
    """'Test cases:' block of the CLI summary: N generated, N passed, N failed ..."""
    block = out.split("Test cases:", 1)[-1][:400]
    found = {m.group(2).lower(): int(m.group(1).replace(",", "")) for m in re.finditer(r"(\d[\d,]*) (\w+)", block)}
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-examples", type=int, default=80, help="per operation and phase (-n)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--phases", default=PHASES)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsdesk-fuzz-") as tmp:
        res = run(Path(tmp) / "data", max_examples=args.max_examples, seed=args.seed, phases=args.phases)
    res["load_average"] = os.getloadavg()
    print(json.dumps({k: v for k, v in res.items() if k != "output_tail"}, indent=2))
    print(res["output_tail"][-2500:])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2), encoding="utf-8")
    sys.exit(0 if res["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
