"""The scale curve on both engines in one run (issue 21, item 5): ingest cost and /v1/search and
/v1/ask latency as the store grows over the RealTimeQA corpus, on SQLite + embedded Chroma (one
node) and on PostgreSQL + a Chroma server (two nodes), side by side.

    .venv/bin/python -m benchmarks.scale_engines [--steps 100,200,400,800,1501]
        [--json benchmarks/results/scale_engines.json] [--write docs/benchmarks.md]

What it starts (loopback only, all removed at the end, also on failure or SIGTERM):

- ``sqlite``: one node as ``benchmarks.scale_curve`` builds it: a private data dir with its SQLite
  catalogue (FTS5) and embedded Chroma;
- ``postgres``: a throwaway PostgreSQL 15 cluster (``tests/pg/cluster.py``: ``initdb -N``,
  ``fsync=off``, ``jit=off``), a ``chroma run`` server, and two nodes A and B, two apps with
  separate data dirs on that database and that server, as two machines would run them.

All three apps run in this process through FastAPI's TestClient (no HTTP), with the fake chat
backend and one shared MiniLM embedder.  At each step:

1. **ingest** the step's new rows of ``docs_gcs.jsonl`` with ``ingest_batch``, into the SQLite
   node and through node A, in slices of ``--slice`` rows that alternate engine (and which engine
   goes first), so load from other jobs falls on both alike.  Timers around the stores'
   collaborators split each engine's time (embedding, Chroma upserts, catalogue publish);
   ``server CPU`` is the CPU the Chroma server and the PostgreSQL processes used meanwhile
   (read from /proc; the SQLite engine does that work inside this process);
2. **latency**: the 120 RealTimeQA January questions, each as ``GET /v1/search?q=..&k=8`` and
   ``POST /v1/ask`` (fake backend) to the SQLite node and to a PostgreSQL node (A for questions
   0, 1, 4, 5, ..., B for 2, 3, 6, 7, ...), interleaved (engine order flips each question), after 3
   warm-up pairs on every node.  ``same top`` counts questions whose first search hit
   (article, sentence) is the same on both engines.

Before the first step a few articles go through the (pure) segment-and-chunk stage untimed, so
neither engine pays the process's cold start alone.  Ratios are postgres / sqlite within this run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.common import add_report_args, md_table, measure_and_report, percentile
from benchmarks.ingest_bench import DEFAULT_DATA, Timers, instrument_store, load_rows, to_raw
from benchmarks.scale_curve import QUESTIONS

MARKER = "scale-engines"
ENGINES = ("sqlite", "postgres")
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "scale_engines.json"


def _proc_cpu(pid: int) -> float:
    """utime + stime of one process (all its threads), seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class ServerCpu:
    """CPU seconds of the Chroma server and of the postmaster with its backends.  Backends that
    exit between two readings take their CPU with them: the pools keep theirs open, so this is
    close, and never an over-count."""

    def __init__(self, chroma_pid: int, pg_datadir: Path) -> None:
        self.chroma_pid = chroma_pid
        self.pg_pid = int((pg_datadir / "postmaster.pid").read_text().split()[0])

    def read(self) -> dict[str, dict[int, float]]:
        from tests.pg.cluster import children  # the PostgreSQL helpers live with the tests that use them

        return {"chroma": {self.chroma_pid: _proc_cpu(self.chroma_pid)},
                "postgres": {p: _proc_cpu(p) for p in [self.pg_pid, *children(self.pg_pid)]}}

    @staticmethod
    def delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        return {k: sum(v - before[k].get(p, 0.0) for p, v in after[k].items()) for k in after}


def _node(stack: ExitStack, settings: Any, embedder: Any) -> tuple[Any, Any]:
    """(TestClient, Services) of one app built as ``serve`` builds it, open until ``stack`` closes."""
    from fastapi.testclient import TestClient

    from service.main import create_app
    from service.runtime import build_services

    holder: dict[str, Any] = {}

    def factory(s: Any) -> Any:
        holder["services"] = build_services(s, embedder=embedder)
        return holder["services"]

    client = stack.enter_context(TestClient(create_app(settings, services_factory=factory)))
    return client, holder["services"]


