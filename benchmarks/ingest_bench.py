"""Ingest throughput benchmark (issues 2 and 11).

    .venv/bin/python -m benchmarks.ingest_bench [--data PATH] [--limit N] [--slices N]
                                                [--phases A,A0,B1,B2,C] [--reverse-limit N]
                                                [--write docs/benchmarks.md] [--json PATH]

One process, one machine state, the same articles, these workloads:

A   Newsdesk: ``build_services()`` on a fresh temp data dir, then ``ingest_batch()`` over every
    article (validate -> segment -> chunk -> embed -> Chroma x2 -> SQLite + FTS5), with
    ``sentence_vectors="late"``: late-chunked sentence and chunk vectors.
A0  The same with ``sentence_vectors="separate"`` (the default): every sentence embedded alone,
    chunk vectors pooled from them (the write path of main before issue 11, on today's embedder
    and store).
B1  The raw embedder alone on the chunk texts our pipeline produces (``process()``).
B2  The raw embedder alone on the indexed sentence texts: the embedding work the pipeline does.
C   Plain LangChain: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` +
    ``langchain_chroma.Chroma`` (persistent, temp dir) with the same embedder behind a
    ``langchain_core.embeddings.Embeddings`` adapter.

Fairness: every phase uses the *same* ``MiniLMEmbedding`` instance (the settings
``build_services`` would use: batch 32, default threads), warmed up before the first phase.
Set-up (opening Chroma and SQLite) is timed apart and not in the phase wall times; all texts
are in memory before timing starts.  The corpus is cut into ``--slices`` consecutive parts and
each part goes through A, B1, B2 and C with the order rotating from part to part, so a change
in machine load (this is a shared 2-core box) is spread evenly over the four phases.  A and C
keep one store each for the whole run, so their indexes grow exactly as in one long ingest.
``--slices 1`` runs the phases one after the other; ``--reverse-limit N`` adds a second,
reverse-order round (C, B2, B1, A) on the first N articles as an order check.

Peak RSS is in-process: before every slice of a phase the kernel's high-water mark (VmHWM) is
reset through ``/proc/self/clear_refs`` and read afterwards (where that is not allowed, VmRSS
is sampled every 20 ms).  "peak" is the highest RSS while the phase ran, which includes the
model, both stores and the corpus held by the process; "+own" is the largest rise within one
slice of the phase, i.e. its own transient memory.

The pipeline's time is split by wrapping the store's collaborators with timers (a few
microseconds per call; ``--no-breakdown`` turns it off).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.common import commit, idle_note, md_table, write_section
from benchmarks.common import machine as machine_of
from service.tokens import count_tokens

DEFAULT_DATA = Path("/work/shared/data/realtimeqa_2023/docs_gcs.jsonl")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MARKER = "ingest-bench"
MARK_START, MARK_END = f"<!-- {MARKER}:start -->", f"<!-- {MARKER}:end -->"
SECTION_TITLE = "## Ingest throughput (issues 2 and 11)"
GOAL_RAW = 0.95
GOAL_LANGCHAIN = 1.2
PHASES = ("A", "A0", "B1", "B2", "C")


# -- data ---------------------------------------------------------------------------------
def sanitise_id(raw: Any, taken: set[str]) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(raw or "")).strip("._-")[:120] or "doc"
    if not s[0].isalnum():
        s = "d" + s
    base, n = s, 1
    while s in taken:
        n += 1
        s = f"{base}-{n}"
    taken.add(s)
    assert ID_RE.fullmatch(s), s
    return s


def iso_date(value: Any) -> str | None:
    """docs_gcs dates are 'YYYY/MM/DD'; the API takes ISO 8601."""
    if not value:
        return None
    m = re.fullmatch(r"\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})\s*", str(value))
    if m:
        y, mo, d = (int(x) for x in m.groups())
        return f"{y:04d}-{mo:02d}-{d:02d}"
    try:
        return datetime.fromisoformat(str(value)).isoformat()
    except ValueError:
        return None


def to_raw(row: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    url = row.get("url") or None
    host = (urlsplit(url).hostname or "").removeprefix("www.") if url else ""
    raw: dict[str, Any] = {
        "id": sanitise_id(row.get("doc_id"), taken),
        "title": row.get("title"),
        "text": row.get("text"),  # None for a few rows: the pipeline reports them as failed
        "url": url,
        "source": host[:200] or None,
        "published_at": iso_date(row.get("publish_date")),
    }
    return raw


def load_rows(path: Path, limit: int | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


# -- measurement ----------------------------------------------------------------------------
def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Phase:
    name: str
    label: str
    wall: float = 0.0
    cpu: float = 0.0
    setup: float = 0.0
    slices: int = 0
    rss_start_mb: float = 0.0  # before its first slice
    rss_peak_mb: float = 0.0  # highest RSS seen during any of its slices
    rss_growth_mb: float = 0.0  # largest rise within one slice (the phase's own transient memory)
    rss_end_mb: float = 0.0
    rss_method: str = ""
    loads: list[float] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def load(self) -> float:
        return sum(self.loads) / len(self.loads) if self.loads else 0.0


@contextmanager
def measure(phase: Phase) -> Iterator[Phase]:
    """Add one slice of work to ``phase``: wall time, CPU time, RSS, load."""
    gc.collect()
    phase.loads.append(os.getloadavg()[0])
    hwm = _reset_hwm()
    start_kb = _status_kb("VmRSS")
    peak = [start_kb]
    stop = threading.Event()
    sampler = None
    if not hwm:
        def sample() -> None:
            while not stop.wait(0.02):
                peak[0] = max(peak[0], _status_kb("VmRSS"))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    t_cpu = os.times()
    t0 = time.perf_counter()
    try:
        yield phase
    finally:
        phase.wall += time.perf_counter() - t0
        t_cpu2 = os.times()
        phase.cpu += (t_cpu2.user - t_cpu.user) + (t_cpu2.system - t_cpu.system)
        if sampler is not None:
            stop.set()
            sampler.join()
        end_kb = _status_kb("VmRSS")
        peak_kb = max(peak[0], end_kb, _status_kb("VmHWM") if hwm else 0)
        if phase.slices == 0:
            phase.rss_start_mb = start_kb / 1024
        phase.slices += 1
        phase.rss_peak_mb = max(phase.rss_peak_mb, peak_kb / 1024)
        phase.rss_growth_mb = max(phase.rss_growth_mb, (peak_kb - start_kb) / 1024)
        phase.rss_end_mb = end_kb / 1024
        phase.rss_method = "VmHWM reset via clear_refs" if hwm else "VmRSS sampled every 20 ms"


class Timers(defaultdict[str, float]):
    def __init__(self) -> None:
        super().__init__(float)

    def wrap(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self[name] += time.perf_counter() - t
        return timed


class TimedProxy:
    """Delegates everything to ``target``; the named methods are timed."""

    def __init__(self, target: Any, timers: Timers, names: dict[str, str]) -> None:
        self._target, self._timers, self._names = target, timers, names

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name in self._names:
            return self._timers.wrap(attr, self._names[name])
        return attr


def instrument_store(store: Any, timers: Timers) -> None:
    store.process = timers.wrap(store.process, "segment + boilerplate + chunk (process)")
    store.embedder = TimedProxy(store.embedder, timers, {"embed": "embed sentences (MiniLM)",
                                                         "embed_late": "embed windows (MiniLM, late chunking)"})
    store.sentences = TimedProxy(store.sentences, timers, {"upsert": "Chroma upsert: sentences",
                                                           "delete": "Chroma delete old versions"})
    store.chunks = TimedProxy(store.chunks, timers, {"upsert": "Chroma upsert: chunks",
                                                     "delete": "Chroma delete old versions"})
    cat = store.catalog
    cat.publish = timers.wrap(cat.publish, "SQLite publish (rows + FTS5)")
    for name in ("journal_begin", "journal_done", "journal_pending", "current_hash"):
        setattr(cat, name, timers.wrap(getattr(cat, name), "SQLite journal + hash lookups"))


def model_token_stats(tokenizer: Any, groups: Sequence[Sequence[str]], batch: int) -> dict[str, int]:
    """WordPiece tokens MiniLM sees: real, and as padded in the embedder's batches (sorted by token
    count within each call, as ``MiniLMEmbedding._forward`` does).

    ``groups`` are the lists the embedder is called with (it sorts and batches within a call).
    """
    real = padded = truncated = 0
    for texts in groups:
        enc = tokenizer.encode_batch(list(texts))
        lens = sorted(sum(e.attention_mask) for e in enc)
        truncated += sum(1 for e in enc if e.overflowing)
        real += sum(lens)
        padded += sum(max(lens[s : s + batch]) * len(lens[s : s + batch]) for s in range(0, len(lens), batch))
    return {"real": real, "padded": padded, "truncated": truncated}


def late_window_stats(embedder: Any, groups: Sequence[Sequence[Any]], window: int, batch: int) -> dict[str, int]:
    """The windows the late-chunking pipeline runs: one ``embed_late`` call per store batch
    (``groups``: lists of processed articles), each article's indexed sentences cut into windows."""
    import numpy as np

    from service.ingest.article import join_sentences
    from vectorstore.embeddings import _windows

    real = padded = count = 0
    for arts in groups:
        lens: list[int] = []
        for a in arts:
            if not a.indexed:
                continue
            text, spans = join_sentences([s.text for s in a.indexed])
            enc = embedder._plain.encode(text, add_special_tokens=False)
            starts = np.searchsorted([o[0] for o in enc.offsets], [sp[0] for sp in spans])
            lens += [b - x + 2 for x, b in _windows(len(enc.ids), starts, window)]
        lens.sort()
        count += len(lens)
        real += sum(lens)
        padded += sum(max(lens[s : s + batch]) * len(lens[s : s + batch]) for s in range(0, len(lens), batch))
    return {"windows": count, "window_tokens": window, "real": real, "padded": padded}


