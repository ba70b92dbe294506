"""Multi-News (test sample): one case per cluster of 1-7 news articles, the newser editors' summary as gold.

Documents under :data:`MIN_WORDS` words (stubs, captions, paywall notes) are dropped, and a cluster
left with none is skipped.  There are no titles, outlets or dates; ids come from a hash of the
summary, so they do not depend on the record's position in the file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article
from evals.datasets.jsonl import read_jsonl

MIN_WORDS = 40
_LEAD = re.compile(r"^\W+")


def reference(summary: str) -> str:
    """The summary without its leading "– " (and any other non-word characters)."""
    return _LEAD.sub("", summary).strip()


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for r in read_jsonl(path):
        key = f"mn-{hashlib.sha1(r['summary'].encode('utf-8')).hexdigest()[:12]}"
        docs = [d for d in r["documents"] if len(d.split()) >= MIN_WORDS]
        if not docs:
            continue
        ids = []
        for k, text in enumerate(docs):
            aid = f"{key}-{k}"
            add_article(articles, {"id": aid, "title": f"Multi-News document {k + 1}", "text": text,
                                   "source": f"outlet {k + 1}"})
            ids.append(aid)
        cases.append(Case(key, tuple(ids), gold=Gold(reference=reference(r["summary"])),
                          tags=(f"docs-{len(docs)}",)))
    return Dataset(cases, articles)
