"""Briefings of AllSides days with the local model: which model headlines stand, which are refused, why.

    python -m benchmarks.headline_check 2021-04-22 2021-04-23 ... [--out benchmarks/results/headlines.json]

One line per story: the day, its fold, where the headline came from (model, title, key_point),
the headline, and the refused model headline with the reason (issue 23, item 2).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.summaries_bench import ALLSIDES, allsides_articles, allsides_by_day, allsides_records
from evals.folds import fold_of
from service.config import REPO_ROOT, Settings
from service.generation.briefing import BriefingParams, build_briefing
from service.runtime import Services, build_services
from service.verify.headline import sentence_case

_QUOTED = re.compile(r"^“(?P<text>.*)”: ")


def model_headline(story: dict[str, Any]) -> str:
    """What the model wrote, whether it stands or was refused."""
    if story["headline_from"] == "model":
        return str(story["headline"])
    match = _QUOTED.match(story.get("headline_rejected") or "")
    return match.group("text") if match else ""


def diagnose(svc: Services, story: dict[str, Any]) -> dict[str, Any]:
    """The model headline's support score against the sentences its story cites (read in
    sentence case, as the check reads it), with those sentences, for reading by hand."""
    keys = [(i.rsplit(":", 1)[0], int(i.rsplit(":", 1)[1]))
            for p in story["key_points"] for i in p["sentence_ids"]]
    rows = svc.catalog.sentences_by_key(list(dict.fromkeys(keys)))
    cited = [rows[k]["text"] for k in dict.fromkeys(keys) if k in rows]
    written = model_headline(story)
    score = svc.checker.score(sentence_case(written), cited) if written and cited else None
    return {"model_headline": written, "support": round(score.score, 3) if score else None,
            "lex_recall": round(score.features["lex_recall"], 3) if score else None,
            "cited": cited, "outlets": [s["source"] for s in story["sources"]]}


def run(days: Sequence[str], backend: str, *, scores: bool = False) -> list[dict[str, Any]]:
    by_day = allsides_by_day(allsides_records(Path(ALLSIDES)))
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        svc = build_services(Settings(data_dir=Path(tmp), llm_backend=backend))
        try:
            for d in days:
                svc.store.ingest_many([a for a, _ in allsides_articles(by_day[d])])
                t = time.perf_counter()
                briefing = build_briefing(svc, BriefingParams(day=date.fromisoformat(d)))
                out += [{"day": d, "fold": fold_of(f"allsides-day-{d}"), "headline": s["headline"],
                         "from": s["headline_from"], "refused": s.get("headline_rejected"),
                         **(diagnose(svc, s) if scores else {})}
                        for s in briefing["stories"]]
                print(f"{d}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        finally:
            svc.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.headline_check", description=__doc__.split("\n")[0])
    ap.add_argument("days", nargs="+", help="AllSides roundup days, YYYY-MM-DD")
    ap.add_argument("--backend", default="local")
    ap.add_argument("--scores", action="store_true",
                    help="add each model headline's support score and cited sentences (for reading by hand)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "headlines.json")
    args = ap.parse_args(argv)
    rows = run(args.days, args.backend, scores=args.scores)
    args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for r in rows:
        print(f"{r['day']} {r['fold']} {r['from']} | {r['headline']} | {r['refused']}"
              + (f" | support {r['support']}" if 'support' in r else ""))
    refused = sum(1 for r in rows if r["refused"])
    print(f"{refused} of {len(rows)} model headlines refused")
    for line in against_labels(rows):
        print(line)
    return 0


LABELS = REPO_ROOT / "evals" / "data" / "headline_labels.jsonl"


def against_labels(rows: Sequence[dict[str, Any]], path: Path = LABELS) -> list[str]:
    """Per fold, the refusals against the hand labels of the same day and headline."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    labels = {(x["day"], x["headline"]): x["label"] for x in map(json.loads, lines)}
    out = []
    for fold in ("tune", "check"):
        keyed = [(r, (r["day"], model_text(r))) for r in rows if r["fold"] == fold]
        known = [(r, labels[key]) for r, key in keyed if key in labels]
        if not known:
            continue
        bad = [r for r, label in known if label == "misleading"]
        caught = sum(1 for r in bad if r["refused"])
        wrong = sum(1 for r, label in known if label == "ok" and r["refused"])
        out.append(f"{fold}: {len(known)} labelled; misleading refused {caught} of {len(bad)}; ok refused {wrong}")
    return out


def model_text(row: dict[str, Any]) -> str:
    return model_headline({"headline_from": row["from"], "headline": row["headline"],
                           "headline_rejected": row["refused"]})


if __name__ == "__main__":
    raise SystemExit(main())
