"""Prefill and decode speed of the llama.cpp build installed in *this* interpreter (issue 19).

Loads the local GGUF twice, with llama.cpp's extra (repacked) weight buffers on and off, and times
a 500-token prefill and 48 decoded tokens, three times each, with 2 threads. To compare builds,
install each in its own venv and run this script with each venv's python, alternating:

    python -m benchmarks.llama_build_bench          # prints one JSON line

The compile-time features (``llama_print_system_info()``) are printed with the numbers, so a
result always says which build it measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
MODEL = Path(os.environ.get("NEWSDESK_CACHE_DIR", Path.home() / ".cache" / "newsdesk")) / "models" / \
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
TEXT = "The council met on Tuesday and approved the budget for the coming year after a long debate. " * 40


def measure(llama_cpp: object, extra: bool, rounds: int = 3) -> dict[str, float]:
    from service.llm.build import without_extra_buffers

    guard = contextlib.nullcontext() if extra else without_extra_buffers(llama_cpp)
    with guard:
        llm = llama_cpp.Llama(model_path=str(MODEL), n_ctx=2048, n_threads=2, n_threads_batch=2, seed=1,  # type: ignore[attr-defined]
                              verbose=False)
    toks = llm.tokenize(TEXT.encode())[:500]
    prefill, decode = [], []
    for _ in range(rounds):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(toks)
        prefill.append(len(toks) / (time.perf_counter() - t0))
        t0, n = time.perf_counter(), 0
        for _tok in llm.generate(toks, temp=0.0):  # the prompt is cached: sampling starts at once
            n += 1
            if n == 48:
                break
        decode.append(n / (time.perf_counter() - t0))
    llm.close()
    return {"prefill_tok_s": round(statistics.median(prefill), 1), "decode_tok_s": round(statistics.median(decode), 1)}


def main() -> int:
    import llama_cpp

    out = {"build": llama_cpp.llama_print_system_info().decode().strip(), "load_before": os.getloadavg()[0],
           "extra buffers on": measure(llama_cpp, True), "extra buffers off": measure(llama_cpp, False),
           "load_after": os.getloadavg()[0]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
