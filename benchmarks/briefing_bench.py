"""A day's briefing with the embedded model: seconds per story, briefing prompt v1 against v2.

    python -m benchmarks.briefing_bench [--day 2021-07-22] [--versions v1,v2] [--write docs/benchmarks.md]

One process, one store: the seed AllSides day (``seeds/allsides-<day>.jsonl``, 12 outlet articles)
is ingested once, then the briefing is built with each prompt version in turn, in the order given
and again reversed (so neither version always runs on a hotter machine).  v1 asks the model for
every story's headline and key points (one call per story); v2 extracts the key points (central,
verified, contested pairs kept together) and asks the model only for the headlines, all stories
in one call.  Beside the time, the quality the briefing must keep: points and their support, quote
fidelity, loaded words, contested claims kept whole.  Run it alone: 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import machine, write_section
from service.config import REPO_ROOT, Settings
from service.generation.briefing import BriefingParams, build_briefing
from service.ingest.parse import read_path
from service.ingest.pipeline import ingest_batch
from service.runtime import build_services

MARKER = "briefing-bench"


def quality(services: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """What a reader relies on, from the briefing payload itself."""
    points = [p for s in payload["stories"] for p in s["key_points"]]
    perspectives = [p["emphasis"] for s in payload["stories"] for p in s["perspectives"]]
    faithful = total = 0
    for c in payload["citations"]:
        row = services.catalog.get_article(c["article_id"])
        total += 1
        faithful += int(row is not None and row["text"][c["start"] : c["end"]] == c["quote"])
    neutral = payload["neutrality"]
    return {
        "stories": len(payload["stories"]),
        "key_points": len(points),
        "perspectives": len(perspectives),
        "support_mean": round(statistics.fmean(p["support"] for p in points + perspectives), 3)
        if points + perspectives else None,
        "support_min": round(min(p["support"] for p in points + perspectives), 3) if points + perspectives else None,
        "quote_fidelity": round(faithful / total, 3) if total else None,
        "citations": total,
        "loaded_words": neutral["loaded_introduced"],
        "attribution_kept": f"{neutral['attribution_kept']}/{neutral['attributed_in_sources']}",
        "contested_complete": f"{neutral.get('contested_complete', 0)}/{neutral.get('contested_touched', 0)}",
        "headlines_from_model": sum(s["headline_from"] == "model" for s in payload["stories"]),
        "prompt_tokens": payload["usage"].get("prompt_tokens"),
        "completion_tokens": payload["usage"].get("completion_tokens"),
        "headlines": [s["headline"] for s in payload["stories"]],
    }


def run(day: str, versions: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsdesk-briefing-bench-") as tmp:
        # in process: each build resets the model's context below, which the worker process does not expose
        services = build_services(Settings(data_dir=Path(tmp), llm_backend="local", local_in_process=True))
        raw = read_path(REPO_ROOT / "seeds" / f"allsides-{day}.jsonl")
        ingest_batch(services.store, [(r.origin, r.data) for r in raw], max_chars=services.settings.max_article_chars)
        services.backend("local").warm()  # type: ignore[attr-defined]  # model load is not the briefing's time
        runs: dict[str, list[float]] = {v: [] for v in versions}
        out: dict[str, Any] = {}
        slot = services.backend("local").in_process._slot  # type: ignore[attr-defined]
        for v in [*versions, *reversed(versions)]:
            # every build starts from an empty context: a repeated identical prompt would otherwise
            # find its whole KV cache still there (the model stays loaded, as in a running service)
            slot.prefixes.clear()
            slot.llama.n_tokens = 0
            t0 = time.perf_counter()
            payload = build_briefing(services, BriefingParams(date.fromisoformat(day), "UTC", prompt_version=v))
            runs[v].append(time.perf_counter() - t0)
            out[v] = quality(services, payload) | {"timings": payload["timings"]}
        services.close()
    for v, secs in runs.items():
        out[v]["seconds"] = [round(s, 1) for s in secs]
        out[v]["median_s"] = round(statistics.median(secs), 1)
        out[v]["s_per_story"] = round(out[v]["median_s"] / max(out[v]["stories"], 1), 1)
    return out


def render(res: dict[str, Any]) -> str:
    m, r = res["machine"], res["runs"]
    vs = list(r)
    lines = [f"<!-- {MARKER}:start -->", "## A day's briefing with the embedded model (issue 11)", "",
             f"Measured {res['date']} with `python -m benchmarks.briefing_bench --day {res['day']}`; {m['nproc']} CPUs "
             f"{m['cpu']}, {m['ram']} RAM; load average {res['load_before']:.2f} before, {res['load_after']:.2f} "
             f"after. AllSides {res['day']} (`seeds/allsides-{res['day']}.jsonl`), Qwen2.5-Coder-1.5B Q4_K_M, model "
             "loaded beforehand, each build from an empty context; each version run twice (order v1 v2 v2 v1), "
             "median shown.", "",
             "| | " + " | ".join(f"briefing@{v}" for v in vs) + " |", "|---|" + "---|" * len(vs)]

    rows: list[tuple[str, Any]] = [
        ("seconds (median)", lambda x: x["median_s"]),
        ("seconds per story", lambda x: x["s_per_story"]),
        ("runs (s)", lambda x: x["seconds"]),
        ("stories", lambda x: x["stories"]),
        ("key points / perspectives", lambda x: f"{x['key_points']} / {x['perspectives']}"),
        ("support of points and perspectives, mean (min)", lambda x: f"{x['support_mean']} ({x['support_min']})"),
        ("quote fidelity (citations)", lambda x: f"{x['quote_fidelity']} ({x['citations']})"),
        ("loaded words in points", lambda x: x["loaded_words"]),
        ("attribution kept (points whose source attributes)", lambda x: x["attribution_kept"]),
        ("contested pairs kept whole", lambda x: x["contested_complete"]),
        ("headlines written by the model", lambda x: x["headlines_from_model"]),
        ("prompt / completion tokens", lambda x: f"{x['prompt_tokens']} / {x['completion_tokens']}"),
    ]
    lines += [f"| {name} | " + " | ".join(str(cell(r[v])) for v in vs) + " |" for name, cell in rows]
    if len(vs) == 2:
        a, b = (r[v]["median_s"] for v in vs)
        lines += ["", f"{vs[0]} / {vs[1]} time: {a / max(b, 1e-9):.1f}× (target: a 4-story day ≤ 60 s)."]
    for v in vs:
        lines += ["", f"Headlines ({v}): " + "; ".join(f"“{h}”" for h in r[v]["headlines"])]
    lines.append(f"<!-- {MARKER}:end -->")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.briefing_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--day", default="2021-07-22")
    ap.add_argument("--versions", default="v1,v2")
    ap.add_argument("--write", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    runs = run(args.day, args.versions.split(","))
    res = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "day": args.day, "machine": machine(),
           "load_before": load_before, "load_after": os.getloadavg()[0], "runs": runs}
    text = render(res)
    print(text)
    if args.write:
        write_section(args.write, text, MARKER)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