# -- the workloads ---------------------------------------------------------------------------
def make_adapter(embedder: Any) -> Any:
    from langchain_core.embeddings import Embeddings

    class MiniLMEmbeddings(Embeddings):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.inner.embed(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.inner.embed([text])[0].tolist()

    return MiniLMEmbeddings(embedder)


class NewsdeskRunner:
    """Phase A: one fresh Newsdesk store, fed slice by slice through ingest_batch()."""

    def __init__(self, embedder: Any, cache_dir: Path | None, workdir: Path, breakdown: bool,
                 key: str = "A", label: str = "Newsdesk pipeline (ingest_batch)", **settings: Any) -> None:
        from service.config import Settings
        from service.runtime import build_services

        self.phase = Phase(key, label)
        self.data_dir = Path(tempfile.mkdtemp(prefix="newsdesk-", dir=workdir))
        kw: dict[str, Any] = {"data_dir": self.data_dir, **settings}
        if cache_dir is not None:
            kw["cache_dir"] = cache_dir
        self.settings = Settings(**kw)
        t = time.perf_counter()
        self.services = build_services(self.settings, embedder=embedder)
        self.phase.setup = time.perf_counter() - t
        self.timers = Timers()
        self.breakdown = breakdown
        if breakdown:
            instrument_store(self.services.store, self.timers)
        self.outcomes: list[Any] = []

    def run(self, pairs: list[tuple[str, dict[str, Any]]], arts: list[Any]) -> None:
        from service.ingest.pipeline import ingest_batch

        with measure(self.phase):
            self.outcomes += ingest_batch(self.services.store, pairs, max_chars=self.settings.max_article_chars)

    def finish(self) -> Phase:
        from chromadb.api.client import SharedSystemClient

        phase, ok = self.phase, [o for o in self.outcomes if o.status in ("created", "updated", "unchanged")]
        phase.counts = {
            "articles": len(ok), "failed": len(self.outcomes) - len(ok),
            "sentences": sum(o.sentences for o in ok), "chunks": sum(o.chunks for o in ok),
            "boilerplate": sum(o.boilerplate for o in ok),
        }
        stats = self.services.store.stats()
        phase.counts.update({"stored_sentence_vectors": stats["sentence_vectors"],
                             "stored_chunk_vectors": stats["chunk_vectors"], "pending": stats["pending"]})
        if self.breakdown:
            phase.breakdown = dict(self.timers)
            phase.breakdown["other (validation, pooling, metadata, Python glue)"] = (
                phase.wall - sum(self.timers.values()))
        self.services.close()
        del self.services
        SharedSystemClient.clear_system_cache()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return phase


class RawRunner:
    """Phases B1/B2: the embedder alone on texts taken from the processed articles."""

    def __init__(self, key: str, label: str, embedder: Any, texts_of: Callable[[list[Any]], list[str]]) -> None:
        self.phase = Phase(key, label)
        self.embedder, self.texts_of = embedder, texts_of
        self.phase.counts = {"texts": 0}

    def run(self, pairs: list[tuple[str, dict[str, Any]]], arts: list[Any]) -> None:
        texts = self.texts_of(arts)
        with measure(self.phase):
            vecs = self.embedder.embed(texts)
        assert vecs.shape == (len(texts), 384)
        self.phase.counts["texts"] += len(texts)

    def finish(self) -> Phase:
        return self.phase


class LangChainRunner:
    """Phase C: RecursiveCharacterTextSplitter + langchain_chroma.Chroma, fed slice by slice."""

    def __init__(self, embedder: Any, workdir: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.phase = Phase("C", "LangChain (RecursiveCharacterTextSplitter + langchain_chroma)")
        self.path = Path(tempfile.mkdtemp(prefix="langchain-", dir=workdir))
        self.timers = Timers()
        adapter = make_adapter(embedder)
        adapter.embed_documents = self.timers.wrap(adapter.embed_documents, "embed chunks (MiniLM)")
        t = time.perf_counter()
        self.client = chromadb.PersistentClient(path=str(self.path),
                                                settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(collection_name="langchain_bench", embedding_function=adapter, client=self.client)
        self.batch = self.client.get_max_batch_size()
        self.phase.setup = time.perf_counter() - t
        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.texts: list[str] = []
        self.docs = 0

    def run(self, pairs: list[tuple[str, dict[str, Any]]], arts: list[Any]) -> None:
        from langchain_core.documents import Document

        docs = [Document(page_content=text, metadata=meta) for text, meta in lc_inputs(arts)]
        with measure(self.phase):
            t = time.perf_counter()
            splits = self.splitter.split_documents(docs)
            self.timers["split (RecursiveCharacterTextSplitter)"] += time.perf_counter() - t
            for i in range(0, len(splits), self.batch):
                self.store.add_documents(splits[i : i + self.batch])
        self.docs += len(docs)
        self.texts += [d.page_content for d in splits]

    def finish(self) -> Phase:
        from chromadb.api.client import SharedSystemClient

        phase = self.phase
        phase.counts = {"articles": self.docs, "texts": len(self.texts),
                        "stored_vectors": self.store._collection.count()}
        phase.breakdown = dict(self.timers)
        phase.breakdown["Chroma upsert + LangChain glue"] = phase.wall - sum(self.timers.values())
        del self.store, self.client
        SharedSystemClient.clear_system_cache()
        shutil.rmtree(self.path, ignore_errors=True)
        return phase


# -- reporting -------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    """The common machine description plus the versions of what the phases run."""
    from importlib.metadata import version

    import chromadb
    import onnxruntime

    return {**machine_of(), "versions": (
        f"onnxruntime {onnxruntime.__version__}, chromadb {chromadb.__version__}, "
        f"langchain-chroma {version('langchain-chroma')}, "
        f"langchain-text-splitters {version('langchain-text-splitters')}")}


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def phase_rows(phases: list[Phase], corpus: dict[str, Any]) -> list[list[str]]:
    rows = []
    for p in phases:
        n_art = corpus["articles"]
        sentences = p.counts.get("sentences")
        texts = p.counts.get("texts")
        rows.append([
            f"{p.name} {p.label}",
            f"{p.wall:,.1f}",
            fmt_rate(n_art / p.wall),
            fmt_rate(sentences / p.wall) if sentences else "–",
            fmt_rate(corpus["article_tokens"] / p.wall),
            f"{texts:,} ({fmt_rate(texts / p.wall)}/s)" if texts else "–",
            f"{p.cpu:,.0f} ({100 * p.cpu / p.wall:.0f}%)",
            f"{p.rss_peak_mb:,.0f} (+{p.rss_growth_mb:,.0f})",
            f"{p.load:.1f}",
        ])
    return rows


HEADERS = ["phase", "wall s", "articles/s", "sentences/s", "tokens/s", "texts embedded (texts/s)",
           "CPU s (util)", "peak RSS MB (+own)", "load"]


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "-" * len(line), *body])


PIPELINES = {"A0": "per-sentence vectors (A0, the default)", "A": "late chunking (A, an option)"}


def ratios(by: dict[str, Phase], key: str = "A") -> list[tuple[str, float, str]]:
    """The ratios of pipeline phase ``key`` against the baselines run beside it."""
    if key not in by:
        return []
    a = by[key].wall
    out = []
    if "B1" in by:
        out.append(("R1 pipeline / raw embedder on chunk texts (throughput)", by["B1"].wall / a, f"≥ {GOAL_RAW}"))
    if "B2" in by:
        out.append(("R2 pipeline / raw embedder on sentence texts (throughput)", by["B2"].wall / a, "info"))
    if "C" in by:
        out.append(("R3 LangChain wall / pipeline wall (we are N× faster)", by["C"].wall / a, f"≥ {GOAL_LANGCHAIN}"))
    if key == "A" and "A0" in by:
        out.append(("R5 per-sentence pipeline wall (A0) / late-chunking pipeline wall (A)", by["A0"].wall / a, "info"))
    return out


def ratio_table(by: dict[str, Phase], before: dict[str, Any] | None = None) -> list[str]:
    """Markdown rows: each ratio for main (an earlier run of the code before issue 11, when given),
    A0 and A of this run, side by side."""
    cols = [k for k in PIPELINES if k in by]
    names: list[tuple[str, str]] = []
    for k in cols:
        for name, _, goal in ratios(by, k):
            if (name, goal) not in names:
                names.append((name, goal))
    head = (["main (before issue 11, its own run)"] if before else []) + [PIPELINES[k] for k in cols]
    rows = ["| ratio | " + " | ".join(head) + " | goal |", "|---|" + "---|" * len(head) + "---|"]
    main_phases = [p if isinstance(p, Phase) else Phase(**p) for p in before["round1"]] if before else []
    main_vals = {n: v for n, v, _ in ratios({p.name: p for p in main_phases}, "A")}
    for name, goal in names:
        cells = []
        if before:
            v = main_vals.get(name)
            cells.append(f"{v:.2f} {verdict(v, goal)}" if v is not None else "–")
        for k in cols:
            v = next((x for n, x, _ in ratios(by, k) if n == name), None)
            cells.append(f"{v:.2f} {verdict(v, goal)}" if v is not None else "–")
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {goal} |")
    return rows


def verdict(value: float, goal: str) -> str:
    if goal == "info":
        return ""
    return "PASS" if value >= float(goal.split()[-1]) else "MISS"


def breakdown_md(p: Phase) -> str:
    lines = [f"| {k} | {v:,.1f} | {100 * v / p.wall:.0f}% |" for k, v in
             sorted(p.breakdown.items(), key=lambda kv: -kv[1])]
    return "\n".join(["| step | s | share |", "|---|---|---|", *lines])


def render_section(res: dict[str, Any]) -> str:
    m, c = res["machine"], res["corpus"]
    r1 = {p.name: p for p in res["round1"]}
    order = " → ".join(p.name for p in res["round1"])
    out = [MARK_START, SECTION_TITLE, ""]
    out.append(f"Measured {res['date']} (finished {res['finished']}) on {m['nproc']} CPUs ({m['cpu']}), "
               f"{m['ram']} RAM, {m['os']}, Python {m['python']}; {m['versions']}; commit {res.get('commit', '?')}. "
               f"Machine: {res.get('idle', 'load not recorded')}. 1-min load average before the run: "
               f"{res['load_before']:.2f}, after: {res['load_after']:.2f}.")
    out.append("")
    out.append(f"Command: `{res['command']}`")
    out.append("")
    out.append(f"Corpus: `{res['data']}`, {c['rows']:,} rows; {c['articles']:,} articles have text and are ingested "
               f"({c['rows'] - c['articles']} rows without text fail validation, as they should). "
               f"{c['chars']:,} characters, {c['article_tokens']:,} cl100k tokens, {c['sentences']:,} sentences "
               f"of which {c['indexed_sentences']:,} indexed ({c['sentences'] - c['indexed_sentences']:,} "
               f"boilerplate), {c['chunks']:,} chunks (≤{res['chunking'][0]} tokens, {res['chunking'][1]} overlap). "
               f"LangChain makes {c['lc_chunks']:,} chunks of ≤1000 characters (200 overlap).")
    out.append("")
    out.append("All phases share one warmed-up `MiniLMEmbedding` (batch 32, int8 ONNX) in one process; set-up "
               "(opening Chroma/SQLite) is excluded from wall times. articles/s and tokens/s are corpus-equivalent "
               "(all articles, cl100k tokens of the article texts, divided by the phase's wall time). "
               f"Peak RSS ({res['round1'][0].rss_method}) is in-process: \"peak\" includes the model, both stores "
               "and the corpus held by the one process; \"+own\" is the phase's largest rise within one slice. "
               "CPU s is user+system time of the process (all threads; 200% = both cores busy); load is the "
               "mean 1-min load average at the start of its slices (this benchmark alone accounts for up to ~2).")
    out.append("")
    if res["slices"] > 1:
        out.append(f"### All {c['articles']:,} articles, in {res['slices']} slices, phase order rotating per slice")
        out.append("")
        out.append(f"The corpus is cut into {res['slices']} consecutive slices; each slice goes through every phase, "
                   f"and the order rotates from slice to slice ({order}, then starting one later, ...), so every "
                   "phase sees the same share of any change in machine load. Times are sums over the slices; the "
                   "pipelines and LangChain keep one store each for the whole run.")
    else:
        out.append(f"### All {c['articles']:,} articles, order {order}")
    out.append("")
    out.append(md_table(HEADERS, phase_rows(res["round1"], c)))
    out.append("")
    out.append(f"Peak RSS of the whole benchmark process (ru_maxrss): {res['ru_maxrss_mb']:,.0f} MB.")
    out.append("")
    before = res.get("before")
    if before:
        out.append(f"*main* is `{before['command']}` run on the code before issue 11 (commit "
                   f"{before.get('commit', '?')}), {before['date']}, load {before['load_before']:.2f} before: a "
                   "separate run on the same corpus, its ratios measured within that run.")
        out.append("")
    out.extend(ratio_table(r1, before))
    out.append("")
    mt = res["model_tokens"]
    if "B1" in r1 and "B2" in r1:
        s, ch = r1["B2"], r1["B1"]
        out.append(f"**Sentence vectors vs chunk-text vectors:** sentence vectors cost {s.wall:,.1f} s vs "
                   f"chunk-text vectors {ch.wall:,.1f} s on this corpus ({s.wall / ch.wall:.2f}×): "
                   f"{c['indexed_sentences']:,} sentences = "
                   f"{mt['sentences']['real']:,} WordPiece tokens ({mt['sentences']['padded']:,} as padded batches) "
                   f"vs {c['chunks']:,} chunks = {mt['chunks']['real']:,} tokens ({mt['chunks']['padded']:,} padded, "
                   f"{mt['chunks']['truncated']} truncated at 256).")
        out.append("")
    if "late_windows" in mt:
        lw = mt["late_windows"]
        out.append(f"**What the late-chunking pipeline runs:** {lw['windows']:,} windows of ≤{lw['window_tokens']} "
                   f"WordPiece tokens cut at sentence boundaries = {lw['real']:,} tokens with [CLS]/[SEP] "
                   f"({lw['padded']:,} padded); LangChain's chunks are {mt['langchain_chunks']['real']:,} tokens "
                   f"({mt['langchain_chunks']['padded']:,} padded, {mt['langchain_chunks']['truncated']} truncated).")
        out.append("")
    lc = r1.get("C")
    for key in ("A", "A0"):
        a = r1.get(key)
        if a is None:
            continue
        out.append(f"Vectors written to Chroma ({key}): {a.counts.get('stored_sentence_vectors', 0):,} sentence + "
                   f"{a.counts.get('stored_chunk_vectors', 0):,} chunk vectors"
                   + (f" (LangChain: {lc.counts.get('stored_vectors', 0):,} chunk vectors)." if lc else "."))
        out.append("")
        if a.breakdown:
            out.append(f"Where {key}'s time goes (timers around the store's collaborators):")
            out.append("")
            out.append(breakdown_md(a))
            out.append("")
    if lc is not None:
        out.append("LangChain (C):")
        out.append("")
        out.append(breakdown_md(lc))
        out.append("")
    if res.get("round2"):
        r2 = {p.name: p for p in res["round2"]}
        n2 = res["round2_corpus"]["articles"]
        order2 = " → ".join(p.name for p in res["round2"])
        out.append(f"### Round 2: first {n2:,} articles, reverse order {order2} (order check)")
        out.append("")
        out.append(md_table(HEADERS, phase_rows(res["round2"], res["round2_corpus"])))
        out.append("")
        out.extend(ratio_table(r2))
        out.append("")
    out.append(MARK_END)
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------------
def prepare(pairs: list[tuple[str, dict[str, Any]]], settings: Any) -> dict[str, Any]:
    from service.errors import InvalidInput
    from service.ingest.article import process
    from service.ingest.pipeline import validate

    items = []
    for _, raw in pairs:
        try:
            items.append(validate(raw, field_prefix="", max_chars=settings.max_article_chars))
        except InvalidInput:
            pass
    t = time.perf_counter()
    arts = [process(it, max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap_tokens,
                    encoding=settings.encoding) for it in items]
    process_s = time.perf_counter() - t
    return {"items": items, "arts": arts, "process_s": process_s}


def corpus_stats(rows: int, prep: dict[str, Any]) -> dict[str, Any]:
    arts = prep["arts"]
    return {
        "rows": rows,
        "articles": len(arts),
        "chars": sum(len(a.text) for a in arts),
        "article_tokens": sum(count_tokens(a.text) for a in arts),
        "sentences": sum(len(a.sentences) for a in arts),
        "indexed_sentences": sum(len(a.indexed) for a in arts),
        "chunks": sum(len(a.chunks) for a in arts),
        "process_only_s": prep["process_s"],
    }


def lc_inputs(arts: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for a in arts:
        meta: dict[str, Any] = {"article_id": a.id, "title": a.title, "source": a.source}
        if a.url:
            meta["url"] = a.url
        if a.published_at:
            meta["published_at"] = int(a.published_at.timestamp())
        out.append((a.text, meta))
    return out


def slice_parts(pairs: list[tuple[str, dict[str, Any]]], arts: list[Any],
                slices: int) -> list[tuple[list[tuple[str, dict[str, Any]]], list[Any]]]:
    """``slices`` consecutive parts of the corpus: (raw pairs, processed articles) each."""
    by_id = {a.id: a for a in arts}
    slices = max(1, min(slices, len(pairs)))
    bounds = [round(i * len(pairs) / slices) for i in range(slices + 1)]
    parts = []
    for n in range(slices):
        part = pairs[bounds[n] : bounds[n + 1]]
        parts.append((part, [by_id[p[1]["id"]] for p in part if p[1]["id"] in by_id]))
    return parts


def run_round(tag: str, order: list[str], pairs: list[tuple[str, dict[str, Any]]], arts: list[Any], embedder: Any,
              cache_dir: Path | None, workdir: Path, breakdown: bool, slices: int) -> tuple[list[Phase], list[str]]:
    """Run the phases in ``order`` over ``slices`` consecutive parts of the corpus, rotating the
    order from one slice to the next, so every phase sees the same (possibly changing) machine load."""
    makers: dict[str, Callable[[], Any]] = {
        "A": lambda: NewsdeskRunner(embedder, cache_dir, workdir, breakdown,
                                    label="Newsdesk pipeline, late-chunked vectors", sentence_vectors="late"),
        "A0": lambda: NewsdeskRunner(embedder, cache_dir, workdir, breakdown, key="A0",
                                     label="Newsdesk pipeline, per-sentence vectors (default)",
                                     sentence_vectors="separate"),
        "B1": lambda: RawRunner("B1", "raw embedder on our chunk texts", embedder,
                                lambda arts: [c.text for a in arts for c in a.chunks]),
        "B2": lambda: RawRunner("B2", "raw embedder on our sentence texts", embedder,
                                lambda arts: [s.text for a in arts for s in a.indexed]),
        "C": lambda: LangChainRunner(embedder, workdir),
    }
    runners = {k: makers[k]() for k in order}
    parts = slice_parts(pairs, arts, slices)
    t0 = time.perf_counter()
    for n, (part, part_arts) in enumerate(parts):
        rot = order[n % len(order):] + order[: n % len(order)]
        for key in rot:
            runners[key].run(part, part_arts)
        done = ", ".join(f"{k} {runners[k].phase.wall:,.0f}s" for k in order)
        print(f"  [{tag}] slice {n + 1}/{len(parts)} ({' -> '.join(rot)}) done after "
              f"{time.perf_counter() - t0:,.0f} s; "
              f"cumulative {done}; load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    lc_texts = runners["C"].texts if "C" in runners else []
    return [runners[k].finish() for k in PHASES if k in runners], lc_texts


def report(res: dict[str, Any], write: Path | None, json_path: Path | None) -> None:
    """Print the results; optionally write our docs section and a JSON dump."""
    round1, round2 = res["round1"], res["round2"]
    print()
    print(f"Ingest benchmark — {res['date']} — {res['machine']['nproc']} CPUs {res['machine']['cpu']}, "
          f"{res['machine']['ram']} RAM; load {res['load_before']:.2f} before, {res['load_after']:.2f} after")
    c = res["corpus"]
    print(f"corpus: {c['articles']} articles ({c['rows'] - c['articles']} rows without text), "
          f"{c['article_tokens']:,} tokens, {c['indexed_sentences']:,} indexed sentences, "
          f"{c['chunks']:,} chunks; LangChain chunks {c['lc_chunks']:,}; process() alone {c['process_only_s']:.1f} s")
    print()
    print(f"Round 1 ({res['slices']} slices, phase order rotating)")
    print(text_table(HEADERS, phase_rows(round1, c)))
    print()
    r1 = {p.name: p for p in round1}
    for key in PIPELINES:
        for name, v, goal in ratios(r1, key):
            print(f"  {key:<3} {name:<70} {v:6.2f}   goal {goal:<6} {verdict(v, goal)}")
    if "B1" in r1 and "B2" in r1:
        print(f"  sentence vectors cost {r1['B2'].wall:,.1f} s vs chunk-text vectors {r1['B1'].wall:,.1f} s "
              f"({r1['B2'].wall / r1['B1'].wall:.2f}x)")
    print("  model tokens (real / padded):",
          ", ".join(f"{k} {v['real']:,}/{v['padded']:,}" for k, v in res['model_tokens'].items()))
    for p in round1:
        if p.breakdown:
            print(f"\n  {p.name} breakdown (setup {p.setup:.2f} s, not included):")
            for k, v in sorted(p.breakdown.items(), key=lambda kv: -kv[1]):
                print(f"    {k:<52} {v:8.1f} s  {100 * v / p.wall:5.1f}%")
    if round2:
        print(f"\nRound 2 ({' -> '.join(p.name for p in round2)}), first {res['round2_corpus']['articles']} articles")
        print(text_table(HEADERS, phase_rows(round2, res['round2_corpus'])))
        r2 = {p.name: p for p in round2}
        for key in PIPELINES:
            for name, v, goal in ratios(r2, key):
                print(f"  {key:<3} {name:<70} {v:6.2f}   goal {goal:<6} {verdict(v, goal)}")
    print(f"\nprocess peak RSS (ru_maxrss): {res['ru_maxrss_mb']:,.0f} MB")

    if write:
        write_section(write, render_section(res), MARKER)
        print(f"wrote {write}")
    if json_path:
        out = {k: ([asdict(p) for p in v] if k in ("round1", "round2") else v) for k, v in res.items()}
        json_path.write_text(json.dumps(out, indent=2), encoding="utf-8")
        print(f"wrote {json_path}")


def load_results(path: Path) -> dict[str, Any]:
    res = json.loads(path.read_text(encoding="utf-8"))
    for key in ("round1", "round2"):
        res[key] = [Phase(**p) for p in res[key]]
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ingest_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None, help="only the first N rows")
    ap.add_argument("--slices", type=int, default=8,
                    help="interleave the phases over N consecutive parts of the corpus, rotating their order "
                         "(1 = run A, B1, B2, C one after the other)")
    ap.add_argument("--reverse-limit", type=int, default=0,
                    help="also run a round 2 in reverse order (C, B2, B1, A) on the first N articles")
    ap.add_argument("--write", type=Path, default=None, help="write/replace our section of this markdown file")
    ap.add_argument("--json", type=Path, default=None, help="also dump the raw numbers as JSON")
    ap.add_argument("--cache-dir", type=Path, default=None, help="Settings.cache_dir (default: Newsdesk's)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the temp stores go (default: $TMPDIR)")
    ap.add_argument("--no-breakdown", action="store_true", help="do not time the pipeline's steps")
    ap.add_argument("--render-json", type=Path, default=None,
                    help="do not measure: re-print (and --write) the results saved by an earlier --json run")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help=f"which phases to run, in this order in the first slice (default {','.join(PHASES)})")
    ap.add_argument("--before-json", type=Path, default=None,
                    help="the --json of a run of the code before issue 11: its ratios are shown beside these")
    args = ap.parse_args(argv)
    order = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not order or any(p not in PHASES for p in order):
        ap.error(f"--phases takes a comma-separated subset of {','.join(PHASES)}")
    before = json.loads(args.before_json.read_text(encoding="utf-8")) if args.before_json else None
    if args.render_json:
        res = load_results(args.render_json)
        if before is not None:
            res["before"] = before
        report(res, args.write, None)
        return 0

    from service.config import Settings
    from service.tokens import seed_tiktoken_cache
    from vectorstore.embeddings import MAX_TOKENS, build_embedder, minilm_files

    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-", dir=args.workdir))
    base = Settings(data_dir=workdir / "unused", **({"cache_dir": args.cache_dir} if args.cache_dir else {}))
    seed_tiktoken_cache(base.cache_dir / "tiktoken")

    rows = load_rows(args.data, args.limit)
    taken: set[str] = set()
    pairs = [(f"{args.data.name}:{i + 1}", to_raw(r, taken)) for i, r in enumerate(rows)]
    print(f"preparing {len(pairs)} rows (validate + process, for chunk/sentence texts and counts) ...",
          file=sys.stderr, flush=True)
    prep = prepare(pairs, base)
    corpus = corpus_stats(len(rows), prep)
    arts = prep["arts"]

    embedder = build_embedder(base.embedder, batch_size=base.embed_batch_size)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(minilm_files()[1])
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()
    # warm-up: session, allocator and tokenizer on both kinds of text
    warm = [s.text for a in arts[:20] for s in a.indexed][:96] + [c.text for a in arts[:20] for c in a.chunks][:64]
    for _ in range(2):
        embedder.embed(warm)

    print(f"round 1: {corpus['articles']} articles in {args.slices} slices", file=sys.stderr, flush=True)
    round1, lc_texts = run_round("round 1", order, pairs, arts, embedder, args.cache_dir,
                                 workdir, not args.no_breakdown, args.slices)
    corpus["lc_chunks"] = len(lc_texts)
    bs = base.embed_batch_size
    # the exact lists each phase handed to embed(): per slice (B1, B2), per 16-article batch (A)
    parts = [p_arts for _, p_arts in slice_parts(pairs, arts, args.slices)]
    pipeline_groups = [[s.text for a in p[i : i + 16] for s in a.indexed]
                       for p in parts for i in range(0, len(p), 16)]
    model_tokens = {
        "sentences": model_token_stats(tok, [[s.text for a in p for s in a.indexed] for p in parts], bs),
        "sentences_as_pipeline_batches": model_token_stats(tok, pipeline_groups, bs),
        "chunks": model_token_stats(tok, [[c.text for a in p for c in a.chunks] for p in parts], bs),
        "langchain_chunks": model_token_stats(tok, [lc_texts], bs),
    }
    if hasattr(embedder, "embed_late") and base.late_window_tokens:
        model_tokens["late_windows"] = late_window_stats(
            embedder, [p[i : i + 16] for p in parts for i in range(0, len(p), 16)], base.late_window_tokens, bs)

    round2: list[Phase] = []
    corpus2: dict[str, Any] = {}
    n2 = min(args.reverse_limit or 0, len(arts))
    if n2:
        ids2 = {a.id for a in arts[:n2]}
        pairs2 = [p for p in pairs if p[1]["id"] in ids2]
        print(f"round 2: {n2} articles, {' -> '.join(order[::-1])}", file=sys.stderr, flush=True)
        round2, lc2 = run_round("round 2", order[::-1], pairs2, arts[:n2], embedder, args.cache_dir,
                                workdir, not args.no_breakdown, 1)
        corpus2 = corpus_stats(n2, {"arts": arts[:n2], "process_s": 0.0})
        corpus2["lc_chunks"] = len(lc2)

    shutil.rmtree(workdir, ignore_errors=True)
    cmd = ".venv/bin/python -m benchmarks.ingest_bench" + ("" if argv is None and len(sys.argv) <= 1 else
                                                           " " + " ".join(argv if argv is not None else sys.argv[1:]))
    res = {
        "date": started.strftime("%a %b %d %H:%M:%S UTC %Y"),
        "finished": datetime.now(UTC).strftime("%H:%M:%S UTC"),
        "machine": machine(),
        "idle": idle_note(),
        "commit": commit(),
        "command": cmd,
        "data": str(args.data),
        "chunking": (base.chunk_tokens, base.chunk_overlap_tokens),
        "slices": args.slices,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "corpus": corpus,
        "model_tokens": model_tokens,
        "round1": round1,
        "round2": round2,
        "round2_corpus": corpus2,
        "ru_maxrss_mb": __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024,
    }
    if before is not None:
        res["before"] = before

    report(res, args.write, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
