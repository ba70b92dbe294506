"""Helpers of the kill -9 proofs on PostgreSQL (tests/pg/test_crash_pg.py): short real articles,
clients that post them in batches and record what was acknowledged, and a check of both stores
(the PostgreSQL catalogue with its BM25 postings, and the Chroma server) for half-written articles.

The SQLite counterpart is benchmarks/crash.py; this reuses its Chroma reader and the service
harness of benchmarks/harness.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chromadb
import httpx

from benchmarks.crash import _read_all
from benchmarks.harness import synthetic_articles
from evals.datasets.realtimeqa import to_article
from service.config import REPO_ROOT
from vectorstore.server import ChromaServer

DOCS = "realtimeqa_2023/docs_gcs.jsonl"
DATA_DIRS = (REPO_ROOT.parent / "shared" / "data", Path("/work/shared/data"), REPO_ROOT / "evals" / "data")
MAX_CHARS = 700


def short_articles(n: int, *, prefix: str = "rt-") -> list[dict[str, Any]]:
    """``n`` short articles of real news text: the opening paragraphs (up to ~700 characters) of
    RealTimeQA documents, from the full data set when this machine has it, else the in-repo
    sample (83 documents), topped up with benchmarks/harness.py's synthetic articles."""
    path = next((d / DOCS for d in DATA_DIRS if (d / DOCS).exists()), None)
    out: list[dict[str, Any]] = []
    if path is not None:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if len(out) >= n:
                    break
                doc = json.loads(line)
                text = _opening(doc.get("text") or "")
                if len(text) < 120:
                    continue
                out.append({**to_article(doc), "id": f"{prefix}{len(out):05d}", "text": text})
    if len(out) < n:
        out += synthetic_articles(n - len(out), prefix=f"{prefix}s", seed=7)
    return out


def _opening(text: str) -> str:
    """Whole paragraphs from the start, up to MAX_CHARS (at least the first one, cut at MAX_CHARS)."""
    kept: list[str] = []
    for para in (p.strip() for p in text.split("\n\n")):
        if not para:
            continue
        if kept and sum(len(k) + 2 for k in kept) + len(para) > MAX_CHARS:
            break
        kept.append(para[:MAX_CHARS])
    return "\n\n".join(kept)


