"""The embedded model where users wait: time to first token, decode speed, seed questions end to end.

Three measurements, in one process, on the same GGUF and the same rendered prompts:

1. **Ours vs llama-cpp-python direct.** The answer prompt of a seed question through
   :class:`LocalBackend` (streaming) and through ``Llama.create_chat_completion`` called directly:
   time to first token cold (empty context) and warm (the system prompt already in the KV
   cache), and decode tokens/s.  The ratio ours/direct is what the backend costs.
2. **Prefix states.** An answer prompt right after a summary prompt (the KV cache holds the
   wrong prefix): time to first token with the saved prefix state restored, against the same
   sequence with prefix states switched off.
3. **Seed questions end to end** (retrieve -> select -> write -> verify, streamed), each asked
   once through the model worker: p50 / max latency and time to first token.
4. **Worker vs in process** (issue 19): the same seed questions answered with llama.cpp in the
   model worker process and in this process, alternating which goes first, in the same run:
   the cost of the process boundary in TTFT and end-to-end p50.

``python -m benchmarks.local_model_bench --write docs/benchmarks.md`` (run it alone: 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import machine, write_section
from service.config import REPO_ROOT, Settings
from service.generation.answer import AnswerResult, AskParams, answer_stream, choose, prepare
from service.generation.summarize import SummaryParams, summarize
from service.ingest.parse import read_path
from service.ingest.pipeline import ingest_batch
from service.llm import engine as local
from service.llm.base import ChatBackend, ChatMessage
from service.llm.local import LocalBackend
from service.runtime import Services, build_services

MARKER = "local-model-bench"
SEED_QUESTIONS = [
    "How many troops did North Korea send to Russia, according to intelligence officials?",
    "Did Russia retake Kursk?",
    "What did Putin say about the North Korean troops?",
    "When did North Korea first confirm that it had deployed troops?",
    "What does the mutual defense treaty require?",
    "How many North Korean soldiers were killed or wounded, according to South Korea?",
    "What did South Korea's Unification Ministry call on North Korea to do?",
    "What did Kremlin spokesman Dmitry Peskov say?",
    "What does Trump think about Putin and the war?",
    "What could Russia give North Korea in return, according to South Korea and the U.S.?",
]


def seeded_services(data_dir: Path) -> Services:
    services = build_services(Settings(data_dir=data_dir, llm_backend="local"))
    raw = read_path(REPO_ROOT / "seeds" / "north-korea-troops-kursk.txt")
    ingest_batch(services.store, [(r.origin, r.data) for r in raw], max_chars=services.settings.max_article_chars)
    return services


def stream_ttft(gen: Any) -> tuple[float, float, int]:
    """(time to first delta, total, deltas) of an iterator of text deltas."""
    t0 = time.perf_counter()
    first, n = None, 0
    for _ in gen:
        if first is None:
            first = time.perf_counter() - t0
        n += 1
    return first or 0.0, time.perf_counter() - t0, n


def reset(llama: Any) -> None:
    llama.n_tokens = 0  # the next call evaluates its whole prompt


def in_process(services: Services) -> LocalBackend:
    """A local backend running llama.cpp in this process (timed against llama.cpp called directly)."""
    backend = LocalBackend(services.settings.model_copy(update={"local_in_process": True}))
    backend.warm()
    return backend


def ours_vs_direct(backend: LocalBackend, before: list[ChatMessage], messages: list[ChatMessage], max_tokens: int,
                   rounds: int) -> dict[str, Any]:
    """``messages`` timed cold (empty context) and warm (right after ``before``, another seed
    question's prompt: the model loaded, the context holding the shared system prompt)."""
    inner = backend.in_process
    assert inner is not None
    llama: Any = inner._slot.llama
    rows: dict[str, list[tuple[float, float, int]]] = {"ours cold": [], "ours warm": [], "direct cold": [],
                                                       "direct warm": []}

    def ours(msgs: list[ChatMessage]) -> tuple[float, float, int]:
        return stream_ttft(backend.stream(msgs, temperature=0.0, max_tokens=max_tokens))

    def direct(msgs: list[ChatMessage]) -> tuple[float, float, int]:
        chunks = llama.create_chat_completion(messages=[m.as_dict() for m in msgs], temperature=0.0,
                                              max_tokens=max_tokens, stream=True, seed=local.SEED)
        return stream_ttft(c for c in chunks if c["choices"][0].get("delta", {}).get("content"))

    for r in range(rounds):  # alternate which goes first, so neither always runs on a hotter machine
        for name, fn in (("ours", ours), ("direct", direct)) if r % 2 == 0 else (("direct", direct), ("ours", ours)):
            inner._slot.prefixes.clear()
            reset(llama)
            rows[f"{name} cold"].append(fn(messages))
            fn(before)
            rows[f"{name} warm"].append(fn(messages))
    out: dict[str, Any] = {}
    for k, v in rows.items():
        ttft = statistics.median(x[0] for x in v)
        decode = statistics.median((x[2] - 1) / max(x[1] - x[0], 1e-9) for x in v if x[2] > 1)
        out[k] = {"ttft_s": round(ttft, 3), "decode_tok_s": round(decode, 2), "n": len(v)}
    out["ratios"] = {
        "ttft warm ours/direct": round(out["ours warm"]["ttft_s"] / out["direct warm"]["ttft_s"], 3),
        "ttft cold ours/direct": round(out["ours cold"]["ttft_s"] / out["direct cold"]["ttft_s"], 3),
        "decode ours/direct": round(out["ours warm"]["decode_tok_s"] / out["direct warm"]["decode_tok_s"], 3),
    }
    return out


def prefix_states(backend: LocalBackend, messages: list[ChatMessage], rounds: int) -> dict[str, Any]:
    """TTFT of an answer prompt that follows a summary prompt, with and without prefix states."""
    assert backend.in_process is not None
    slot = backend.in_process._slot
    llama: Any = slot.llama
    summary = [ChatMessage("system", "You write neutral news summaries from numbered sentences."),
               ChatMessage("user", "Sources:\n[S1] The council approved the budget.\nSummarise in one sentence.")]
    res: dict[str, list[float]] = {"with prefix states": [], "without": []}
    saved_bytes = 0
    keep = local.PREFIX_STATES
    try:
        for r in range(rounds):
            for mode in ("with prefix states", "without") if r % 2 == 0 else ("without", "with prefix states"):
                local.PREFIX_STATES = keep if mode == "with prefix states" else 0
                slot.prefixes.clear()
                reset(llama)  # a state is saved when its prefix is evaluated, not when the context holds it
                backend.complete(messages, max_tokens=1)  # the answer prefix is saved (with states on)
                backend.complete(summary, max_tokens=1)  # ... then another prompt takes the cache
                res[mode].append(stream_ttft(backend.stream(messages, temperature=0.0, max_tokens=8))[0])
                if mode == "with prefix states":
                    saved_bytes = max(saved_bytes, sum(len(v) for v in slot.prefixes.values()))
    finally:
        local.PREFIX_STATES = keep
    out: dict[str, Any] = {k: round(statistics.median(v), 3) for k, v in res.items()}
    out["ratio without/with"] = round(out["without"] / out["with prefix states"], 2)
    out["saved_state_mb"] = round(saved_bytes / 1e6, 1)
    out["restores"] = slot.prefix_hits
    return out


def ask_timed(services: Services, q: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    first = None
    final: AnswerResult | None = None
    for item in answer_stream(services, AskParams(q, model="local")):
        if isinstance(item, str):
            first = first or time.perf_counter() - t0
        else:
            final = item
    total = time.perf_counter() - t0
    assert final is not None
    return {"question": q, "seconds": round(total, 2), "ttft_s": round(first or total, 2), "mode": final.mode,
            "answer": final.answer[:160]}


def worker_vs_in_process(services: Services, worker: ChatBackend, inproc: ChatBackend,
                         rounds: int) -> dict[str, Any]:
    """Every seed question through both, alternating which goes first; p50 TTFT and total of each."""
    rows: dict[str, list[dict[str, Any]]] = {"worker": [], "in process": []}
    order = [("worker", worker), ("in process", inproc)]
    for r in range(rounds):
        for i, q in enumerate(SEED_QUESTIONS):
            for name, backend in order if (r + i) % 2 == 0 else order[::-1]:
                services.backends["local"] = backend
                rows[name].append(ask_timed(services, q))
    services.backends["local"] = worker
    out: dict[str, Any] = {}
    for name, v in rows.items():
        out[name] = {"ttft_p50_s": round(statistics.median(x["ttft_s"] for x in v), 2),
                     "p50_s": round(statistics.median(x["seconds"] for x in v), 2), "n": len(v)}
    out["same answers"] = sum(a["answer"] == b["answer"] for a, b in zip(rows["worker"], rows["in process"],
                                                                         strict=True))
    out["ratios"] = {k: round(out["worker"][k] / max(out["in process"][k], 1e-9), 3) for k in ("ttft_p50_s", "p50_s")}
    return out


def seed_questions(services: Services) -> dict[str, Any]:
    rows = [ask_timed(services, q) for q in SEED_QUESTIONS]
    secs = [r["seconds"] for r in rows]
    return {"p50_s": round(statistics.median(secs), 2), "max_s": max(secs),
            "ttft_p50_s": round(statistics.median(r["ttft_s"] for r in rows), 2), "questions": rows}


def render(res: dict[str, Any]) -> str:
    m, d, p, q, w = res["machine"], res["direct"], res["prefix"], res["seed"], res["worker"]
    lines = [f"<!-- {MARKER}:start -->", "## The embedded model where users wait (issue 11)", "",
             f"Measured {res['date']} with `python -m benchmarks.local_model_bench`; {m['nproc']} CPUs {m['cpu']}, "
             f"{m['ram']} RAM; load average {res['load_before']:.2f} before, {res['load_after']:.2f} after. "
             f"Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 2 threads, the seed question's answer prompt "
             f"({res['prompt_tokens']} tokens), medians of {d['ours cold']['n']} rounds in alternating order.", "",
             "| | time to first token | decode tokens/s |", "|---|---|---|"]
    lines.insert(-2, "Cold: an empty context. Warm: the model loaded and its context holding another seed "
                     "question's prompt (the shared system prompt is re-used, the evidence and question are new).")
    lines.insert(-2, "")
    for k in ("direct cold", "ours cold", "direct warm", "ours warm"):
        lines.append(f"| {k} | {d[k]['ttft_s']:.2f} s | {d[k]['decode_tok_s']:.1f} |")
    r = d["ratios"]
    lines += ["", f"Ours / direct: warm TTFT {r['ttft warm ours/direct']:.2f}, cold TTFT "
              f"{r['ttft cold ours/direct']:.2f}, decode {r['decode ours/direct']:.2f} (target: decode within 10%, "
              f"warm TTFT ≤ 1.5 s).", "",
              f"Prefix states: an answer prompt right after a summary prompt gets its first token in "
              f"{p['with prefix states']:.2f} s with the saved system-prompt state restored, "
              f"{p['without']:.2f} s without ({p['ratio without/with']:.1f}x); the saved states take "
              f"{p['saved_state_mb']} MB ({p['restores']} restores).", "",
              f"Seed questions end to end (retrieve, score, write, verify; streamed): p50 {q['p50_s']:.1f} s, "
              f"max {q['max_s']:.1f} s, time to first token p50 {q['ttft_p50_s']:.1f} s (target p50 ≤ 5 s).", "",
              "| question | s | TTFT s | mode |", "|---|---|---|---|"]
    lines += [f"| {x['question']} | {x['seconds']:.1f} | {x['ttft_s']:.1f} | {x['mode']} |" for x in q["questions"]]
    lines += ["", f"The model worker against llama.cpp in the server's process (issue 19): the {len(SEED_QUESTIONS)} "
              f"seed questions, each asked {w['worker']['n'] // len(SEED_QUESTIONS)} times through both, alternating "
              f"which goes first.", "", "| | TTFT p50 | end to end p50 |", "|---|---|---|"]
    for k in ("in process", "worker"):
        lines.append(f"| {k} | {w[k]['ttft_p50_s']:.2f} s | {w[k]['p50_s']:.2f} s |")
    lines += ["", f"Worker / in process: TTFT {w['ratios']['ttft_p50_s']:.2f}, end to end {w['ratios']['p50_s']:.2f}; "
              f"{w['same answers']} of {w['worker']['n']} answers identical.", f"<!-- {MARKER}:end -->"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.local_model_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="newsdesk-llm-bench-") as tmp:
        services = seeded_services(Path(tmp))
        worker = services.backend("local")
        worker.warm()  # type: ignore[attr-defined]
        inproc = in_process(services)
        prompts = []
        for q in SEED_QUESTIONS[1::-1]:  # the first question is the one timed, after the second
            prep = prepare(services, AskParams(q, model="local"))
            choose(services, inproc, prep)
            prompts.append(prep.messages[:-1])  # without the assistant prefill: a plain chat prompt
        before, messages = prompts
        llama: Any = inproc.in_process._slot.llama  # type: ignore[union-attr]
        prompt_tokens = len(llama.tokenize(local._chat_prompt(llama, messages)[0].encode(), special=True))
        direct = ours_vs_direct(inproc, before, messages, 48, args.rounds)
        prefix = prefix_states(inproc, messages, args.rounds)
        summarize(services, SummaryParams(article_ids=("north-korea-troops-kursk",), length="short"))  # interleave
        seed = seed_questions(services)
        versus = worker_vs_in_process(services, worker, inproc, args.rounds)
        services.close()
    res = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": machine(), "load_before": load_before,
           "load_after": os.getloadavg()[0], "prompt_tokens": prompt_tokens, "direct": direct, "prefix": prefix,
           "seed": seed, "worker": versus}
    text = render(res)
    print(text)
    if args.write:
        write_section(args.write, text, MARKER)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
