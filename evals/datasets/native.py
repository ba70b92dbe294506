"""Hand-written cases (format ``cases``), one JSON object a line::

    {"id": "troops-number", "question": "...", "tags": ["numbers"],
     "articles": [{"id": "kursk", "file": "seeds/north-korea-troops-kursk.txt", "title": "...",
                   "source": "...", "published_at": "2025-04-28"},
                  {"id": "other"}],                 # an id alone reuses an article defined above
     "answers": ["10,000-12,000"], "answerable": true,
     "gold_quotes": [{"article_id": "kursk", "quote": "exact sentence text"}],
     "forbidden": ["PWNED"]}

``file`` is read relative to the repo root; ``text`` may be given instead.  ``asked_at`` (an
ISO date) runs the question as of that day, so "this year" means the year it was written in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article, locate
from evals.datasets.jsonl import read_jsonl
from service.config import REPO_ROOT
from service.errors import InvalidInput
from service.ingest.parse import split_front_matter


def _article(spec: dict[str, Any], articles: dict[str, dict[str, Any]]) -> str:
    fields = {k: v for k, v in spec.items() if k != "file"}
    if set(fields) == {"id"}:
        if spec["id"] not in articles:
            raise InvalidInput.for_field("dataset", f"article {spec['id']!r} is used before it is defined")
        return str(spec["id"])
    if "file" in spec:
        fields["text"] = split_front_matter((REPO_ROOT / spec["file"]).read_text(encoding="utf-8"))[1]
    add_article(articles, fields)
    return str(fields["id"])


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for row in read_jsonl(path):
        ids = tuple(_article(a, articles) for a in row["articles"])
        support = tuple(locate(articles[q["article_id"]]["text"], q["quote"], q["article_id"])
                        for q in row.get("gold_quotes", []))
        gold = Gold(answers=tuple(row.get("answers", [])), answerable=row.get("answerable"), support=support,
                    forbidden=tuple(row.get("forbidden", [])), reference=row.get("reference"))
        cases.append(Case(row["id"], ids, row.get("question", ""), gold, tuple(row.get("tags", [])),
                          asked_at=row.get("asked_at")))
    return Dataset(cases, articles)
