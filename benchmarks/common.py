"""What every benchmark script shares: the machine it ran on and its section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOC_HEAD = ("# Benchmarks\n\nMeasured numbers for Newsdesk. Each section is (re)written by the script it "
            "names; edit the scripts, not the numbers.\n")


def machine() -> dict[str, str]:
    """CPU count and model, RAM, OS and Python: printed beside every measured number."""
    cpu = mem = "unknown"
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "unknown")
        mem = next((f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")),
                   "unknown")
    except OSError:
        pass
    return {"nproc": str(len(os.sched_getaffinity(0))), "cpu": cpu, "ram": mem,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def write_section(path: Path, section: str, marker: str) -> None:
    """Replace the ``<!-- marker:start -->`` ... ``<!-- marker:end -->`` section of ``path`` (or
    append it), atomically.  ``section`` includes both marker lines."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    doc = path.read_text(encoding="utf-8") if path.exists() else DOC_HEAD
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        doc = head + section + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, path)


def machine_line(m: dict[str, str] | None = None) -> str:
    """The machine in one line: '2 CPUs (AMD EPYC ...), 23.5 GiB RAM, Linux 6.x, Python 3.11.7'."""
    m = m or machine()
    return f"{m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['os']}, Python {m['python']}"


def idle_note() -> str:
    """Whether the machine was declared idle (the file /tmp/machine_idle) when the run started."""
    return ("idle (/tmp/machine_idle present)" if Path("/tmp/machine_idle").exists() else
            "shared with other jobs (/tmp/machine_idle absent: compare ratios, not absolute times)")


def commit() -> str:
    """The short hash of the checked-out commit ('unknown' outside git)."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 1]; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def marked(marker: str, body: str) -> str:
    """``body`` between the start and end markers that :func:`write_section` looks for."""
    return f"<!-- {marker}:start -->\n{body.rstrip()}\n<!-- {marker}:end -->"


def add_report_args(ap: argparse.ArgumentParser, notes: str) -> None:
    """The options every scale benchmark takes: where to work, and where its results go."""
    ap.add_argument("--workdir", type=Path, default=None, help="where the temp stores go (default: $TMPDIR)")
    ap.add_argument("--json", type=Path, default=None, help="also dump the raw numbers as JSON")
    ap.add_argument("--write", type=Path, default=None, help="write/replace the script's section of this file")
    ap.add_argument("--render-json", type=Path, default=None, help="do not measure: render an earlier --json")
    ap.add_argument("--notes", default=None, help=notes)


def measure_and_report(args: argparse.Namespace, argv: list[str] | None, prog: str, marker: str,
                       measure: Callable[[Path], dict[str, Any]], render: Callable[[dict[str, Any]], str]) -> None:
    """Run ``measure(workdir)`` (or load ``--render-json``), stamp the result with the date, machine,
    load and command, then print it rendered and write it where ``add_report_args``' options say."""
    if args.render_json:
        res = json.loads(args.render_json.read_text(encoding="utf-8"))
    else:
        started = datetime.now(UTC)
        load_before = os.getloadavg()[0]
        res = measure(args.workdir or Path(tempfile.gettempdir()))
        res.update({"date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine_line(), "idle": idle_note(),
                    "commit": commit(), "load_before": load_before, "load_after": os.getloadavg()[0],
                    "command": f"python -m {prog} " + " ".join(argv if argv is not None else sys.argv[1:])})
        if args.json:
            args.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
    if args.notes:
        res["notes"] = args.notes
    text = render(res)
    print(text)
    if args.write:
        write_section(args.write, marked(marker, text), marker)
