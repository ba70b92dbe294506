"""The summary suites of issue 23 (item 4): Multi-News, NeuS, AllSides, FRANK and QAGS CNN/DM readers, the
round-robin lead baseline, and the summarize task scoring ours and the lead in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.cache import CacheLedger
from evals.datasets import load_dataset
from evals.runner import _Quiet, ingest_corpus
from evals.suite import load_suite
from evals.tasks import summarize
from evals.tasks.common import TaskContext, Variant
from service.config import REPO_ROOT
from service.retrieval.search import SentenceHit
from service.runtime import Services

SUITES = {"frank-cnndm-summary@1": "short", "neus-summary@1": "short", "multinews-summary@1": "medium",
          "allsides-summary@1": "short"}
FRANK = REPO_ROOT / "evals/data/frank/articles.jsonl"
WORDS = " ".join(f"word{i}" for i in range(45))


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_multinews_reader_drops_short_documents_strips_the_dash_and_ids_do_not_depend_on_position(
        tmp_path: Path) -> None:
    rows = [{"documents": ["too short to keep", f"First. {WORDS}", f"Second. {WORDS}"],
             "summary": "– Officials said on Monday that the bridge will reopen."},
            {"documents": ["only a stub"], "summary": "– Nothing usable here."}]
    data = load_dataset("multinews", write(tmp_path / "a.jsonl", rows))
    (case,) = data.cases  # the cluster with no document of 40 words is skipped
    assert case.gold.reference == "Officials said on Monday that the bridge will reopen."
    assert len(case.article_ids) == 2 and case.id.startswith("mn-")
    assert case.article_ids == (f"{case.id}-0", f"{case.id}-1")
    first = data.articles[case.article_ids[0]]
    assert first["text"].startswith("First.") and first["source"] == "outlet 1"
    assert first["title"] == "Multi-News document 1"
    again = load_dataset("multinews", write(tmp_path / "b.jsonl", [rows[1], rows[0]]))
    assert [c.id for c in again.cases] == [case.id] and again.cases[0].article_ids == case.article_ids


def test_neus_reader_keeps_non_empty_excerpts_with_their_titles(tmp_path: Path) -> None:
    row = {"source_articles": [{"title": "Left take", "text": "A said X."}, {"title": "Empty", "text": "  "},
                               {"title": "Right take", "text": "B said Y."}],
           "target_title": "Story", "target_summary": "A and B disagree. ", "source_raw": "...", "target_raw": "..."}
    data = load_dataset("neus", write(tmp_path / "n.jsonl", [row]))
    (case,) = data.cases
    assert case.gold.reference == "A and B disagree."
    assert [data.articles[a]["title"] for a in case.article_ids] == ["Left take", "Right take"]
    assert [data.articles[a]["source"] for a in case.article_ids] == ["outlet 1", "outlet 3"]
    assert load_dataset("neus", write(tmp_path / "m.jsonl", [row, {**row, "target_summary": "Other."}])
                        ).cases[0].id == case.id


def _story(story_id: int, sides: tuple[str, ...], roundup: list[str]) -> dict[str, Any]:
    news = {s: {"newsSource": f"{s.title()} Post", "newsTitle": f"{s} headline", "newsLink": f"https://{s}.example/a",
                "newBody": [f"{s} paragraph one.", "", f"{s} paragraph two."]} for s in sides}
    return {"id": story_id, "date": "2021-04-22T06:15:00-07:00", "issue": "Issue", "topic": "Climate Change",
            "roundup": roundup, "news": news}


def test_allsides_reader_one_case_per_story_with_two_outlets_and_a_roundup(tmp_path: Path) -> None:
    rows = [_story(1, ("right", "left", "center"), ["First paragraph.", "Second paragraph."]),
            _story(2, ("left",), ["Only one outlet."]),
            _story(3, ("left", "right"), [])]
    data = load_dataset("allsides", write(tmp_path / "s.jsonl", rows))
    (case,) = data.cases
    assert case.id == "allsides-1" and case.article_ids == ("as1-left", "as1-center", "as1-right")
    assert case.gold.reference == "First paragraph. Second paragraph."
    left = data.articles["as1-left"]
    assert left == {"id": "as1-left", "title": "left headline", "text": "left paragraph one.\n\nleft paragraph two.",
                    "source": "Left Post", "url": "https://left.example/a", "published_at": "2021-04-22T06:15:00-07:00"}


def test_frank_cnndm_keeps_only_cnn_daily_mail() -> None:
    full = load_dataset("frank", FRANK)
    cnndm = load_dataset("frank-cnndm", FRANK)
    assert 0 < len(cnndm.cases) < len(full.cases) and all(c.tags == ("cnndm",) for c in cnndm.cases)
    assert set(cnndm.articles) == {a for c in cnndm.cases for a in c.article_ids}


def _hit(article: str, index: int) -> SentenceHit:
    return SentenceHit(article, index, f"{article}{index}.", 0, 1, "t", None, "s", None)


def test_lead_baseline_goes_round_robin_across_articles_in_article_order() -> None:
    hits = [_hit("a", 0), _hit("a", 1), _hit("a", 2), _hit("b", 0), _hit("c", 0), _hit("c", 1)]
    assert [h.text for h in summarize.lead(hits, 5)] == ["a0.", "b0.", "c0.", "a1.", "c1."]
    assert [h.text for h in summarize.lead(hits, 10)] == ["a0.", "b0.", "c0.", "a1.", "c1.", "a2."]
    single = [_hit("x", i) for i in range(6)]
    assert [h.text for h in summarize.lead(single, summarize.LEAD_SENTENCES["short"])] == ["x0.", "x1.", "x2."]


@pytest.mark.parametrize(("suite_id", "length"), sorted(SUITES.items()))
def test_summary_suites_load_and_their_dev_samples_read(suite_id: str, length: str) -> None:
    suite = load_suite(suite_id)
    assert suite.task == "summarize" and suite.summary_length == length and suite.primary == "rougeL"
    assert suite.dataset.full and "local_model" in suite.requires
    names = {m.name for m in suite.metrics}
    assert {"lead_rougeL", "rougeL_gain", "support_mean", "quote_fidelity"} <= names
    data = load_dataset(suite.dataset.format, suite.dataset_path(None))
    assert len(data.cases) >= 20 and all(c.gold.reference for c in data.cases)
    assert all(a in data.articles for c in data.cases for a in c.article_ids)


def test_summarize_task_scores_ours_and_the_lead_on_a_neus_case(services: Services) -> None:
    data = load_dataset("neus", load_suite("neus-summary@1").dataset_path(None))
    case = data.cases[0]
    ingest_corpus(services, data.corpus([case]), _Quiet())
    ctx = TaskContext(services, data, CacheLedger(), 8, "short")
    row = summarize.run_case(ctx, case, Variant("summary@v1", "fake"))
    m = row["metrics"]
    assert row["length"] == "short" and row["error"] is None
    for name in ("rouge1", "rouge2", "rougeL"):
        assert 0.0 <= m[f"lead_{name}"] <= 1.0
        assert m[f"{name}_gain"] == pytest.approx(m[name] - m[f"lead_{name}"], abs=1e-5)
    assert m["quote_fidelity"] == 1.0 and m["summary_words"] > 0
    assert m["support_mean"] is None or 0.0 <= m["support_mean"] <= 1.0


def test_qags_suite_scores_a_summary_without_a_reference(services: Services) -> None:
    suite = load_suite("qags-summary@1")
    assert suite.primary == "support_mean" and suite.limit == 24
    assert not {m.name for m in suite.metrics} & {"rougeL", "lead_rougeL"}
    data = load_dataset(suite.dataset.format, suite.dataset_path(None))
    assert len(data.cases) == 40 and not any(c.gold.reference for c in data.cases)
    assert all(c.id == c.article_ids[0] and c.id.startswith("qags-") for c in data.cases)
    case = data.cases[0]
    ingest_corpus(services, data.corpus([case]), _Quiet())
    ctx = TaskContext(services, data, CacheLedger(), 8, "short")
    row = summarize.run_case(ctx, case, Variant("summary@v2", "fake"))
    m = row["metrics"]
    assert row["error"] is None and "rougeL" not in m and "lead_rougeL" not in m
    assert m["quote_fidelity"] == 1.0 and m["summary_words"] > 0
