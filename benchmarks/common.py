"""What every benchmark script shares: the machine it ran on and its section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

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
