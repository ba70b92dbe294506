"""kill -9 in the middle of an ingest, then check that nothing is half-indexed and nothing
acknowledged is lost.

    nice -n 19 .venv/bin/python -m benchmarks.crash --articles 1000 --kill service
    nice -n 19 .venv/bin/python -m benchmarks.crash --articles 1000 --kill chroma

Set-up: one ``chroma run`` and ``newsdesk serve --workers 2`` on it (the team deployment),
two clients posting batches at once.  Each time a ``--kill-at`` fraction of the articles is
acknowledged (plus a random delay of up to ``--jitter`` s, so kills land in different phases
of a write: embedding, vector upsert, publish):

* ``service``: SIGKILL the serve process group (parent and both workers), restart it;
* ``chroma``: SIGKILL the Chroma server, restart it on the same port and directory (the
  service keeps running and answers 503 store-unavailable meanwhile).

Right after the restart (before any retry) and again at the end, it checks:
1. no article is half-indexed: every visible article has exactly its published version's
   sentence and chunk vectors, its sentences slice its text, and the write journal is empty
   once a writer has run;
2. every acknowledged article is there and whole.
Then the clients retry what was not acknowledged until everything is in.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import chromadb
import httpx

from benchmarks.harness import Service, start_service, synthetic_articles
from vectorstore.server import ChromaServer


def check_store(data: Path, chroma: ChromaServer, expected: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts of visible, half-indexed and mismatching articles, straight from both stores."""
    db = sqlite3.connect(data / "catalog.sqlite3", timeout=30)
    rows = db.execute("SELECT id, version, sentence_count, chunk_count, text FROM articles").fetchall()
    sentences = {(a, i): (s, e, t) for a, i, s, e, t in
                 db.execute('SELECT article_id, idx, start, "end", text FROM sentences').fetchall()}
    pending = db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
    db.close()
    client = chromadb.HttpClient(host=chroma.host, port=chroma.port)
    per_version: dict[str, Counter[tuple[str, str]]] = {}
    unreadable_s = 0.0
    for kind in ("sentences", "chunks"):
        col = client.get_collection(f"newsdesk_{kind}", embedding_function=None)
        metas, waited = _read_all(col)
        unreadable_s = max(unreadable_s, waited)
        per_version[kind] = Counter((m["article_id"], m["version"]) for m in metas)
    half, wrong_text = [], []
    for aid, version, n_sent, n_chunk, text in rows:
        if per_version["sentences"][(aid, version)] != n_sent or per_version["chunks"][(aid, version)] != n_chunk:
            half.append(aid)
        if aid in expected and text != expected[aid]["text"]:
            wrong_text.append(aid)
    texts = {r[0]: r[4] for r in rows}
    bad_slices = sum(1 for (aid, _), (s, e, t) in sentences.items() if texts.get(aid, "")[s:e] != t)
    visible = {r[0] for r in rows}
    orphan_vectors = sum(n for (aid, ver), n in per_version["sentences"].items()
                         if (aid, ver) not in {(r[0], r[1]) for r in rows})
    return {"visible": len(visible), "half_indexed": len(half), "half_examples": half[:5],
            "wrong_text": len(wrong_text), "bad_sentence_slices": bad_slices, "journal_pending": pending,
            "orphan_sentence_vectors": orphan_vectors, "chroma_unreadable_s": round(unreadable_s, 1),
            "visible_ids": visible}


def _read_all(col: Any, timeout_s: float = 120.0) -> tuple[list[Any], float]:
    """Every metadata of a collection, waiting while a restarted Chroma server still recovers.

    After a kill -9, chromadb 1.5.9 has answered reads for a while with ``InternalError: Error
    sending backfill request to compactor: Failed to apply logs to the hnsw segment writer``.
    Returns (metadatas, seconds spent waiting); raises if it never recovers.
    """
    from chromadb.errors import InternalError

    started = time.monotonic()
    while True:
        try:
            return list(col.get(include=["metadatas"])["metadatas"] or []), time.monotonic() - started
        except InternalError:
            if time.monotonic() - started > timeout_s:
                raise
            time.sleep(0.5)


