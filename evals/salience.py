"""How good is summary@v2's choice of key sentences, before the model touches them?

    python -m evals.salience --data-dir ../shared/data --fit --out docs/summary_selection.json

No model: every case of the summary data sets (the full dev files with ``--data-dir``) is
ingested with the fake backend, and the key sentences each scorer picks are scored, quoted as
they are, against the reference -- next to the lead baseline -- on **both** folds, per data set.
Hundreds of cases a set instead of the suites' 24, so a selection change is judged on the tuning
fold and kept only when the check fold agrees.

Scorers: the service's hand-set weights (centrality + lead prior) and variants of them, and a
learned one: each input sentence labelled with its overlap with the reference (mean of ROUGE-1
and ROUGE-2 precision), a ridge regression over cheap features (:data:`FEATURES`) fitted on the
tuning fold's cases only, each case weighted equally.  (Measured 2026-12-07: the learned scorer
lost to or tied the hand-set one on both folds of every set, by 0.11 ROUGE-1 on CNN/DM -- one pooled
model cannot serve single articles, where position rules, and multi-outlet inputs, where
cross-outlet agreement does -- so the service does not use it.)
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.datasets import load_dataset
from evals.folds import FOLDS, fold_of
from evals.metrics.rouge import _scorer, rouge
from evals.stats import bootstrap_ci
from evals.suite import load_suite
from evals.tasks.summarize import LEAD_SENTENCES, lead
from service.config import Settings
from service.generation import summarize as S
from service.generation.selection import Weights, article_hits
from service.ingest.article import ArticleInput
from service.retrieval.search import SentenceHit
from service.runtime import build_services
from service.verify.neutrality import complete_pairs

SUITES = ("frank-cnndm-summary@1", "neus-summary@1", "allsides-summary@1", "multinews-summary@1")
RIDGE = 1.0


FEATURES = ("lead", "first", "position", "central", "central_other", "tokens", "short", "quote", "digits",
            "said", "article_rank")
_QUOTE = re.compile(r"^[\"“‘']|[\"“”]\s*$")
_SAID = re.compile(r"\b(said|says|told|according to|announced|stated)\b", re.IGNORECASE)


def features(hits: Sequence[SentenceHit], vectors: np.ndarray) -> np.ndarray:
    """One row per hit, columns in :data:`FEATURES` order."""
    n = len(hits)
    if n == 0:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    sims = vectors @ vectors.T
    central = (sims.sum(axis=1) - 1.0) / max(n - 1, 1)
    articles = list(dict.fromkeys(h.article_id for h in hits))
    rank = {a: i for i, a in enumerate(articles)}
    sizes = {a: sum(1 for h in hits if h.article_id == a) for a in articles}
    other = np.zeros(n, dtype=np.float32)
    if len(articles) > 1:
        same = np.array([[a.article_id == b.article_id for b in hits] for a in hits])
        other = np.where(same, -1.0, sims).max(axis=1).clip(0.0, 1.0)
    rows = []
    for i, h in enumerate(hits):
        words = len(h.text.split())
        rows.append([
            1.0 / np.sqrt(1.0 + h.index), float(h.index == 0), h.index / max(sizes[h.article_id], 1),
            0.0, float(other[i]), min(words, 60) / 60.0, float(words < 8), float(bool(_QUOTE.search(h.text))),
            float(any(c.isdigit() for c in h.text)), float(bool(_SAID.search(h.text))),
            rank[h.article_id] / max(len(articles) - 1, 1),
        ])
    out = np.asarray(rows, dtype=np.float32)
    span = float(central.max() - central.min())
    out[:, FEATURES.index("central")] = (central - central.min()) / span if span > 1e-9 else 1.0
    return out



def learned_scores(hits: Sequence[SentenceHit], vectors: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """The fitted linear score, scaled to [0, 1] within the input (MMR trades it off against novelty)."""
    x = features(hits, vectors)
    mean = np.asarray(params["mean"], dtype=np.float32)
    scale = np.asarray(params["scale"], dtype=np.float32)
    raw = ((x - mean) / scale) @ np.asarray(params["weights"], dtype=np.float32) + float(params["bias"])
    span = float(raw.max() - raw.min()) if raw.size else 0.0
    return ((raw - raw.min()) / span if span > 1e-9 else np.ones_like(raw)).astype(np.float32)


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def label(text: str, reference: str) -> float:
    s = _scorer().score(reference, text)
    return 0.5 * (s["rouge1"].precision + s["rouge2"].precision)


def collect(suite_ref: str, data_dir: Path | None, limit: int | None) -> list[dict[str, Any]]:
    """Per case: its pool, features, labels, fold and the lead baseline's ROUGE."""
    suite = load_suite(suite_ref)
    ds = load_dataset(suite.dataset.format, suite.dataset_path(data_dir))
    cases = ds.select(limit)
    length = suite.summary_length or "short"
    out = []
    with tempfile.TemporaryDirectory(prefix="newsdesk-salience-") as tmp:
        svc = build_services(Settings(data_dir=Path(tmp), llm_backend="fake"))
        try:
            corpus = [ArticleInput(**a) for a in ds.corpus(cases)]
            for i in range(0, len(corpus), 50):
                svc.store.ingest_many(corpus[i:i + 50])
            for case in cases:
                hits = article_hits(svc.catalog, list(case.article_ids))
                if not hits or not case.gold.reference:
                    continue
                pool = S.build_pool(svc, hits, distinct=True)  # as summary@v2 does
                ref = case.gold.reference
                out.append({"suite": suite.name, "case": case.id, "fold": fold_of(case.id), "length": length,
                            "pool": pool, "x": features(pool.hits, pool.vectors),
                            "y": np.array([label(h.text, ref) for h in pool.hits], dtype=np.float32),
                            "reference": ref,
                            "lead": rouge(" ".join(h.text for h in lead(hits, LEAD_SENTENCES[length])), ref)})
        finally:
            svc.close()
    log(f"  {suite.id}: {len(out)} cases")
    return out


