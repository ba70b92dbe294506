"""The service's scale curve on the RealTimeQA corpus (issue 11): ingest cost and /v1/search and
/v1/ask latency as the store grows from 100 to 1,501 articles.

    .venv/bin/python -m benchmarks.scale_curve [--steps 100,200,400,800,1501] [--keep DIR]
                                               [--json PATH] [--write docs/benchmarks.md]

One fresh store (private temp data dir; ``--keep DIR`` leaves it there for ``ask_latency``), the
app built as ``serve`` builds it, with the fake chat backend, driven in-process through
FastAPI's TestClient.  At each step:

1. **ingest** the next rows of ``docs_gcs.jsonl`` with ``ingest_batch`` (what ``POST
   /v1/articles`` and ``newsdesk ingest`` call), with timers around the store's collaborators,
   so a step's cost per article shows whether writing gets dearer as the store grows;
2. **latency**: the 120 RealTimeQA January questions, each sent as ``GET /v1/search?q=..&k=8``
   and as ``POST /v1/ask`` (fake backend), alternating, so both see the same machine state;
   after 5 warm-up pairs.  Wall times are measured around the in-process call (no network);
   the ask's own ``timings`` say where its time goes.

The rows are the corpus in file order; rows without text fail validation and are counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import add_report_args, md_table, measure_and_report, percentile
from benchmarks.ingest_bench import DEFAULT_DATA, Timers, instrument_store, load_rows, to_raw

MARKER = "scale-curve"
QUESTIONS = DEFAULT_DATA.parent / "questions_2023-01.jsonl"
ASK_TARGET_MS = 50.0
ASK_TARGET_RATIO = 1.5


def latency(client: Any, questions: list[str]) -> dict[str, Any]:
    for q in questions[:5]:
        client.get("/v1/search", params={"q": q, "k": 8}).raise_for_status()
        client.post("/v1/ask", json={"question": q, "model": "fake"}).raise_for_status()
    search: list[float] = []
    ask: list[float] = []
    abstained = 0
    parts: dict[str, list[float]] = {}
    for q in questions:
        t = time.perf_counter()
        client.get("/v1/search", params={"q": q, "k": 8}).raise_for_status()
        search.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        r = client.post("/v1/ask", json={"question": q, "model": "fake"})
        ask.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        body = r.json()
        abstained += bool(body.get("abstained"))
        for key, ms in (body.get("timings") or {}).items():
            parts.setdefault(key, []).append(float(ms))

    def stats(xs: list[float]) -> dict[str, float]:
        return {"p50": percentile(xs, 0.5), "p95": percentile(xs, 0.95), "p99": percentile(xs, 0.99),
                "mean": sum(xs) / len(xs)}

    return {"n": len(questions), "search": stats(search), "ask": stats(ask), "abstained": abstained,
            "ask_timings_p50": {k: percentile(v, 0.5) for k, v in parts.items()},
            "ask_timings_p95": {k: percentile(v, 0.95) for k, v in parts.items()}}


def run(steps: list[int], data: Path, keep: Path | None, workdir: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.ingest.pipeline import ingest_batch
    from service.main import create_app
    from service.runtime import build_services
    from vectorstore.embeddings import build_embedder

    rows = load_rows(data, max(steps))
    taken: set[str] = set()
    pairs = [(f"{data.name}:{i + 1}", to_raw(r, taken)) for i, r in enumerate(rows)]
    questions = [json.loads(line)["question_sentence"] for line in QUESTIONS.read_text().splitlines() if line]
    data_dir = keep or Path(tempfile.mkdtemp(prefix="scale-curve-", dir=workdir))
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"--keep {keep} is not empty: the curve starts from an empty store")
    # no rate limits: the benchmark is one client sending 240 requests a step
    settings = Settings(data_dir=data_dir, llm_backend="fake", rate_limit_model="off", rate_limit_default="off")
    embedder = build_embedder(settings.embedder, batch_size=settings.embed_batch_size)
    embedder.embed(["warm up the session", "and the tokenizer"])
    holder: dict[str, Any] = {}

    def factory(s: Settings) -> Any:
        holder["services"] = build_services(s, embedder=embedder)
        return holder["services"]

    out: list[dict[str, Any]] = []
    try:
        with TestClient(create_app(settings, services_factory=factory)) as client:
            services = holder["services"]
            timers = Timers()
            instrument_store(services.store, timers)
            done = 0
            for step in steps:
                part = pairs[done:step]
                before = dict(timers)
                load = os.getloadavg()[0]
                cpu = os.times()
                t = time.perf_counter()
                outcomes = ingest_batch(services.store, part, max_chars=settings.max_article_chars)
                wall = time.perf_counter() - t
                cpu2 = os.times()
                ok = [o for o in outcomes if o.status != "failed"]
                stats = services.store.stats()
                lat = latency(client, questions)
                row = {
                    "articles": stats["articles"], "rows": step, "added": len(ok), "failed": len(outcomes) - len(ok),
                    "sentences_added": sum(o.sentences for o in ok), "chunks_added": sum(o.chunks for o in ok),
                    "sentence_vectors": stats["sentence_vectors"], "chunk_vectors": stats["chunk_vectors"],
                    "ingest_s": wall, "ingest_cpu_s": (cpu2.user - cpu.user) + (cpu2.system - cpu.system),
                    "breakdown": {k: v - before.get(k, 0.0) for k, v in timers.items()},
                    "load": load, "load_after": os.getloadavg()[0], "latency": lat,
                }
                out.append(row)
                done = step
                s, a = lat["search"], lat["ask"]
                print(f"{row['articles']:>5} articles (+{row['added']} in {wall:,.0f} s, "
                      f"{row['sentences_added'] / max(wall, 1e-9):,.0f} sentences/s): search p50/p95 "
                      f"{s['p50']:.1f}/{s['p95']:.1f} ms, ask p50/p95 {a['p50']:.1f}/{a['p95']:.1f} ms "
                      f"({lat['abstained']}/{lat['n']} abstained); load {load:.2f}", file=sys.stderr, flush=True)
    finally:
        if keep is None:
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
            shutil.rmtree(data_dir, ignore_errors=True)
    return {"steps": out, "data": str(data), "kept": str(keep) if keep else None}


def render(res: dict[str, Any]) -> str:
    steps = res["steps"]
    first = steps[0]
    per_first = first["ingest_s"] / max(first["added"], 1)
    ingest_rows, lat_rows = [], []
    for s in steps:
        per = s["ingest_s"] / max(s["added"], 1)
        bd = s["breakdown"]
        embed = sum(v for k, v in bd.items() if k.startswith("embed"))
        upsert = sum(v for k, v in bd.items() if k.startswith("Chroma upsert"))
        delete = bd.get("Chroma delete old versions", 0.0)
        sqlite = sum(v for k, v in bd.items() if k.startswith("SQLite"))
        ingest_rows.append([
            f"{s['articles']:,}", f"+{s['added']:,}", f"{s['sentences_added']:,}", f"{s['ingest_s']:,.1f}",
            f"{per * 1000:,.0f}", f"{per / per_first:.2f}×", f"{s['sentences_added'] / s['ingest_s']:,.0f}",
            f"{embed:,.1f}", f"{upsert:,.1f}", f"{delete:,.2f}", f"{sqlite:,.2f}",
            f"{s['sentence_vectors']:,}", f"{s['load']:.2f}"])
        lat = s["latency"]
        se, a = lat["search"], lat["ask"]
        parts = ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in lat["ask_timings_p50"].items())
        lat_rows.append([
            f"{s['articles']:,}", f"{se['p50']:.1f}", f"{se['p95']:.1f}", f"{a['p50']:.1f}", f"{a['p95']:.1f}",
            f"{a['p95'] / se['p95']:.2f}×", f"{lat['abstained']}/{lat['n']}", parts, f"{s['load_after']:.2f}"])
    last = steps[-1]["latency"]
    ratio = last["ask"]["p95"] / last["search"]["p95"]
    met_ms = last["ask"]["p95"] <= ASK_TARGET_MS
    met_ratio = ratio <= ASK_TARGET_RATIO
    lines = [
        "## Scale curve: ingest and latency from 100 to 1,501 articles (issue 11)", "",
        f"Measured {res['date']} on {res['machine']}, {res['idle']}; commit {res['commit']}. Command: "
        f"`{res['command']}`. 1-min load average before: {res['load_before']:.2f}, after: {res['load_after']:.2f}.",
        "",
        f"One fresh store fed the RealTimeQA corpus (`{res['data']}`) in file order, step by step, through "
        "`ingest_batch` with default settings; after each step the 120 January questions go to `/v1/search` "
        "(k=8) and `/v1/ask` (fake backend), alternating, in-process through the ASGI app.", "",
        "### Ingest, step by step", "",
        "Time per article of each step, against the first step's; the steps' own embedding, Chroma and "
        "SQLite times (timers around the store's collaborators).", "",
        md_table(["articles stored", "step", "sentences", "wall s", "ms / article", "vs first",
                  "sentences/s", "embed s", "Chroma upsert s", "Chroma delete s", "SQLite s",
                  "sentence vectors", "load"], ingest_rows), "",
        "### /v1/search and /v1/ask (fake backend) latency, ms", "",
        md_table(["articles", "search p50", "search p95", "ask p50", "ask p95", "ask / search p95", "ask abstained",
                  "ask server timings p50 (ms)", "load"], lat_rows), "",
        f"**Full corpus target:** /v1/ask p95 {last['ask']['p95']:.1f} ms (goal ≤ {ASK_TARGET_MS:g} ms: "
        f"{'met' if met_ms else 'missed'}); ask / search p95 = {ratio:.2f} (goal ≤ {ASK_TARGET_RATIO}: "
        f"{'met' if met_ratio else 'missed'}).", "",
    ]
    if res.get("notes"):
        lines += [res["notes"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale_curve", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--steps", default="100,200,400,800,1501")
    ap.add_argument("--keep", type=Path, default=None, help="build the store here and leave it (must be empty)")
    add_report_args(ap, notes="a paragraph added under the tables (where it bends)")
    args = ap.parse_args(argv)

    def measure(workdir: Path) -> dict[str, Any]:
        from service.tokens import seed_tiktoken_cache

        seed_tiktoken_cache()
        return run(sorted(int(s) for s in args.steps.split(",")), args.data, args.keep, workdir)

    measure_and_report(args, argv, "benchmarks.scale_curve", MARKER, measure, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