class Clients:
    """``threads`` clients posting ``batches`` to ``url()`` until each batch was acknowledged.

    A batch whose response is not 2xx (or that never got one) goes back to the queue.  Recorded:
    the ids acknowledged (an item of a 200 or 207 answer with a status other than ``failed``), every
    status with the seconds it took, whether non-2xx answers were problem+json with a Retry-After,
    and transport errors by type.  ``pause()`` holds the clients between requests; ``idle()`` waits
    until none is in flight.
    """

    def __init__(self, url: Callable[[], str], batches: list[list[dict[str, Any]]], *, threads: int = 2,
                 timeout_s: float = 120.0) -> None:
        self.url = url
        self.batches = batches
        self.todo = list(range(len(batches)))
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.in_flight: dict[int, int] = {}
        self.statuses: Counter[int] = Counter()
        self.transport: Counter[str] = Counter()
        self.not_problem: list[str] = []  # non-2xx answers that were not problem+json with Retry-After
        self.slowest_error_s = 0.0
        self._go = threading.Event()
        self._go.set()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> Clients:
        for t in self._threads:
            t.start()
        return self

    def _run(self, worker: int) -> None:
        while True:
            self._go.wait()
            with self.lock:
                if not self.todo:
                    return
                b = self.todo.pop(0)
                self.in_flight[worker] = b
            started = time.monotonic()
            ok = False
            try:
                r = httpx.post(self.url() + "/v1/articles", json=self.batches[b], timeout=self.timeout_s)
                took = time.monotonic() - started
                ok = r.status_code in (200, 207)
                with self.lock:
                    self.statuses[r.status_code] += 1
                    if ok:
                        self.acked.update(i["id"] for i in r.json()["results"] if i["status"] != "failed")
                    else:
                        self.slowest_error_s = max(self.slowest_error_s, took)
                        if (not r.headers.get("content-type", "").startswith("application/problem+json")
                                or r.json().get("status") != r.status_code
                                or (r.status_code == 503 and "retry-after" not in r.headers)):
                            self.not_problem.append(f"{r.status_code} {r.headers.get('content-type')}: {r.text[:300]}")
            except httpx.TransportError as exc:
                with self.lock:
                    self.transport[type(exc).__name__] += 1
            with self.lock:
                self.in_flight.pop(worker, None)
                if not ok:
                    self.todo.append(b)  # ingest is idempotent: retried later
            if not ok:
                time.sleep(0.3)

    def wait_acked(self, n: int, timeout_s: float = 600.0) -> None:
        """Until ``n`` articles are acknowledged and a batch is in flight (so a kill cuts one off)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.acked) >= n and self.in_flight:
                    return
                if any(400 <= s < 500 for s in self.statuses):  # a bad request never gets better
                    break
            time.sleep(0.02)
        raise TimeoutError(f"only {len(self.acked)} of {n} articles acknowledged in {timeout_s:g} s: "
                           f"{dict(self.statuses)} {dict(self.transport)} {self.not_problem[:2]}")

    def snapshot(self) -> tuple[set[str], set[str]]:
        """(acknowledged ids, ids of the batches in flight)."""
        with self.lock:
            return set(self.acked), {d["id"] for b in self.in_flight.values() for d in self.batches[b]}

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def idle(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError("requests still in flight")
            time.sleep(0.05)

    def join(self, timeout_s: float = 1800.0) -> None:
        self.resume()
        for t in self._threads:
            t.join(timeout_s)
        assert not any(t.is_alive() for t in self._threads), "clients did not finish"


def check_stores(url: str, chroma: ChromaServer, prefix: str, expected: dict[str, dict[str, Any]],
                 *, vectors: bool = True) -> dict[str, Any]:
    """What is visible and what is half-written, read straight from PostgreSQL (one snapshot) and
    the Chroma server.  An article is *whole* when it has all its indexed sentences, every one
    with its lexemes, length and postings, and its published version's sentence and chunk vectors.
    ``vectors=False`` skips Chroma (when only the catalogue can be read)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        arts = conn.execute("SELECT id, version, sentence_count, chunk_count, text FROM articles").fetchall()
        sents = conn.execute('SELECT article_id, idx, start, "end", text, boilerplate, sid, dl, lexemes '
                             "FROM sentences").fetchall()
        postings = {r["sid"]: r["n"] for r in conn.execute(
            "SELECT sid, COUNT(*) AS n FROM lexical_postings GROUP BY sid").fetchall()}
        stats = conn.execute("SELECT docs, tokens FROM lexical_stats WHERE id = 1").fetchone()
        journal = conn.execute("SELECT COUNT(*) AS n FROM journal").fetchone()["n"]  # type: ignore[index]
    texts = {a["id"]: a["text"] for a in arts}
    by_article: dict[str, list[dict[str, Any]]] = {}
    for s in sents:
        by_article.setdefault(s["article_id"], []).append(s)
    indexed = [s for s in sents if s["boilerplate"] is None]
    per_version: dict[str, Counter[tuple[str, str]]] = {}
    if vectors:
        client = chromadb.HttpClient(host=chroma.host, port=chroma.port)
        for kind in ("sentences", "chunks"):
            metas, _ = _read_all(client.get_collection(f"{prefix}_{kind}", embedding_function=None))
            per_version[kind] = Counter((m["article_id"], m["version"]) for m in metas)
    half: list[str] = []
    for a in arts:
        mine = [s for s in by_article.get(a["id"], []) if s["boilerplate"] is None]
        whole = len(mine) == a["sentence_count"] and all(
            s["dl"] is not None and s["lexemes"] is not None and postings.get(s["sid"], 0) == len(set(s["lexemes"]))
            for s in mine)
        if vectors:
            key = (a["id"], a["version"])
            whole = whole and (per_version["sentences"][key], per_version["chunks"][key]) == (
                a["sentence_count"], a["chunk_count"])
        if not whole:
            half.append(a["id"])
    published = {(a["id"], a["version"]) for a in arts}
    known_sids = {s["sid"] for s in sents}
    return {
        "visible": {a["id"] for a in arts},
        "half": half,
        "wrong_text": [a["id"] for a in arts if a["id"] in expected and a["text"] != expected[a["id"]]["text"]],
        "bad_slices": [(s["article_id"], s["idx"]) for s in sents
                       if texts.get(s["article_id"], "")[s["start"]: s["end"]] != s["text"]],
        "orphan_postings": sum(n for sid, n in postings.items() if sid not in known_sids),
        "stats_match": (stats["docs"], stats["tokens"]) == (  # type: ignore[index]
            len(indexed), sum(s["dl"] or 0 for s in indexed)),
        "journal": journal,
        "orphan_vectors": sum(n for kind in per_version.values() for key, n in kind.items() if key not in published),
        "longest": {aid: max((s for s in rows if s["boilerplate"] is None), key=lambda s: len(s["text"]))["text"]
                    for aid, rows in by_article.items() if any(s["boilerplate"] is None for s in rows)},
    }


def assert_whole(state: dict[str, Any], *, journal_empty: bool = True) -> None:
    """No half-written article, no text or offset that disagrees, no stray posting; and, once a
    writer has repaired, an empty journal and no vector of an unpublished version."""
    assert state["half"] == [], f"half-written articles: {state['half'][:10]}"
    assert state["wrong_text"] == [] and state["bad_slices"] == [], (state["wrong_text"][:5], state["bad_slices"][:5])
    assert state["orphan_postings"] == 0 and state["stats_match"], state["orphan_postings"]
    if journal_empty:
        assert state["journal"] == 0, f"{state['journal']} journal entries left after repair"
        assert state["orphan_vectors"] == 0, f"{state['orphan_vectors']} vectors of unpublished versions"


def not_found_lexically(base_url: str, state: dict[str, Any], ids: set[str]) -> list[str]:
    """The ids that ``GET /v1/articles?q=<their longest sentence>`` (BM25 on PostgreSQL) does not
    list among its first 50 matches."""
    missing = []
    with httpx.Client(base_url=base_url, timeout=60) as c:
        for aid in sorted(ids):
            if aid not in state["longest"]:  # nothing indexed (all boilerplate): nothing to find
                missing.append(aid)
                continue
            q = state["longest"][aid][:480]
            r = c.get("/v1/articles", params={"q": q, "limit": 50})
            assert r.status_code == 200, r.text
            if aid not in {i["id"] for i in r.json()["items"]}:
                missing.append(aid)
    return missing
