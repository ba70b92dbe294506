"""Shared bits of the benchmark reports: the machine line, percentiles, and replacing a script's
own section of docs/benchmarks.md between its start and end markers."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def machine_line() -> str:
    """'2 CPUs (AMD EPYC ...), 23.5 GiB RAM, Linux 6.x, Python 3.11.7'."""
    cpu = "unknown CPU"
    mem = "unknown RAM"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
        kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal:")))
        mem = f"{kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{len(os.sched_getaffinity(0))} CPUs ({cpu}), {mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def idle_note() -> str:
    """Whether the machine was declared idle (/tmp/machine_idle) when the run started."""
    return "idle (/tmp/machine_idle present)" if Path("/tmp/machine_idle").exists() else \
        "shared with other jobs (/tmp/machine_idle absent: compare ratios, not absolute times)"


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 1]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def replace_section(path: Path, start: str, end: str, body: str) -> None:
    """Write ``body`` between the markers (appending the section when they are missing)."""
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"{start}\n{body.rstrip()}\n{end}"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        doc = head + section + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, path)


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
