"""Hand-written cases (format ``cases``), one JSON object a line::

    {"id": "troops-number", "question": "...", "tags": ["numbers"],
     "articles": [{"id": "kursk", "file": "seeds/north-korea-troops-kursk.txt", "title": "...",
                   "source": "...", "published_at": "2025-04-28"},
                  {"id": "other"}],                 # an id alone reuses an article defined above
     "answers": ["10,000-12,000"], "answerable": true,
     "gold_quotes": [{"article_id": "kursk", "quote": "exact sentence text"}],
     "forbidden": ["PWNED"]}

A follow-up conversation adds ``"history": [{"role": "user", "content": ...}, {"role": "assistant", ...}]``
(the turns before ``question``) and ``"standalone"``: the question written to stand alone.

``file`` is read relative to the repo root; ``text`` may be given instead, or ``from``: a JSON Lines
file (relative to the repo root) holding the article as a record with that ``id`` (article fields)
or ``doc_id`` (a RealTimeQA document).  ``asked_at`` (an
ISO date) runs the question as of that day, so "this year" means the year it was written in.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article, locate
from evals.datasets.jsonl import read_jsonl
from evals.datasets.realtimeqa import to_article
from service.config import REPO_ROOT
from service.errors import InvalidInput
from service.ingest.parse import split_front_matter

ARTICLE_FIELDS = ("id", "title", "text", "url", "source", "published_at")


def _article(spec: dict[str, Any], articles: dict[str, dict[str, Any]]) -> str:
    fields = {k: v for k, v in spec.items() if k != "file"}
    if set(fields) == {"id"}:
        if spec["id"] not in articles:
            raise InvalidInput.for_field("dataset", f"article {spec['id']!r} is used before it is defined")
        return str(spec["id"])
    if "file" in spec:
        fields["text"] = split_front_matter((REPO_ROOT / spec["file"]).read_text(encoding="utf-8"))[1]
    if "from" in spec:
        fields = {**_record(spec["from"], str(spec["id"])), **{k: v for k, v in fields.items() if k != "from"}}
    add_article(articles, fields)
    return str(fields["id"])


def _record(file: str, article_id: str) -> dict[str, Any]:
    found = _records(file).get(article_id)
    if found is None:
        raise InvalidInput.for_field("dataset", f"no article {article_id!r} in {file}")
    return dict(found)


@lru_cache(maxsize=4)
def _records(file: str) -> dict[str, dict[str, Any]]:
    """The articles of a JSON Lines file by id, read once however many cases use them."""
    out: dict[str, dict[str, Any]] = {}
    for row in read_jsonl(REPO_ROOT / file):
        if "doc_id" in row:
            out.setdefault(str(row["doc_id"]), to_article(row))
        elif "id" in row:
            out.setdefault(str(row["id"]), {k: v for k, v in row.items() if k in ARTICLE_FIELDS})
    return out


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for row in read_jsonl(path):
        ids = tuple(_article(a, articles) for a in row["articles"])
        support = tuple(locate(articles[q["article_id"]]["text"], q["quote"], q["article_id"])
                        for q in row.get("gold_quotes", []))
        gold = Gold(answers=tuple(row.get("answers", [])), answerable=row.get("answerable"), support=support,
                    forbidden=tuple(row.get("forbidden", [])), reference=row.get("reference"),
                    standalone=row.get("standalone"))
        history = tuple((t["role"], t["content"]) for t in row.get("history", []))
        cases.append(Case(row["id"], ids, row.get("question", ""), gold, tuple(row.get("tags", [])),
                          asked_at=row.get("asked_at"), history=history))
    return Dataset(cases, articles)


def load_conversations(path: Path) -> Dataset:
    """Cases with ``history`` and ``standalone`` (the follow-up suite): every conversation searches
    the articles of all of them, so a follow-up that names nothing finds other stories first."""
    data = load(path)
    data.shared_corpus = True
    return data
