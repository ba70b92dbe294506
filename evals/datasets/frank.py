"""FRANK (CNN/DM and XSum validation articles): one article per case, the reference summary as gold.

The article text is its published sentence split (``original.article_lines``) joined by newlines;
XSum's ``article`` field glues sentences together without spaces, so the lines are preferred.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article
from evals.datasets.jsonl import read_jsonl

SOURCES = {"cnndm": "CNN/Daily Mail", "xsum": "BBC (XSum)"}


def article_text(record: dict[str, Any]) -> str:
    original = record.get("original", {})
    return "\n".join(original.get("article_lines") or [original["article"]])


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for r in read_jsonl(path):
        aid = f"frank-{r['hash'][:24]}"
        add_article(articles, {"id": aid, "text": article_text(r), "source": SOURCES.get(r["dataset"], r["dataset"])})
        cases.append(Case(r["hash"], (aid,), gold=Gold(reference=r["reference"].replace(" .", ".")),
                          tags=(r["dataset"],)))
    return Dataset(cases, articles)


def load_cnndm(path: Path) -> Dataset:
    """The CNN/Daily Mail articles only (multi-sentence highlights as references, unlike XSum's one line)."""
    data = load(path)
    cases = [c for c in data.cases if "cnndm" in c.tags]
    wanted = {a for c in cases for a in c.article_ids}
    return Dataset(cases, {k: v for k, v in data.articles.items() if k in wanted})
