"""What /v1/chat/completions adds to /v1/ask: p50 and p95, fake backend, one run.

A real ``newsdesk serve --seed`` (fake backend, so no model time) on loopback; the same
questions go to ``/v1/ask`` and ``/v1/chat/completions``, streamed and not, in turn (round
robin, so machine noise falls on all four alike).  The added latency is paired: each chat
request minus the ``/v1/ask`` request of the same question in the same round.

    python -m benchmarks.chat_overhead [--rounds 30] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import add_report_args, md_table, measure_and_report, percentile
from benchmarks.harness import start_service

MARKER = "chat-overhead"
QUESTIONS = [
    "Did Russia retake Kursk?",
    "Who thanked North Korea for sending troops to fight alongside Russia?",
    "What did Putin say about North Korea's soldiers?",
    "Why did weekly jobless claims rise?",
    "Who won the 2022 World Cup?",  # an abstention
]


def _ask(c: httpx.Client, q: str, stream: bool) -> None:
    body = {"question": q, "stream": stream}
    if stream:
        with c.stream("POST", "/v1/ask", json=body) as r:
            r.raise_for_status()
            for _ in r.iter_bytes():
                pass
    else:
        c.post("/v1/ask", json=body).raise_for_status()


def _chat(c: httpx.Client, q: str, stream: bool) -> None:
    body = {"model": "newsdesk", "messages": [{"role": "user", "content": q}], "stream": stream}
    if stream:
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            r.raise_for_status()
            tail = b""
            for chunk in r.iter_bytes():
                tail = (tail + chunk)[-64:]
            assert b"data: [DONE]" in tail
    else:
        r = c.post("/v1/chat/completions", json=body)
        r.raise_for_status()
        assert r.json()["choices"][0]["message"]["content"]


def measure(workdir: Path, rounds: int) -> dict[str, Any]:
    svc = start_service(workdir / "chat-overhead", seed=True, nice=0, rate_limit_default="off", rate_limit_model="off")
    times: dict[str, list[float]] = {k: [] for k in ("ask", "chat", "ask_stream", "chat_stream")}
    try:
        with svc.client(timeout=60) as c:
            time.sleep(5)  # the seed day's briefing is built in the background at start
            for q in QUESTIONS:  # warm-up
                _ask(c, q, False)
                _chat(c, q, False)
            for _ in range(rounds):
                for q in QUESTIONS:
                    for key, fn, stream in (("ask", _ask, False), ("chat", _chat, False),
                                            ("ask_stream", _ask, True), ("chat_stream", _chat, True)):
                        t = time.perf_counter()
                        fn(c, q, stream)
                        times[key].append((time.perf_counter() - t) * 1000)
    finally:
        svc.terminate()
    added = {"json": [b - a for a, b in zip(times["ask"], times["chat"], strict=True)],
             "stream": [b - a for a, b in zip(times["ask_stream"], times["chat_stream"], strict=True)]}
    stats = {k: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95), "mean": statistics.fmean(v), "n": len(v)}
             for k, v in {**times, **{f"added_{k}": v for k, v in added.items()}}.items()}
    return {"rounds": rounds, "questions": len(QUESTIONS), "stats": stats}


def render(res: dict[str, Any]) -> str:
    s = res["stats"]
    rows = [
        ["/v1/ask, JSON", f"{s['ask']['p50']:.1f}", f"{s['ask']['p95']:.1f}", ""],
        ["/v1/chat/completions, JSON", f"{s['chat']['p50']:.1f}", f"{s['chat']['p95']:.1f}",
         f"{s['chat']['p50'] / s['ask']['p50']:.2f}× / {s['chat']['p95'] / s['ask']['p95']:.2f}×"],
        ["added by chat, JSON (paired)", f"{s['added_json']['p50']:.1f}", f"{s['added_json']['p95']:.1f}", ""],
        ["/v1/ask, streamed to the end", f"{s['ask_stream']['p50']:.1f}", f"{s['ask_stream']['p95']:.1f}", ""],
        ["/v1/chat/completions, streamed to [DONE]", f"{s['chat_stream']['p50']:.1f}",
         f"{s['chat_stream']['p95']:.1f}",
         f"{s['chat_stream']['p50'] / s['ask_stream']['p50']:.2f}× / "
         f"{s['chat_stream']['p95'] / s['ask_stream']['p95']:.2f}×"],
        ["added by chat, streamed (paired)", f"{s['added_stream']['p50']:.1f}", f"{s['added_stream']['p95']:.1f}", ""],
    ]
    head = (f"## /v1/chat/completions over /v1/ask (issue 20)\n\n"
            f"Measured {res['date']} on {res['machine']}; commit {res['commit']}. Machine: {res['idle']}. "
            f"1-min load average before: {res['load_before']:.2f}, after: {res['load_after']:.2f}.\n\n"
            f"Command: `{res['command']}`\n\n"
            f"A real `newsdesk serve --seed` on loopback with the fake backend (no model time); "
            f"{res['questions']} seed-day questions (one abstains) × {res['rounds']} rounds, the four kinds of "
            f"request in turn. Milliseconds, wall time at the client.\n\n")
    notes = f"\n{res['notes']}\n" if res.get("notes") else ""
    return head + md_table(["request", "p50 ms", "p95 ms", "chat / ask (p50 / p95)"], rows) + "\n" + notes


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.chat_overhead", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    add_report_args(ap, "free text appended to the section")
    args = ap.parse_args(argv)
    measure_and_report(args, argv, "benchmarks.chat_overhead", MARKER,
                       lambda work: measure(work, args.rounds), render)


if __name__ == "__main__":
    main()
