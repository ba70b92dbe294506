"""RealTimeQA (January 2023): news questions over a news corpus, half of them unanswerable from it.

The dataset path is the questions file; ``docs_gcs.jsonl`` and ``retrieval_gcs_*.jsonl`` sit
beside it.  A question's documents are the data set authors' top :data:`RETRIEVED` search results
plus up to :data:`ANSWER_DOCS` documents that contain the answer text verbatim.  A question is
answerable when some document of the corpus holds its answer text verbatim (the task's own
definition); the others measure abstention, with the retrieved documents as plausible distractors.

All questions of a run search the union of their documents (one news corpus, as in production),
not just their own.  With ``whole_corpus`` they search every document of ``docs_gcs.jsonl`` (January
and February 2023, 1,501 articles in the full file), as a desk searches its archive; the ask's
``as_of`` still hides what was published after the question date.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from evals.cases import Case, Dataset, Gold, add_article
from evals.datasets.jsonl import read_jsonl

RETRIEVED = 3
ANSWER_DOCS = 2
DOCS_FILE = "docs_gcs.jsonl"
RETRIEVAL_GLOB = "retrieval_gcs_*.jsonl"


def _date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10].replace("/", "-")).isoformat()
    except ValueError:
        return None


def to_article(doc: dict[str, Any]) -> dict[str, Any]:
    url = doc.get("url") or None
    return {"id": doc["doc_id"], "title": (doc.get("title") or "").strip() or None, "text": doc["text"],
            "url": url, "source": urlsplit(url).netloc.removeprefix("www.") if url else "unknown",
            "published_at": _date(doc.get("publish_date"))}


def answer_docs(question: dict[str, Any], docs: dict[str, dict[str, Any]], ranked: list[str]) -> list[str]:
    """Documents holding an answer text verbatim: retrieved ones first, then the latest published
    on or before the question date, then the rest."""
    answers = [a for a in question.get("answer_text", []) if a.strip()]
    holding = [d for d, doc in docs.items() if any(a in doc["text"] for a in answers)]
    asked = _date(question.get("question_date")) or "9999-12-31"

    def key(doc_id: str) -> tuple[int, int, int]:
        published = _date(docs[doc_id].get("publish_date"))
        rank = ranked.index(doc_id) if doc_id in ranked else len(ranked)
        before = 0 if published and published <= asked else 1
        return (rank, before, -date.fromisoformat(published).toordinal() if published else 0)

    return sorted(holding, key=key)[:ANSWER_DOCS]


def load(path: Path, *, whole_corpus: bool = False) -> Dataset:
    docs = {d["doc_id"]: d for d in read_jsonl(path.parent / DOCS_FILE) if (d.get("text") or "").strip()}
    ranked: dict[str, list[str]] = {}
    for f in sorted(path.parent.glob(RETRIEVAL_GLOB)):
        for row in read_jsonl(f):
            ranked[row["question_id"]] = [d for d in row["doc_ids_ranked"] if d in docs]
    articles: dict[str, dict[str, Any]] = {}
    if whole_corpus:
        for doc in docs.values():
            add_article(articles, to_article(doc))
    cases: list[Case] = []
    for q in read_jsonl(path):
        top = ranked.get(q["question_id"], [])
        holding = answer_docs(q, docs, top)
        chosen = list(dict.fromkeys(top[:RETRIEVED] + holding))
        for doc_id in chosen:
            add_article(articles, to_article(docs[doc_id]))
        cases.append(Case(q["question_id"], tuple(chosen), q["question_sentence"],
                          Gold(answers=tuple(q["answer_text"]), answerable=bool(holding)),
                          tags=("answerable" if holding else "unanswerable",),
                          asked_at=_date(q.get("question_date"))))
    return Dataset(cases, articles, shared_corpus=True, whole_corpus=whole_corpus)