def _stats(xs: list[float]) -> dict[str, float]:
    return {"p50": percentile(xs, 0.5), "p95": percentile(xs, 0.95), "p99": percentile(xs, 0.99),
            "mean": sum(xs) / len(xs) if xs else float("nan"), "n": len(xs)}


def _top(body: dict[str, Any]) -> tuple[str, int] | None:
    hits = body.get("sentences") or []
    return (hits[0]["article_id"], hits[0]["index"]) if hits else None


def latency(sqlite: Any, pg_nodes: list[Any], questions: list[str]) -> dict[str, Any]:
    """Search and ask, interleaved: every question to the SQLite node and to one PostgreSQL node
    (A, A, B, B, ...), the engine that goes first flipping each question."""
    for node in (sqlite, *pg_nodes):
        for q in questions[:3]:
            node.get("/v1/search", params={"q": q, "k": 8}).raise_for_status()
            node.post("/v1/ask", json={"question": q, "model": "fake"}).raise_for_status()
    times: dict[str, dict[str, list[float]]] = {e: {"search": [], "ask": []} for e in ENGINES}
    # per PostgreSQL node, both engines' times on that node's questions (A and B answer different
    # halves of the questions: compare each node with SQLite on its own half, not A with B)
    by_node: dict[str, dict[str, list[float]]] = {f"{n}:{e}:{k}": [] for n in "AB" for e in ENGINES
                                                  for k in ("search", "ask")}
    abstained = dict.fromkeys(ENGINES, 0)
    parts: dict[str, dict[str, list[float]]] = {e: {} for e in ENGINES}
    same_top = 0
    for i, q in enumerate(questions):
        # node A, A, B, B, ... and engine order s-p, p-s, s-p, ...: each node goes first and second
        pg_name = "AB"[(i // 2) % 2]
        clients = {"sqlite": sqlite, "postgres": pg_nodes[(i // 2) % len(pg_nodes)]}
        order = ENGINES if i % 2 == 0 else ENGINES[::-1]
        tops: dict[str, Any] = {}
        for e in order:
            t = time.perf_counter()
            r = clients[e].get("/v1/search", params={"q": q, "k": 8})
            ms = (time.perf_counter() - t) * 1000
            r.raise_for_status()
            times[e]["search"].append(ms)
            by_node[f"{pg_name}:{e}:search"].append(ms)
            tops[e] = _top(r.json())
        same_top += tops["sqlite"] == tops["postgres"]
        for e in order:
            t = time.perf_counter()
            r = clients[e].post("/v1/ask", json={"question": q, "model": "fake"})
            ms = (time.perf_counter() - t) * 1000
            r.raise_for_status()
            times[e]["ask"].append(ms)
            by_node[f"{pg_name}:{e}:ask"].append(ms)
            body = r.json()
            abstained[e] += bool(body.get("abstained"))
            for key, v in (body.get("timings") or {}).items():
                parts[e].setdefault(key, []).append(float(v))
    return {e: {"n": len(questions), "search": _stats(times[e]["search"]), "ask": _stats(times[e]["ask"]),
                "abstained": abstained[e],
                "ask_timings_p50": {k: percentile(v, 0.5) for k, v in parts[e].items()}}
            for e in ENGINES} | {"same_top": same_top,
                                 "by_node": {k: _stats(v) for k, v in by_node.items()}}


def _breakdown(timers: Timers, before: dict[str, float]) -> dict[str, float]:
    """The step's timer deltas in three engine-neutral groups plus the process stage."""
    out = {"embed": 0.0, "chroma_upsert": 0.0, "chroma_delete": 0.0, "catalogue": 0.0, "process": 0.0}
    for k, v in timers.items():
        d = v - before.get(k, 0.0)
        if k.startswith("embed"):
            out["embed"] += d
        elif k.startswith("Chroma upsert"):
            out["chroma_upsert"] += d
        elif k.startswith("Chroma delete"):
            out["chroma_delete"] += d
        elif k.startswith("SQLite"):  # instrument_store's names; on PostgreSQL the same calls
            out["catalogue"] += d
        else:
            out["process"] += d
    return out


def run(steps: list[int], data: Path, workdir: Path, slice_rows: int) -> dict[str, Any]:
    from chromadb.api.client import SharedSystemClient

    from service.config import Settings
    from service.ingest.pipeline import ingest_batch, validate
    from service.store.engine import close_shared
    from tests.pg.cluster import PgCluster, missing_reason
    from vectorstore.embeddings import build_embedder
    from vectorstore.server import ChromaServer

    if (why := missing_reason()) is not None:
        raise SystemExit(f"no PostgreSQL here: {why}")
    rows = load_rows(data, max(steps))
    taken: set[str] = set()
    pairs = [(f"{data.name}:{i + 1}", to_raw(r, taken)) for i, r in enumerate(rows)]
    questions = [json.loads(line)["question_sentence"] for line in QUESTIONS.read_text().splitlines() if line]
    root = Path(tempfile.mkdtemp(prefix="scale-engines-", dir=workdir))
    common = {"llm_backend": "fake", "rate_limit_model": "off", "rate_limit_default": "off", "feed_poll": False}
    out: list[dict[str, Any]] = []
    cluster = PgCluster()

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # so the finally blocks below still run

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            stack.callback(cluster.stop)
            cluster.start()
            import psycopg

            with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
                admin.execute('CREATE DATABASE "scale"')
            url = cluster.url("scale")
            chroma = stack.enter_context(ChromaServer(root / "chroma", log_file=root / "chroma.log"))
            assert chroma.proc is not None
            stack.callback(close_shared)
            stack.callback(SharedSystemClient.clear_system_cache)
            # explicit None: a NEWSDESK_DATABASE_URL or _CHROMA_HOST in the environment must not move it
            s_sqlite = Settings(data_dir=root / "sqlite", database_url=None, chroma_host=None, **common)
            embedder = build_embedder(s_sqlite.embedder, batch_size=s_sqlite.embed_batch_size)
            embedder.embed(["warm up the session", "and the tokenizer"])
            pg_common = {**common, "database_url": url, "chroma_host": chroma.host, "chroma_port": chroma.port,
                         "collection_prefix": f"scale{secrets.token_hex(3)}"}
            sq_client, sq_services = _node(stack, s_sqlite, embedder)
            a_client, a_services = _node(stack, Settings(data_dir=root / "node-a", **pg_common), embedder)
            b_client, _b = _node(stack, Settings(data_dir=root / "node-b", **pg_common), embedder)
            stores = {"sqlite": sq_services.store, "postgres": a_services.store}
            max_chars = s_sqlite.max_article_chars
            timers = {e: Timers() for e in ENGINES}
            for e in ENGINES:
                instrument_store(stores[e], timers[e])
            # untimed warm-up of what is process-wide (tokenizer, segmenter): else the first slice's
            # engine pays it alone.  process() is pure: nothing is written
            for _, raw in pairs[:3]:
                if raw.get("text"):
                    sq_services.store.process(validate(raw, field_prefix="", max_chars=max_chars))
            servers = ServerCpu(chroma.proc.pid, cluster.dir / "data")
            print(f"cluster on {cluster.url('scale')}, chroma on {chroma.url}; setup "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
            done, flip = 0, 0
            for step in steps:
                part = pairs[done:step]
                before = {e: dict(timers[e]) for e in ENGINES}
                wall = dict.fromkeys(ENGINES, 0.0)
                cpu = dict.fromkeys(ENGINES, 0.0)
                srv = {"chroma": 0.0, "postgres": 0.0}
                outcomes: dict[str, list[Any]] = {e: [] for e in ENGINES}
                load = os.getloadavg()[0]
                for lo in range(0, len(part), slice_rows):
                    chunk = part[lo : lo + slice_rows]
                    for e in (ENGINES if flip % 2 == 0 else ENGINES[::-1]):
                        c0, s0, t = os.times(), servers.read(), time.perf_counter()
                        outcomes[e] += ingest_batch(stores[e], chunk, max_chars=max_chars)
                        wall[e] += time.perf_counter() - t
                        c1 = os.times()
                        cpu[e] += (c1.user - c0.user) + (c1.system - c0.system)
                        if e == "postgres":
                            for k, v in ServerCpu.delta(s0, servers.read()).items():
                                srv[k] += v
                    flip += 1
                row: dict[str, Any] = {"rows": step, "load": load, "engines": {}}
                for e in ENGINES:
                    ok = [o for o in outcomes[e] if o.status != "failed"]
                    st = stores[e].stats()
                    row["engines"][e] = {
                        "articles": st["articles"], "added": len(ok), "failed": len(outcomes[e]) - len(ok),
                        "sentences_added": sum(o.sentences for o in ok), "chunks_added": sum(o.chunks for o in ok),
                        "sentence_vectors": st["sentence_vectors"], "chunk_vectors": st["chunk_vectors"],
                        "ingest_s": wall[e], "ingest_cpu_s": cpu[e], "breakdown": _breakdown(timers[e], before[e])}
                row["engines"]["postgres"]["server_cpu_s"] = srv
                row["latency"] = latency(sq_client, [a_client, b_client], questions)
                row["load_after"] = os.getloadavg()[0]
                out.append(row)
                done = step
                print(summary_line(row), file=sys.stderr, flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        shutil.rmtree(root, ignore_errors=True)
    return {"steps": out, "data": str(data), "slice_rows": slice_rows, "pg_nodes": 2,
            "total_s": time.perf_counter() - started}


def _per_article_ms(e: dict[str, Any]) -> float:
    return e["ingest_s"] / max(e["added"], 1) * 1000


def summary_line(row: dict[str, Any]) -> str:
    bits = []
    for e in ENGINES:
        g, lat = row["engines"][e], row["latency"][e]
        bits.append(f"{e}: {g['articles']} art, {g['added'] / max(g['ingest_s'], 1e-9):.2f} art/s "
                    f"({_per_article_ms(g):.0f} ms/art), search p50/p95 {lat['search']['p50']:.1f}/"
                    f"{lat['search']['p95']:.1f}, ask {lat['ask']['p50']:.1f}/{lat['ask']['p95']:.1f}")
    return "; ".join(bits) + f"; same top {row['latency']['same_top']}/{row['latency']['sqlite']['n']}; " \
                             f"load {row['load']:.2f}"


def render(res: dict[str, Any]) -> str:
    ingest_rows, lat_rows, ratio_rows = [], [], []
    for s in res["steps"]:
        lat = s["latency"]
        for e in ENGINES:
            g = s["engines"][e]
            per = _per_article_ms(g) / 1000
            bd = g["breakdown"]
            n = max(g["added"], 1)
            srv = g.get("server_cpu_s")
            ingest_rows.append([
                f"{g['articles']:,}", e, f"+{g['added']:,}", f"{g['sentences_added']:,}", f"{g['ingest_s']:,.1f}",
                f"{g['added'] / max(g['ingest_s'], 1e-9):.2f}", f"{per * 1000:,.0f}",
                f"{bd['embed'] / n * 1000:,.0f}", f"{bd['chroma_upsert'] / n * 1000:,.1f}",
                f"{bd['catalogue'] / n * 1000:,.1f}", f"{bd['process'] / n * 1000:,.1f}",
                f"{g['ingest_cpu_s'] / n * 1000:,.0f}",
                f"{srv['chroma'] / n * 1000:,.1f} / {srv['postgres'] / n * 1000:,.1f}" if srv else "in process",
                f"{g['sentence_vectors']:,}"])
            le = lat[e]
            se, a = le["search"], le["ask"]
            parts = ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in le["ask_timings_p50"].items())
            lat_rows.append([f"{g['articles']:,}", e, f"{se['p50']:.1f}", f"{se['p95']:.1f}", f"{a['p50']:.1f}",
                             f"{a['p95']:.1f}", f"{le['abstained']}/{le['n']}", parts])
        sq, pg = s["engines"]["sqlite"], s["engines"]["postgres"]
        ls, lp = lat["sqlite"], lat["postgres"]
        nodes = lat["by_node"]

        def node_ratio(n: str, kind: str, nodes: dict[str, Any] = nodes) -> str:
            return f"{nodes[f'{n}:postgres:{kind}']['p50'] / nodes[f'{n}:sqlite:{kind}']['p50']:.2f}×"
        ratio_rows.append([
            f"{pg['articles']:,}", f"{_per_article_ms(pg) / _per_article_ms(sq):.2f}×",
            f"{lp['search']['p50'] / ls['search']['p50']:.2f}×", f"{lp['search']['p95'] / ls['search']['p95']:.2f}×",
            f"{lp['ask']['p50'] / ls['ask']['p50']:.2f}×", f"{lp['ask']['p95'] / ls['ask']['p95']:.2f}×",
            f"{node_ratio('A', 'search')} / {node_ratio('B', 'search')}",
            f"{node_ratio('A', 'ask')} / {node_ratio('B', 'ask')}", f"{lat['same_top']}/{ls['n']}",
            f"{s['load']:.2f} → {s['load_after']:.2f}"])
    lines = [
        "## Scale curve on both engines: SQLite (1 node) against PostgreSQL + Chroma server (2 nodes) (issue 21)",
        "",
        f"Measured {res['date']} on {res['machine']}, {res['idle']}; commit {res['commit']}. Command: "
        f"`{res['command']}`. 1-min load average before: {res['load_before']:.2f}, after: {res['load_after']:.2f}; "
        f"{res['total_s'] / 60:.1f} min in all.", "",
        f"The RealTimeQA corpus (`{res['data']}`) in file order, step by step, through `ingest_batch` into a SQLite "
        "node (embedded Chroma) and through node A of two PostgreSQL nodes (throwaway PostgreSQL 15, `fsync=off`, "
        f"and a `chroma run` server, both on loopback), in alternating slices of {res['slice_rows']} rows. "
        "After each step the 120 January questions go to `/v1/search` (k=8) and `/v1/ask` (fake backend) on the "
        "SQLite node and on node A or B in turn, interleaved; in-process ASGI calls, one shared embedder.", "",
        "### Ingest, per step (ms per article of the step)", "",
        "*server CPU*: CPU the Chroma server / the PostgreSQL processes used during node A's ingest, per article "
        "(the SQLite node does that work in its own process, inside *process CPU*).", "",
        md_table(["articles", "engine", "step", "sentences", "wall s", "articles/s", "ms / article", "embed",
                  "Chroma upsert", "catalogue publish + journal", "segment + chunk", "process CPU",
                  "server CPU Chroma / PG", "sentence vectors"], ingest_rows), "",
        "### /v1/search and /v1/ask (fake backend) latency, ms", "",
        md_table(["articles", "engine", "search p50", "search p95", "ask p50", "ask p95", "ask abstained",
                  "ask server timings p50 (ms)"], lat_rows), "",
        "### postgres / sqlite, same run", "",
        md_table(["articles", "ingest ms / article", "search p50", "search p95", "ask p50", "ask p95",
                  "search p50 on A's / B's questions", "ask p50 on A's / B's questions", "same top search hit",
                  "load"], ratio_rows), "",
        "Nodes A and B answer different halves of the questions (A: 0, 1, 4, 5, ...; B: 2, 3, 6, 7, ...), so "
        "each node is compared with the SQLite node on its own half.", "",
    ]
    if res.get("notes"):
        lines += [res["notes"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale_engines", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--steps", default="100,200,400,800,1501")
    ap.add_argument("--slice", type=int, default=50, help="rows per alternating ingest slice")
    add_report_args(ap, notes="a paragraph added under the tables")
    ap.set_defaults(json=DEFAULT_JSON)
    args = ap.parse_args(argv)

    def measure(workdir: Path) -> dict[str, Any]:
        from service.tokens import seed_tiktoken_cache

        seed_tiktoken_cache()
        return run(sorted(int(s) for s in args.steps.split(",")), args.data, workdir, max(1, args.slice))

    measure_and_report(args, argv, "benchmarks.scale_engines", MARKER, measure, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
