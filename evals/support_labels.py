"""Human-style labels for our own generator's drafts: is each sentence supported by what it cites?

The support checker was first fitted on QAGS (CNN/DM summary sentences), which are nearly
extractive; our answers paraphrase and lean on the question.  This module builds the labelled
set the checker is re-calibrated on (``evals/data/support_labels/``):

``extract``   every draft sentence with citations from eval runs' results.jsonl, with the
              question and the exact text of the sentences it cites (after re-attribution), one
              item per (question, claim, evidence) -- the pool to label.
``agreement`` Cohen's kappa between two annotators' label files, and the items they disagree on.
``merge``     the adjudicated labels: both annotators' where they agree, the adjudicator's where not.

The labelling guidelines are ``evals/data/support_labels/GUIDELINES.md``.

    python -m evals.support_labels extract results/hotpotqa-cite-v1/RUN ... --out evals/data/support_labels/pool.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evals.datasets.jsonl import read_jsonl
from service.config import get_settings
from service.store.catalog import Catalog

LABELS = ("supported", "unsupported")


def item_id(question: str, claim: str, evidence_ids: Iterable[str]) -> str:
    blob = json.dumps([question, claim, sorted(evidence_ids)])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _stores(work: Path) -> list[Catalog]:
    return [Catalog(p / "catalog.sqlite3") for p in sorted((work / "stores").glob("*")) if
            (p / "catalog.sqlite3").exists()]


def _texts(catalogs: list[Catalog], ids: list[str]) -> dict[str, str]:
    keys = [(sid.rpartition(":")[0], int(sid.rpartition(":")[2])) for sid in ids]
    out: dict[str, str] = {}
    for cat in catalogs:
        missing = [k for k in keys if f"{k[0]}:{k[1]}" not in out]
        if not missing:
            break
        for (aid, idx), row in cat.sentences_by_key(missing).items():
            out[f"{aid}:{idx}"] = row["text"]
    return out


def extract(runs: list[Path], work: Path) -> list[dict[str, Any]]:
    catalogs = _stores(work)
    items: dict[str, dict[str, Any]] = {}
    try:
        for run in runs:
            suite = run.parent.name
            for row in read_jsonl(run / "results.jsonl"):
                for s in row.get("sentences", []):
                    ids = list(s.get("citations") or [])
                    if not ids or s["text"].startswith("According to "):  # quotes are the source itself
                        continue
                    texts = _texts(catalogs, ids)
                    if len(texts) != len(ids):
                        continue
                    iid = item_id(row["question"], s["text"], ids)
                    items.setdefault(iid, {
                        "id": iid, "suite": suite, "case_id": row["case_id"], "question": row["question"],
                        "claim": s["text"], "evidence_ids": ids, "evidence": [texts[i] for i in ids],
                        "checker_score": s["support"], "checker_kept": not s["flagged"],
                    })
    finally:
        for cat in catalogs:
            cat.close()
    return list(items.values())


def kappa(a: dict[str, str], b: dict[str, str]) -> tuple[float, int, list[str]]:
    common = sorted(set(a) & set(b))
    if not common:
        return 0.0, 0, []
    agree = sum(a[i] == b[i] for i in common) / len(common)
    pa = sum(a[i] == LABELS[0] for i in common) / len(common)
    pb = sum(b[i] == LABELS[0] for i in common) / len(common)
    chance = pa * pb + (1 - pa) * (1 - pb)
    k = (agree - chance) / (1 - chance) if chance < 1 else 1.0
    return k, len(common), [i for i in common if a[i] != b[i]]


def read_labels(path: Path) -> dict[str, str]:
    out = {}
    for r in read_jsonl(path):
        if r.get("label") not in LABELS:
            raise SystemExit(f"{path}: item {r.get('id')} has label {r.get('label')!r}, not one of {LABELS}")
        out[r["id"]] = r["label"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.support_labels", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("extract")
    ex.add_argument("runs", nargs="+", type=Path)
    ex.add_argument("--out", type=Path, required=True)
    ag = sub.add_parser("agreement")
    ag.add_argument("a", type=Path)
    ag.add_argument("b", type=Path)
    mg = sub.add_parser("merge")
    mg.add_argument("pool", type=Path)
    mg.add_argument("a", type=Path)
    mg.add_argument("b", type=Path)
    mg.add_argument("adjudicated", type=Path)
    mg.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "extract":
        items = extract(args.runs, get_settings().cache_dir / "evals")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
        print(f"{len(items)} items -> {args.out}")
    elif args.cmd == "agreement":
        k, n, diff = kappa(read_labels(args.a), read_labels(args.b))
        print(f"{n} items in common, Cohen's kappa {k:.3f}, {len(diff)} disagreements: {' '.join(diff)}")
    else:
        a, b, adj = read_labels(args.a), read_labels(args.b), read_labels(args.adjudicated)
        pool = {r["id"]: r for r in read_jsonl(args.pool)}
        out = []
        for iid, item in pool.items():
            if iid in a and iid in b:
                label = a[iid] if a[iid] == b[iid] else adj.get(iid)
                if label is None:
                    raise SystemExit(f"item {iid}: annotators disagree and there is no adjudicated label")
                out.append({**item, "label": label, "annotators": [a[iid], b[iid]],
                            "adjudicated": a[iid] != b[iid]})
        args.out.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in out), encoding="utf-8")
        print(f"{len(out)} labelled items -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
