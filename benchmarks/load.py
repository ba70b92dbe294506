"""Bounded load on loopback: /v1/search and /v1/ask (fake backend) with 1 and 2 workers.

    nice -n 19 .venv/bin/python -m benchmarks.load --out benchmarks/results/load.json

For each (endpoint, workers):
1. **closed loop** -- fixed concurrency, fixed request count, capped duration: throughput and
   p50/p95/p99 latency.  Its throughput is the *sustainable rate*.
2. **open loop at 2x** -- requests sent on a fixed schedule at twice that rate for a fixed time,
   however slowly answers come.  Every answer must be 200, 429 or 503 (shed); anything else (a
   5xx that is not 503, a timeout, a reset) is an error.  Run twice: with the rate limits off
   (the worker's in-flight cap and model queue shed with 503) and with a per-client rate limit
   at the sustainable rate (the limiter sheds with 429).

Every service uses its own data dir, a ``chroma run`` server (for 1 and 2 workers alike, so they
compare), the seed article plus synthetic articles, and ``nice -n 19``.  The load generator is
one asyncio process on the same 2 cores: its own CPU use lowers the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import Service, start_service, synthetic_articles
from vectorstore.server import ChromaServer

QUESTIONS = [
    "How many troops did North Korea send to Russia?", "What did city officials announce?",
    "Did the central bank approve the budget?", "Why was the fuel subsidy suspended?",
    "Who questioned the rail contract?", "What happened to the water plan?", "Did Russia retake Kursk?",
    "When were new tariffs approved?", "What did researchers review?", "Which flood defences were expanded?",
]


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))], 1)


def request_for(endpoint: str, rnd: random.Random) -> tuple[str, str, dict[str, Any]]:
    q = rnd.choice(QUESTIONS)
    if endpoint == "search":
        return "GET", "/v1/search", {"params": {"q": q, "k": 8}}
    return "POST", "/v1/ask", {"json": {"question": q}}


async def _one(client: httpx.AsyncClient, endpoint: str, rnd: random.Random, out: dict[str, Any]) -> None:
    method, path, kw = request_for(endpoint, rnd)
    t0 = time.perf_counter()
    try:
        r = await client.request(method, path, **kw)
        status = str(r.status_code)
    except httpx.TimeoutException:
        status = "timeout"
    except httpx.TransportError as exc:
        status = type(exc).__name__
    ms = (time.perf_counter() - t0) * 1000
    out["statuses"][status] += 1
    if status == "200":
        out["ok_ms"].append(ms)


async def closed_loop(url: str, endpoint: str, *, concurrency: int, requests: int, max_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"statuses": Counter(), "ok_ms": []}
    rnd = random.Random(1)
    left = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        deadline = t0 + max_s

        async def worker() -> None:
            nonlocal left
            while left > 0 and time.perf_counter() < deadline:
                left -= 1
                await _one(client, endpoint, rnd, out)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    done = sum(out["statuses"].values())
    return {"mode": "closed", "concurrency": concurrency, "requests": done, "seconds": round(elapsed, 2),
            "throughput_rps": round(out["statuses"]["200"] / elapsed, 1), "statuses": dict(out["statuses"]),
            "p50_ms": pct(out["ok_ms"], 50), "p95_ms": pct(out["ok_ms"], 95), "p99_ms": pct(out["ok_ms"], 99)}


async def open_loop(url: str, endpoint: str, *, rate: float, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"statuses": Counter(), "ok_ms": []}
    rnd = random.Random(2)
    n = int(rate * seconds)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(client, endpoint, rnd, out)))
        sent_s = time.perf_counter() - t0
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    st = out["statuses"]
    errors = sum(v for k, v in st.items() if k not in ("200", "429", "503"))
    return {"mode": "open", "offered_rps": round(rate, 1), "requests": n, "send_seconds": round(sent_s, 2),
            "seconds": round(elapsed, 2), "ok_rps": round(st["200"] / elapsed, 1), "statuses": dict(st),
            "shed": st["429"] + st["503"], "errors": errors,
            "p50_ms": pct(out["ok_ms"], 50), "p95_ms": pct(out["ok_ms"], 95), "p99_ms": pct(out["ok_ms"], 99)}


def seed_corpus(svc: Service, articles: int) -> None:
    docs = synthetic_articles(articles, prefix="l-", seed=5)
    with svc.client(timeout=600) as c:
        for i in range(0, len(docs), 50):
            r = c.post("/v1/articles", json=docs[i : i + 50])
            r.raise_for_status()


def run_one(root: Path, endpoint: str, workers: int, *, concurrency: int, requests: int, max_s: float,
            open_s: float, articles: int) -> dict[str, Any]:
    data = root / f"{endpoint}-{workers}"
    res: dict[str, Any] = {"endpoint": endpoint, "workers": workers}
    with ChromaServer(data / "chroma", log_file=root / f"chroma-{endpoint}-{workers}.log", nice=19) as chroma:
        base = {"chroma_host": chroma.host, "chroma_port": chroma.port, "log_format": "json"}
        svc = start_service(data, workers=workers, seed=True, rate_limit_default="off", rate_limit_model="off", **base)
        try:
            seed_corpus(svc, articles)
            asyncio.run(closed_loop(svc.url, endpoint, concurrency=concurrency, requests=20, max_s=30))  # warm-up
            res["closed"] = asyncio.run(closed_loop(svc.url, endpoint, concurrency=concurrency, requests=requests,
                                                    max_s=max_s))
            sustainable = max(1.0, res["closed"]["throughput_rps"])
            res["open_2x_no_rate_limit"] = asyncio.run(open_loop(svc.url, endpoint, rate=2 * sustainable,
                                                                 seconds=open_s))
        finally:
            svc.terminate()
        bucket = "rate_limit_model" if endpoint == "ask" else "rate_limit_default"
        other = "rate_limit_default" if endpoint == "ask" else "rate_limit_model"
        limited = {bucket: f"{max(1, int(sustainable))}/second", other: "off"}  # one client: all of it is one key
        svc = start_service(data, workers=workers, seed=False, log_name="serve-limited.log", **base, **limited)
        try:
            res["open_2x_rate_limited"] = asyncio.run(open_loop(svc.url, endpoint, rate=2 * sustainable,
                                                                seconds=open_s))
            res["open_2x_rate_limited"]["rate_limit"] = limited[bucket]
        finally:
            svc.terminate()
    return res


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| endpoint | workers | closed: conc / n | rps | p50 / p95 / p99 ms | 2x open, no limit: offered rps "
             "→ 200 / 503 / 429 / errors | p95 ms | 2x open, rate-limited: 200 / 429 / 503 / errors |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, o, lim = r["closed"], r["open_2x_no_rate_limit"], r["open_2x_rate_limited"]
        s, sl = o["statuses"], lim["statuses"]
        lines.append(
            f"| /v1/{r['endpoint']} | {r['workers']} | {c['concurrency']} / {c['requests']} | {c['throughput_rps']} | "
            f"{c['p50_ms']} / {c['p95_ms']} / {c['p99_ms']} | {o['offered_rps']} → {s.get('200', 0)} / "
            f"{s.get('503', 0)} / {s.get('429', 0)} / {o['errors']} | {o['p95_ms']} | "
            f"{sl.get('200', 0)} / {sl.get('429', 0)} / {sl.get('503', 0)} / {lim['errors']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoints", default="search,ask")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--open-seconds", type=float, default=15.0)
    ap.add_argument("--articles", type=int, default=200, help="synthetic articles indexed besides the seed")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = []
    with tempfile.TemporaryDirectory(prefix="newsdesk-load-") as tmp:
        for endpoint in args.endpoints.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                res = run_one(Path(tmp), endpoint, workers, concurrency=args.concurrency, requests=args.requests,
                              max_s=args.max_seconds, open_s=args.open_seconds, articles=args.articles)
                res["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
                print(json.dumps(res), flush=True)
                results.append(res)
    report = {"started": started, "load_average_before": load_before, "cpus": os.cpu_count(),
              "args": vars(args) | {"out": str(args.out)}, "results": results}
    print(markdown(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    errors = sum(r[k]["errors"] for r in results for k in ("open_2x_no_rate_limit", "open_2x_rate_limited"))
    sys.exit(0 if errors == 0 else 1)


if __name__ == "__main__":
    main()
