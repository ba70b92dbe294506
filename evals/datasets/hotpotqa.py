"""HotpotQA (distractor setting): each question's 10 paragraphs become 10 articles.

An article's id is its sanitised title and its text is the paragraph's sentences joined with
single spaces.  Our segmenter does not always split where HotpotQA did (on the 50-question dev
set, 39 of 500 paragraphs differ: "VIVA Polska (earlier "VIVApolska!")" + "is a Polish ..." is
one sentence to us), so gold supporting facts are kept as the character spans of HotpotQA's
sentences, and citations are matched to them by overlap (evals.metrics.support), never by index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.cases import Case, Dataset, Gold, add_article, sanitize_id
from evals.datasets.jsonl import read_jsonl
from evals.metrics.support import Span

SOURCE = "Wikipedia via HotpotQA"


def paragraph(sentences: list[str]) -> tuple[str, list[tuple[int, int] | None]]:
    """Text and the span of each HotpotQA sentence (``None`` for an empty one)."""
    parts: list[str] = []
    spans: list[tuple[int, int] | None] = []
    pos = 0
    for sentence in sentences:
        s = sentence.strip()
        if not s:
            spans.append(None)
            continue
        if parts:
            pos += 1  # the joining space
        spans.append((pos, pos + len(s)))
        parts.append(s)
        pos += len(s)
    return " ".join(parts), spans


def article_ids(titles: list[str]) -> dict[str, str]:
    """Title -> id; titles that sanitise alike get a numeric suffix in order of appearance."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for title in titles:
        if title in out:
            continue
        base = sanitize_id(title, 120)
        aid, n = base, 1
        while aid in used:
            n += 1
            aid = f"{base}_{n}"
        used.add(aid)
        out[title] = aid
    return out


def load(path: Path) -> Dataset:
    records = read_jsonl(path)
    ids = article_ids([t for r in records for t in r["context"]["title"]])
    articles: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for r in records:
        spans: dict[tuple[str, int], Span] = {}
        case_ids: list[str] = []
        for title, sentences in zip(r["context"]["title"], r["context"]["sentences"], strict=True):
            text, offsets = paragraph(sentences)
            aid = ids[title]
            add_article(articles, {"id": aid, "title": title, "text": text, "source": SOURCE})
            case_ids.append(aid)
            for i, off in enumerate(offsets):
                if off is not None:
                    spans[(title, i)] = Span(aid, *off)
        facts = zip(r["supporting_facts"]["title"], r["supporting_facts"]["sent_id"], strict=True)
        support = tuple(spans[(t, int(i))] for t, i in facts if (t, int(i)) in spans)
        cases.append(Case(r["id"], tuple(case_ids), r["question"],
                          Gold(answers=(r["answer"],), answerable=True, support=support),
                          tags=(r.get("type", ""), r.get("level", ""))))
    return Dataset(cases, articles)
