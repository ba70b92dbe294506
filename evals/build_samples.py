"""Write the small in-repo dev samples from the full shared data sets (run once; outputs are committed).

    .venv/bin/python -m evals.build_samples --data-dir /work/shared/data

* hotpotqa: the first 20 questions of the dev distractor sample (so ``--limit 20`` on the full
  file runs the same cases);
* frank: 5 CNN/DM and 5 XSum articles (seeded) with their reference summaries, trimmed to the
  fields the reader uses;
* realtimeqa: 15 answerable and 15 unanswerable January questions (seeded), with only the
  documents the reader picks for them (evals.datasets.realtimeqa) and their retrieval rows.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from evals.datasets import realtimeqa
from evals.datasets.jsonl import read_jsonl, write_jsonl
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
    args = ap.parse_args(argv)
    hotpotqa_sample(args.data_dir, args.out)
    realtimeqa_sample(args.data_dir, args.out)
    frank_sample(args.data_dir, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