def run(root: Path, *, articles: int = 1000, batch: int = 20, kill: str = "service",
        kill_points: tuple[float, ...] = (0.4,), jitter_s: float = 1.5, workers: int = 2,
        seed: int = 11) -> dict[str, Any]:
    data = root / "data"
    chroma = ChromaServer(data / "chroma", log_file=root / "chroma.log", nice=19).start()
    svc: Service | None = None
    try:
        env = {"chroma_host": chroma.host, "chroma_port": chroma.port, "rate_limit_default": "off",
               "rate_limit_model": "off", "max_inflight_requests": 1000}
        svc = start_service(data, workers=workers, **env)
        docs = synthetic_articles(articles, prefix="c-", seed=seed)
        expected = {d["id"]: d for d in docs}
        batches = [docs[i : i + batch] for i in range(0, len(docs), batch)]
        acked: set[str] = set()
        lock = threading.Lock()
        todo = list(range(len(batches)))
        in_flight: dict[int, int] = {}
        failures: Counter[str] = Counter()
        resumed = threading.Event()
        resumed.set()
        current: dict[str, Service] = {"svc": svc}

        def client(worker: int) -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    b = todo.pop(0)
                    in_flight[worker] = b
                resumed.wait()
                try:
                    r = httpx.post(current["svc"].url + "/v1/articles", json=batches[b], timeout=300)
                    ok = r.status_code == 200
                    if not ok:
                        failures[f"http {r.status_code}"] += 1
                except httpx.TransportError as exc:
                    ok = False
                    failures[type(exc).__name__] += 1
                with lock:
                    in_flight.pop(worker, None)
                    if ok:
                        acked.update(d["id"] for d in batches[b])
                    else:
                        todo.append(b)  # retried later: ingest is idempotent
                if not ok:
                    time.sleep(0.5)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(2)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        rounds: list[dict[str, Any]] = []
        rnd = random.Random(seed)
        for point in kill_points:
            while True:
                with lock:
                    n_acked = len(acked)
                    flying = list(in_flight.values())
                if n_acked >= int(articles * point) and flying:
                    break
                time.sleep(0.05)
            time.sleep(rnd.uniform(0.0, jitter_s))  # land the kill in a different phase of the write each time
            resumed.clear()  # hold the clients between requests; the in-flight ones are cut off
            killed_at = time.perf_counter()
            with lock:
                acked_at_kill = set(acked)
                flying_ids = {d["id"] for b in in_flight.values() for d in batches[b]}
            if kill == "service":
                svc.kill9()
                after_kill = check_store(data, chroma, expected)  # before any restart or repair
                svc = current["svc"] = start_service(data, workers=workers, **env)
            else:
                chroma.kill()
                time.sleep(1.0)  # requests in flight meet a dead store
                after_kill = check_store_safely(data)
                chroma.start()  # same port, same directory
            recovered_s = time.perf_counter() - killed_at
            after_restart = check_store(data, chroma, expected)
            missing = acked_at_kill - after_restart["visible_ids"]
            rounds.append({"acked_at_kill": len(acked_at_kill), "in_flight_at_kill": len(flying_ids),
                           "recovery_s": round(recovered_s, 1), "after_kill": _public(after_kill),
                           "after_restart": _public(after_restart), "acked_missing_after_restart": len(missing),
                           "in_flight_visible_after_restart": len(flying_ids & after_restart["visible_ids"])})
            resumed.set()
        for t in threads:
            t.join(3600)
        elapsed = time.perf_counter() - started
        final = check_store(data, chroma, expected)
        with httpx.Client(base_url=svc.url, timeout=60) as c:  # through the API as well
            sample = sorted(expected)[:: max(1, articles // 50)]
            api_whole = sum(1 for aid in sample if c.get(f"/v1/articles/{aid}").json().get("text")
                            == expected[aid]["text"])
        result = {
            "articles": articles, "batch": batch, "workers": workers, "kill": kill, "kills": len(rounds),
            "total_s": round(elapsed, 1), "client_failures": dict(failures), "rounds": rounds,
            "final": _public(final), "acked_final": len(acked),
            "acked_missing_final": len(set(expected) - final["visible_ids"]),
            "api_sample_whole": f"{api_whole}/{len(sample)}",
        }
        result["ok"] = (all(r["after_restart"]["half_indexed"] == 0 and r["acked_missing_after_restart"] == 0
                            for r in rounds)
                        and final["half_indexed"] == 0 and result["acked_missing_final"] == 0
                        and final["journal_pending"] == 0 and final["wrong_text"] == 0
                        and final["bad_sentence_slices"] == 0 and final["orphan_sentence_vectors"] == 0
                        and api_whole == len(sample))
        return result
    finally:
        if svc is not None:
            svc.terminate()
        chroma.stop()


def check_store_safely(data: Path) -> dict[str, Any]:
    """With Chroma down only the catalogue can be read: what is visible, and what is pending."""
    db = sqlite3.connect(data / "catalog.sqlite3", timeout=30)
    out = {"visible": db.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
           "journal_pending": db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]}
    db.close()
    return out


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "visible_ids"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--kill", choices=("service", "chroma"), default="service")
    ap.add_argument("--kill-at", default="0.2,0.4,0.6,0.8",
                    help="fractions acknowledged when each kill comes (one kill and restart per value)")
    ap.add_argument("--jitter", type=float, default=1.5, help="random extra delay before each kill, seconds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsdesk-crash-") as tmp:
        res = run(Path(tmp), articles=args.articles, batch=args.batch, kill=args.kill,
                  kill_points=tuple(float(x) for x in args.kill_at.split(",")), jitter_s=args.jitter,
                  workers=args.workers)
    res["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    sys.exit(0 if res["ok"] else 1)


if __name__ == "__main__":
    main()
