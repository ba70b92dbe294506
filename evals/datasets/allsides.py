"""AllSides roundups (2021-04..07, the raw stories behind NeuS): one case per story with at least
:data:`MIN_OUTLETS` outlet articles that have body text, the editors' roundup as gold.

Each side's article (left, center, right, in that order) keeps its outlet, title, link and the
story's date; its text is the body paragraphs joined by blank lines.  The reference is the
roundup's paragraphs joined by a space; a story without a roundup is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article
from evals.datasets.jsonl import read_jsonl

SIDES = ("left", "center", "right")
MIN_OUTLETS = 2


def _articles(r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    news = r.get("news") or {}
    for side in sorted(news, key=lambda s: (SIDES.index(s) if s in SIDES else len(SIDES), s)):
        item = news[side] or {}
        body = [p.strip() for p in item.get("newBody") or [] if p.strip()]
        if not body:
            continue
        out.append({"id": f"as{r['id']}-{side}", "title": (item.get("newsTitle") or "").strip() or r.get("issue"),
                    "text": "\n\n".join(body), "source": (item.get("newsSource") or "").strip() or side,
                    "url": item.get("newsLink") or None, "published_at": r.get("date") or None})
    return out


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for r in read_jsonl(path):
        roundup = " ".join(p.strip() for p in r.get("roundup") or [] if p.strip())
        arts = _articles(r)
        if not roundup or len(arts) < MIN_OUTLETS:
            continue
        for a in arts:
            add_article(articles, a)
        tags = tuple(t for t in (r.get("topic"),) if t)
        cases.append(Case(f"allsides-{r['id']}", tuple(a["id"] for a in arts), gold=Gold(reference=roundup),
                          tags=tags))
    return Dataset(cases, articles)
