"""Chroma query latency from 10k to 500k sentence vectors (issue 11, the scale curve).

    .venv/bin/python -m benchmarks.chroma_scale [--sizes 10000,20000,50000,100000,200000,500000]
                                                [--queries 300] [--json PATH] [--write docs/benchmarks.md]

One embedded Chroma collection opened exactly as the service opens its sentence collection
(``open_collections``: cosine HNSW, our embedding function), grown in steps to each size with
``upsert`` batches of 4,000, the batch the store writes.  Every vector carries metadata shaped
like the service's (article id, version, title, source, date, sentence index) and, like the
service's sentence rows, no document.  At each size the same kind of query the retriever
sends: ``n_results=40`` with metadatas and distances, unfiltered and with a date-range
``where`` (about a month of a year: ~8% of the vectors), timed one after the other.

Vectors are synthetic and clustered (uniformly random ones give HNSW recall@10 of only 0.61,
see SCALE_OUT.md): topics of ~2,000 vectors, articles of ~85 sentences inside a topic, sentences
around their article (cosine ~0.4 between two sentences of an article, ~0.2 within a topic, ~0
otherwise, roughly what MiniLM gives real news sentences).  A query is a new sentence of a
random article.  Recall 10@40 (are the exact 10 nearest, by numpy over the same vectors and
filter, among the 40 returned?) shows what HNSW's speed costs in accuracy.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import add_report_args, md_table, measure_and_report, percentile

MARKER = "chroma-scale"
DIM = 384
PER_ARTICLE = 85
PER_TOPIC = 2000
BATCH = 4000
BLOCK = 10000  # vectors are generated in fixed blocks, so vector i never depends on how it is asked for
SENTENCE_NOISE = 1.2  # cosine ~0.64 to the article's centre, ~0.4 between two of its sentences
QUERY_NOISE = 0.6  # cosine ~0.85 to the sentence a query is about
YEAR_START = 1672531200  # 2023-01-01 UTC


class Corpus:
    """Deterministic clustered unit vectors, generated in order (vector i is always the same)."""

    def __init__(self, total: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.articles = -(-total // PER_ARTICLE)
        topics = max(1, total // PER_TOPIC)
        topic_vecs = _unit(rng.standard_normal((topics, DIM)))
        self.article_topic = rng.integers(0, topics, self.articles)
        # noise of norm ~1 around each parent: cosine ~0.7 to the parent
        self.centres = _unit(topic_vecs[self.article_topic] + _noise(rng, self.articles))
        self.published = YEAR_START + rng.integers(0, 365 * 86400, self.articles)
        self.sources = rng.integers(0, 20, self.articles)
        self.seed = seed

    def vectors(self, start: int, stop: int) -> np.ndarray:
        """Vectors start..stop-1; vector i comes from block i // BLOCK, whatever the range asked."""
        first, last = start // BLOCK, (stop - 1) // BLOCK
        blocks = np.concatenate([self._block(b) for b in range(first, last + 1)])
        return blocks[start - first * BLOCK : stop - first * BLOCK]

    def _block(self, b: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, b])
        art = np.arange(b * BLOCK, (b + 1) * BLOCK) // PER_ARTICLE
        art = np.minimum(art, self.articles - 1)
        return _unit(self.centres[art] + SENTENCE_NOISE * _noise(rng, BLOCK)).astype(np.float32)

    def rows(self, start: int, stop: int) -> dict[str, list[Any]]:
        vecs = self.vectors(start, stop)
        ids, metas = [], []
        for i in range(start, stop):
            a = i // PER_ARTICLE
            ids.append(f"a{a:06d}@v{a % 997:03d}:{i % PER_ARTICLE}")
            metas.append({"article_id": f"a{a:06d}", "version": f"v{a % 997:03d}", "title": f"Synthetic story {a}",
                          "source": f"outlet-{self.sources[a]}", "published_at": int(self.published[a]),
                          "sentence_index": i % PER_ARTICLE})
        return {"ids": ids, "embeddings": list(vecs), "metadatas": metas}

    def queries(self, n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` questions about stored sentences: each near one target sentence (cosine ~0.85),
        as a question is near the sentence that answers it. Returns (queries, targets)."""
        rng = np.random.default_rng([self.seed, seed, size])
        targets = rng.integers(0, size, n)
        return _unit(self.vectors_at(targets) + QUERY_NOISE * _noise(rng, n)).astype(np.float32), targets

    def vectors_at(self, idx: np.ndarray) -> np.ndarray:
        return np.stack([self._block(int(i) // BLOCK)[int(i) % BLOCK] for i in idx])


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal((n, DIM)) / np.sqrt(DIM)  # each row has norm ~1


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(coll: Any, corpus: Corpus, size: int, n_queries: int, all_vecs: np.ndarray) -> dict[str, Any]:
    qs, _ = corpus.queries(n_queries, size, seed=1)
    month = (YEAR_START + 150 * 86400, YEAR_START + 180 * 86400)
    where = {"$and": [{"published_at": {"$gte": month[0]}}, {"published_at": {"$lt": month[1]}}]}
    art_of = np.arange(size) // PER_ARTICLE
    in_month = (corpus.published[art_of] >= month[0]) & (corpus.published[art_of] < month[1])
    out: dict[str, Any] = {"size": size}
    for label, flt in (("all", None), ("month", where)):
        for q in qs[:10]:  # warm-up: caches and the segment reader
            coll.query(query_embeddings=[q.tolist()], n_results=40, where=flt,
                       include=["metadatas", "distances"])
        times, recalls, firsts = [], [], []
        for q in qs:
            t = time.perf_counter()
            res = coll.query(query_embeddings=[q.tolist()], n_results=40, where=flt,
                             include=["metadatas", "distances"])
            times.append((time.perf_counter() - t) * 1000)
            sims = all_vecs[:size] @ q
            if flt is not None:
                sims = np.where(in_month, sims, -np.inf)
            # are the exact 10 nearest (numpy) among the 40 returned, and the nearest of all?
            k = min(10, int(np.isfinite(sims).sum()))
            exact = np.argpartition(-sims, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
            got = {_index(i) for i in res["ids"][0]}
            recalls.append(len(got & set(exact.tolist())) / max(k, 1))
            firsts.append(float(int(np.argmax(sims)) in got) if k else 1.0)
        out[label] = {"p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95),
                      "p99_ms": percentile(times, 0.99), "mean_ms": float(np.mean(times)),
                      "recall": float(np.mean(recalls)), "nearest": float(np.mean(firsts))}
    out["month_share"] = float(in_month.mean())
    return out


def _index(vector_id: str) -> int:
    art, _, idx = vector_id.partition("@")
    return int(art[1:]) * PER_ARTICLE + int(idx.rsplit(":", 1)[1])


def run(sizes: list[int], n_queries: int, workdir: Path) -> dict[str, Any]:
    from vectorstore.client import SENTENCES, make_client, open_collections
    from vectorstore.embeddings import MiniLMEmbedding

    corpus = Corpus(max(sizes))
    path = Path(tempfile.mkdtemp(prefix="chroma-scale-", dir=workdir))
    client = make_client(path=path)
    coll = open_collections(client, MiniLMEmbedding(), "bench")[SENTENCES]
    all_vecs = corpus.vectors(0, max(sizes))
    steps: list[dict[str, Any]] = []
    have = 0
    try:
        for size in sizes:
            load = os.getloadavg()[0]
            t = time.perf_counter()
            cpu = os.times()
            for start in range(have, size, BATCH):
                coll.upsert(**corpus.rows(start, min(size, start + BATCH)))
            write_s = time.perf_counter() - t
            cpu2 = os.times()
            added = size - have
            have = size
            gc.collect()
            step = measure(coll, corpus, size, n_queries, all_vecs)
            step.update({"added": added, "write_s": write_s, "write_per_s": added / write_s if write_s else 0.0,
                         "write_cpu_s": (cpu2.user - cpu.user) + (cpu2.system - cpu.system),
                         "rss_mb": rss_mb(), "disk_mb": _du(path) / 1e6, "load": load})
            steps.append(step)
            a, m = step["all"], step["month"]
            print(f"{size:>8,} vectors: +{added:,} in {write_s:,.0f} s ({step['write_per_s']:,.0f}/s); "
                  f"query p50/p95 {a['p50_ms']:.1f}/{a['p95_ms']:.1f} ms (recall 10@40 {a['recall']:.3f}); "
                  f"month filter {m['p50_ms']:.1f}/{m['p95_ms']:.1f} ms (recall {m['recall']:.3f}); "
                  f"RSS {step['rss_mb']:,.0f} MB; load {load:.2f}", file=sys.stderr, flush=True)
    finally:
        del coll, client
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        shutil.rmtree(path, ignore_errors=True)
    return {"steps": steps, "queries": n_queries}


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def render(res: dict[str, Any]) -> str:
    steps = res["steps"]
    base = steps[0]
    rows = []
    for s in steps:
        a, m = s["all"], s["month"]
        rows.append([f"{s['size']:,}", f"{a['p50_ms']:.1f}", f"{a['p95_ms']:.1f}", f"{a['p99_ms']:.1f}",
                     f"{a['p95_ms'] / base['all']['p95_ms']:.2f}×", f"{a['nearest']:.3f}", f"{a['recall']:.3f}",
                     f"{m['p50_ms']:.1f}", f"{m['p95_ms']:.1f}", f"{m['nearest']:.3f}",
                     f"{s['write_per_s']:,.0f}", f"{s['rss_mb']:,.0f}", f"{s['disk_mb']:,.0f}", f"{s['load']:.2f}"])
    headers = ["vectors", "p50 ms", "p95 ms", "p99 ms", "p95 vs first", "nearest found", "recall 10@40",
               "month p50 ms", "month p95 ms", "month nearest found", "upserts/s (this step)", "RSS MB", "disk MB",
               "load"]
    lines = [
        "## Chroma query latency, 10k to 500k sentence vectors (issue 11)", "",
        f"Measured {res['date']} on {res['machine']}, {res['idle']}; commit {res['commit']}; chromadb "
        f"{res['chromadb']}. Command: `{res['command']}`. 1-min load average before: {res['load_before']:.2f}, "
        f"after: {res['load_after']:.2f}.", "",
        f"One embedded collection opened as the service opens its sentence collection, grown by upserts of "
        f"{BATCH:,}; {res['queries']} queries per size, `n_results=40` with metadatas and distances "
        "(what the retriever asks of the sentence collection). *month*: the same queries with a "
        "`published_at` range `where` "
        f"(~{steps[-1]['month_share'] * 100:.0f}% of the vectors). Synthetic clustered vectors (articles of "
        f"{PER_ARTICLE} sentences in topics of ~{PER_TOPIC:,}); *nearest found*: the exact "
        "nearest vector (numpy, same vectors, same filter) is among the 40 returned; *recall 10@40*: the share "
        "of the exact 10 nearest among them. A query is a stored sentence plus noise (cosine ~0.85), as a "
        "question is near the sentence that answers it. RSS is the benchmark process (embedded "
        "Chroma holds the index in it).", "",
        md_table(headers, rows), "",
    ]
    if res.get("notes"):
        lines += [res["notes"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.chroma_scale", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,20000,50000,100000,200000,500000")
    ap.add_argument("--queries", type=int, default=300)
    add_report_args(ap, notes="a paragraph added under the table (where it bends)")
    args = ap.parse_args(argv)

    def measure(workdir: Path) -> dict[str, Any]:
        import chromadb

        sizes = sorted(int(s) for s in args.sizes.split(","))
        return {**run(sizes, args.queries, workdir), "chromadb": chromadb.__version__}

    measure_and_report(args, argv, "benchmarks.chroma_scale", MARKER, measure, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
