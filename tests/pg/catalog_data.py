"""Articles for the catalogue tests: a few written here, and a small real corpus (the seeds plus
RealTimeQA articles from ../shared/data) with questions for lexical search."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from service.config import REPO_ROOT
from service.ingest.article import ArticleInput, ProcessedArticle, process
from service.ingest.parse import split_front_matter

RTQA = REPO_ROOT.parent / "shared" / "data" / "realtimeqa_2023"


def make(article_id: str, text: str, *, title: str | None = None, source: str = "AP",
         published: str | None = "2026-11-01", url: str | None = None) -> ProcessedArticle:
    item = ArticleInput(id=article_id, title=title, text=text, source=source, url=url,
                        published_at=published)
    return process(item, max_tokens=64, overlap_tokens=16)


def at(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def corpus(n_rtqa: int = 60) -> list[ProcessedArticle]:
    """The seeds and the first ``n_rtqa`` RealTimeQA articles with text (fewer when the shared data
    is missing)."""
    out: list[ProcessedArticle] = []
    seeds = REPO_ROOT / "seeds"
    meta, text = split_front_matter((seeds / "north-korea-troops-kursk.txt").read_text(encoding="utf-8"))
    out.append(make("seed-kursk", text, title=meta.get("title"), source=meta.get("source") or "seed",
                    published=None))
    for line in (seeds / "allsides-2021-07-22.jsonl").read_text(encoding="utf-8").splitlines():
        d: dict[str, Any] = json.loads(line)
        out.append(make(d["id"], d["text"], title=d.get("title"), source=d.get("source") or "seed",
                        published=d.get("published_at")))
    docs = RTQA / "docs_gcs.jsonl"
    if docs.exists():
        with docs.open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if sum(a.id.startswith("rtqa-") for a in out) >= n_rtqa:
                    break
                d = json.loads(line)
                if len(d.get("text") or "") < 200:
                    continue
                out.append(make(f"rtqa-{i}", d["text"], title=d.get("title"), source="rtqa", published=None))
    return out


def questions(limit: int = 80) -> list[str]:
    """RealTimeQA questions (about the same weeks as the articles), else the seeds' own topics."""
    path = RTQA / "questions_2023-01.jsonl"
    if not path.exists():
        return ["North Korean troops in Kursk", "jobless claims rose last week", "Russian forces Ukraine"]
    return [json.loads(line)["question_sentence"] for line in path.read_text(encoding="utf-8").splitlines()][:limit]