def fit(rows: list[dict[str, Any]]) -> dict[str, Any]:
    x = np.vstack([r["x"] for r in rows])
    y = np.concatenate([r["y"] for r in rows])
    w = np.concatenate([np.full(len(r["y"]), 1.0 / len(r["y"])) for r in rows])
    mean = (x * w[:, None]).sum(axis=0) / w.sum()
    scale = np.sqrt(((x - mean) ** 2 * w[:, None]).sum(axis=0) / w.sum())
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    zb = np.hstack([z, np.ones((len(z), 1))])
    reg = RIDGE * np.eye(zb.shape[1])
    reg[-1, -1] = 0.0
    coef = np.linalg.solve(zb.T @ (zb * w[:, None]) + reg * w.sum() / len(rows), zb.T @ (y * w))
    return {"feature_names": list(FEATURES), "mean": mean.round(6).tolist(),
            "scale": scale.round(6).tolist(), "weights": coef[:-1].round(6).tolist(), "bias": round(float(coef[-1]), 6)}


HAND = {
    "service": Weights(),
    "lead.60": Weights(centrality=0.4, lead=0.6),
    "lead.75": Weights(centrality=0.25, lead=0.75),
    "div.15": Weights(diversity=0.15),
}


def picks(row: dict[str, Any], weights: Weights, scores: np.ndarray | None = None) -> str:
    """The key sentences as summary@v2 is given them: contested pairs completed (:func:`S.fuse`)."""
    pool = row["pool"]
    count = S.LENGTHS[row["length"]].key_sentences
    idx = S.key_sentences(pool, count=count, budget_tokens=10_000, weights=weights, scores=scores)
    chosen = [pool.hits[i] for i in S.by_article(pool.hits, idx)]
    return " ".join(h.text for h in complete_pairs(chosen, pool.pairs))


def evaluate(rows: list[dict[str, Any]], params: dict[str, Any] | None) -> dict[str, Any]:
    table: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for suite in dict.fromkeys(r["suite"] for r in rows):
        for fold in FOLDS:
            part = [r for r in rows if r["suite"] == suite and r["fold"] == fold]
            if not part:
                continue
            leads = [r["lead"] for r in part]
            entry: dict[str, Any] = {"n": len(part), "lead": _mean(leads)}
            scored = {name: [rouge(picks(r, w), r["reference"]) for r in part] for name, w in HAND.items()}
            if params:
                scored["learned"] = [rouge(picks(r, Weights(), learned_scores(r["pool"].hits, r["pool"].vectors,
                                                                              params)), r["reference"]) for r in part]
            for name, got in scored.items():
                entry[name] = {**_mean(got), "minus_lead": {k: _paired(got, leads, k) for k in ("rouge1", "rouge2",
                                                                                                 "rougeL")}}
            table[suite][fold] = entry
    return dict(table)


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.mean(r[k] for r in rows), 4) for k in ("rouge1", "rouge2", "rougeL")}


def _paired(a: list[dict[str, float]], b: list[dict[str, float]], key: str) -> dict[str, float]:
    """Mean paired difference ``a - b`` with its 95% bootstrap interval (:func:`evals.stats.bootstrap_ci`)."""
    est = bootstrap_ci([x[key] - y[key] for x, y in zip(a, b, strict=True)])
    return {"mean": round(float(est.value or 0.0), 4), "lo": round(float(est.low or 0.0), 4),
            "hi": round(float(est.high or 0.0), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="full dev files (default: the repo's samples)")
    parser.add_argument("--suites", default=",".join(SUITES))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--fit", action="store_true", help="also fit and score the learned scorer")
    parser.add_argument("--out", type=Path, default=None, help="write the report JSON here")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = [r for ref in args.suites.split(",") for r in collect(ref, args.data_dir, args.limit)]
    params = fit([r for r in rows if r["fold"] == "tune"]) if args.fit else None
    report = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "data": str(args.data_dir or "samples"),
              "hand": {k: [w.centrality, w.lead, w.diversity] for k, w in HAND.items()},
              "learned_params": params, "folds": evaluate(rows, params), "seconds": round(time.perf_counter() - t0, 1)}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
