"""Write the small in-repo dev samples from the full shared data sets (run once; outputs are committed).

    .venv/bin/python -m evals.build_samples --data-dir /work/shared/data

* hotpotqa: the first 20 questions of the dev distractor sample (so ``--limit 20`` on the full
  file runs the same cases);
* frank: 5 CNN/DM and 5 XSum articles (seeded) with their reference summaries, trimmed to the
  fields the reader uses;
* realtimeqa: 15 answerable and 15 unanswerable January questions (seeded), with only the
  documents the reader picks for them (evals.datasets.realtimeqa) and their retrieval rows;
* summary suites (issue 23): 24 records each (seed 23) of Multi-News, NeuS, the AllSides roundups
  and FRANK's CNN/DM articles, in their original format (large unused fields dropped).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.datasets import allsides, realtimeqa
from evals.datasets.jsonl import read_jsonl, write_jsonl
from evals.datasets.multinews import MIN_WORDS
from service.config import REPO_ROOT

OUT = REPO_ROOT / "evals" / "data"
SEED = 5
HOTPOT_N = 20
RTQA_EACH = 15
HOTPOT_FILE = "hotpotqa/hotpotqa_dev_distractor_50a.jsonl"
FRANK_EACH = 5
FRANK_FILE = "frank/articles.jsonl"
RTQA_DIR = "realtimeqa_2023"
RTQA_QUESTIONS = "questions_2023-01.jsonl"
RTQA_RETRIEVAL = "retrieval_gcs_2023-01.jsonl"
SUMMARY_SEED = 23
SUMMARY_N = 24
MULTINEWS_FILE = "multinews/multinews_test_125a.jsonl"
NEUS_FILE = "neus_allsides/neus_val.jsonl"
ALLSIDES_FILE = "neus_allsides/allsides_roundups_2021-04_to_07.jsonl"


def hotpotqa_sample(data_dir: Path, out: Path) -> None:
    rows = read_jsonl(data_dir / HOTPOT_FILE)[:HOTPOT_N]
    write_jsonl(out / "hotpotqa" / f"hotpotqa_dev_distractor_{HOTPOT_N}.jsonl", rows)


def frank_sample(data_dir: Path, out: Path) -> None:
    rows = read_jsonl(data_dir / FRANK_FILE)
    rng = random.Random(SEED)
    picked = [r for ds in ("cnndm", "xsum") for r in rng.sample([r for r in rows if r["dataset"] == ds], FRANK_EACH)]
    write_jsonl(out / FRANK_FILE, [{"hash": r["hash"], "dataset": r["dataset"], "split": r["split"],
                                    "reference": r["reference"],
                                    "original": {"article_lines": r["original"]["article_lines"]}} for r in picked])


def _pick(rows: list[dict[str, Any]], usable: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """``SUMMARY_N`` usable records (seeded), in file order."""
    idx = [i for i, r in enumerate(rows) if usable(r)]
    return [rows[i] for i in sorted(random.Random(SUMMARY_SEED).sample(idx, SUMMARY_N))]


def summary_samples(data_dir: Path, out: Path) -> None:
    """The dev samples of the summary suites: every picked record yields a case (the readers' rules)."""
    multinews = _pick(read_jsonl(data_dir / MULTINEWS_FILE),
                      lambda r: any(len(d.split()) >= MIN_WORDS for d in r["documents"]))
    write_jsonl(out / "multinews_dev.jsonl", multinews)
    neus = _pick(read_jsonl(data_dir / NEUS_FILE),
                 lambda r: r["target_summary"].strip() and any(a["text"].strip() for a in r["source_articles"]))
    write_jsonl(out / "neus_dev.jsonl", [{k: v for k, v in r.items() if k not in ("source_raw", "target_raw")}
                                         for r in neus])
    allsides_ids = {c.id for c in allsides.load(data_dir / ALLSIDES_FILE).cases}
    write_jsonl(out / "allsides_roundups_dev.jsonl",
                _pick(read_jsonl(data_dir / ALLSIDES_FILE), lambda r: f"allsides-{r['id']}" in allsides_ids))
    cnndm = _pick(read_jsonl(data_dir / FRANK_FILE), lambda r: r["dataset"] == "cnndm")
    write_jsonl(out / "frank_cnndm_dev.jsonl", [{"hash": r["hash"], "dataset": r["dataset"], "split": r["split"],
                                                 "reference": r["reference"],
                                                 "original": {"article_lines": r["original"]["article_lines"]}}
                                                for r in cnndm])


def realtimeqa_sample(data_dir: Path, out: Path) -> None:
    src = data_dir / RTQA_DIR
    full = realtimeqa.load(src / RTQA_QUESTIONS)
    by_label = {label: [c for c in full.cases if label in c.tags] for label in ("answerable", "unanswerable")}
    rng = random.Random(SEED)
    picked = {c.id for cases in by_label.values() for c in rng.sample(cases, min(RTQA_EACH, len(cases)))}
    cases = [c for c in full.cases if c.id in picked]
    doc_ids = {a for c in cases for a in c.article_ids}
    dst = out / RTQA_DIR
    write_jsonl(dst / RTQA_QUESTIONS, [q for q in read_jsonl(src / RTQA_QUESTIONS) if q["question_id"] in picked])
    docs = read_jsonl(src / realtimeqa.DOCS_FILE)
    write_jsonl(dst / realtimeqa.DOCS_FILE, [d for d in docs if d["doc_id"] in doc_ids])
    write_jsonl(dst / RTQA_RETRIEVAL, [{**r, "doc_ids_ranked": [d for d in r["doc_ids_ranked"] if d in doc_ids]}
                                       for r in read_jsonl(src / RTQA_RETRIEVAL) if r["question_id"] in picked])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", choices=["summary"], help="write only these samples (summary: the summary suites')")
    args = ap.parse_args(argv)
    if args.only == "summary":
        summary_samples(args.data_dir, args.out)
        return 0
    hotpotqa_sample(args.data_dir, args.out)
    realtimeqa_sample(args.data_dir, args.out)
    frank_sample(args.data_dir, args.out)
    summary_samples(args.data_dir, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
