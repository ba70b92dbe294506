"""NeuS (HLTCHKUST/framing-bias-metric, validation split): three outlets' lead excerpts on one
story (left, centre and right, order shuffled) with the AllSides editors' neutral roundup as gold.

Empty excerpts are dropped.  The outlets are not named in the data (``outlet 1..3``) and there are
no dates.  Ids come from a hash of the target title and summary.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article
from evals.datasets.jsonl import read_jsonl


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for r in read_jsonl(path):
        digest = hashlib.sha1(f"{r['target_title']}\n{r['target_summary']}".encode()).hexdigest()[:12]
        key = f"neus-{digest}"
        ids = []
        for k, a in enumerate(r["source_articles"]):
            if not (a.get("text") or "").strip():
                continue
            aid = f"{key}-{k}"
            add_article(articles, {"id": aid, "title": (a.get("title") or "").strip() or None, "text": a["text"],
                                   "source": f"outlet {k + 1}"})
            ids.append(aid)
        if not ids or not r["target_summary"].strip():
            continue
        cases.append(Case(key, tuple(ids), gold=Gold(reference=r["target_summary"].strip())))
    return Dataset(cases, articles)
