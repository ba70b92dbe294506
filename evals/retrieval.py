"""Evidence retrieval on the dev sets: which fusion of our rankers finds the gold sentences.

For every question, :meth:`Retriever.candidates` gathers the dense, BM25 and chunk signals once;
each fusion in :data:`VARIANTS` ranks those same candidates, so differences are the fusion's
alone.  Gold:

* HotpotQA: the supporting-fact sentences (character spans; recall@k, MRR);
* tricky: the hand-marked gold quotes;
* RealTimeQA (answerable questions): any sentence that holds the answer text ("hit@k").

``python -m evals.retrieval --data-dir ../shared/data --write docs/retrieval.md``
"""

from __future__ import annotations

import argparse
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
from evals.metrics.support import Span
from service.config import REPO_ROOT, Settings, get_settings
from service.ingest.pipeline import ingest_batch
from service.retrieval.search import DEFAULT_FUSION, Fusion, Key, fuse
from service.runtime import Services, build_services
from service.store.catalog import TITLE_WEIGHT, Filters

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
HOP = "service search() + second hop (what /v1/ask shows the model)"
TITLE_WEIGHTS = (0.0, 0.5, 1.0)
"""BM25 weight of the headline column next to the sentence (weight 1)."""
SETS = {
    "hotpotqa": ("hotpotqa", "evals/data/hotpotqa/hotpotqa_dev_distractor_20.jsonl",
                 "hotpotqa/hotpotqa_dev_distractor_50a.jsonl"),
    "tricky": ("cases", "evals/data/tricky.jsonl", None),
    "realtimeqa": ("realtimeqa", "evals/data/realtimeqa_2023/questions_2023-01.jsonl",
                   "realtimeqa_2023/questions_2023-01.jsonl"),
}


@dataclass(slots=True)
class Scores:
    recall5: list[float] = field(default_factory=list)
    recall10: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)

    def row(self) -> tuple[float, float, float, int]:
        return (float(np.mean(self.recall5)), float(np.mean(self.recall10)), float(np.mean(self.mrr)),
                len(self.recall5))


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
    return base.model_copy(update={"data_dir": work / "stores" / f"retrieval-{name}-{digest}"})


def open_store(name: str, dataset: Dataset, cases: list[Case], work: Path, tag: str) -> Services:
    services = build_services(store_settings(name, work, tag))
    articles = dataset.corpus(cases)
    outcomes = ingest_batch(services.store, [(a["id"], a) for a in articles],
                            max_chars=services.settings.max_article_chars, prefix=lambda i: "")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} articles of {name} failed to ingest")
    return services


def run_set(name: str, data_dir: Path | None, work: Path, limit: int | None) -> dict[str, Scores]:
    fmt, dev, full = SETS[name]
    path = data_dir / full if data_dir is not None and full else REPO_ROOT / dev
    dataset = load_dataset(fmt, path)
    cases = dataset.select(limit)
    services = open_store(name, dataset, cases, work, str(path.resolve()) + str(limit))
    labels = [f"{name}, headline {w:g}" for w in TITLE_WEIGHTS for name in FUSIONS if not (
        FUSIONS[name].method == "dense" and w != TITLE_WEIGHTS[0])]
    results = {label: Scores() for label in ["service search()", HOP, *labels]}
    try:
        for case in cases:
            if not case.gold.support and not (fmt == "realtimeqa" and case.gold.answerable):
                continue
            filters = Filters(article_ids=case.article_ids)
            qvec = np.asarray(services.embedder.embed([case.question])[0], dtype=np.float32)
            hits = services.retriever.search(case.question, k=10, filters=filters, candidates=40).sentences
            hop = [(h.article_id, h.index) for h in services.retriever.second_hop(case.question, hits, k=10,
                                                                                   filters=filters)]
            gold: list[set[Key]] | None = None
            for w in TITLE_WEIGHTS:
                cands, _, visible = services.retriever.candidates(case.question, qvec, filters, 60, title_weight=w)
                services.retriever.fill_cosines(list(cands), cands, qvec, visible)
                if gold is None:  # over every sentence either ranking holds
                    gold = gold_keys(services, case, [*cands, *hop])
                    score([(h.article_id, h.index) for h in hits], gold, results["service search()"])
                    score(hop, gold, results[HOP])
                for name, fusion in FUSIONS.items():
                    label = f"{name}, headline {w:g}"
                    if label in results:
                        fused = fuse(cands, fusion)
                        score(sorted(fused, key=lambda k: -fused[k]), gold, results[label])
    finally:
        services.close()
    return results


def render(results: dict[str, dict[str, Scores]], meta: str) -> str:
    lines = [meta, ""]
    for name, by_variant in results.items():
        lines += [f"### {name}", "", "| fusion | R@5 | R@10 | MRR | n |", "|---|---|---|---|---|"]
        for label, s in by_variant.items():
            r5, r10, mrr, n = s.row()
            name, _, weight = label.rpartition(", headline ")
            production = FUSIONS.get(name) == DEFAULT_FUSION and weight and float(weight) == TITLE_WEIGHT
            mark = " **(production)**" if production else ""
            lines.append(f"| {label}{mark} | {r5:.3f} | {r10:.3f} | {mrr:.3f} | {n} |")
        lines.append("")
    return "\n".join(lines)


def vectors_note(settings: Settings) -> str:
    if settings.sentence_vectors == "separate":
        return "separate (NEWSDESK_SENTENCE_VECTORS=separate)"
    return f"late, windows of {settings.late_window_tokens} tokens"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.retrieval", description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="full data sets (../shared/data)")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--write", type=Path, default=None, help="write the tables to this markdown file")
    args = ap.parse_args(argv)
    work = get_settings().cache_dir / "evals"
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    results = {name: run_set(name, args.data_dir, work, args.limit) for name in args.sets}
    meta = (f"Measured {datetime.now(UTC):%Y-%m-%d} with `python -m evals.retrieval"
            f"{' --data-dir ' + str(args.data_dir) if args.data_dir else ''}` in {time.perf_counter() - t0:.0f} s; "
            f"{os.cpu_count()} CPUs, load average {load:.1f} at start; sentence vectors: "
            f"{vectors_note(get_settings())}.")
    text = render(results, meta)
    print(text)
    if args.write:
        args.write.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
