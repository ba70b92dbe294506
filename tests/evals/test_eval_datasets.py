"""Suites validate; readers map gold evidence to character spans, independent of segmentation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from evals.cases import sanitize_id
from evals.datasets import load_dataset
from evals.datasets.hotpotqa import paragraph
from evals.metrics.support import Span, support_prf
from evals.suite import SUITES_DIR, Suite, list_suites, load_suite
from service.config import REPO_ROOT
from service.errors import ConfigError, NotFound
from service.ingest.article import segment

HOTPOT = REPO_ROOT / "evals/data/hotpotqa/hotpotqa_dev_distractor_20.jsonl"
SHARED = REPO_ROOT.parent / "shared" / "data"


def test_every_shipped_suite_validates_and_its_dev_data_loads() -> None:
    suites = list_suites()
    assert {"smoke@2", "hotpotqa-cite@2", "realtimeqa@2", "tricky@2"} <= {s.id for s in suites}
    for s in suites:
        data = load_dataset(s.dataset.format, s.dataset_path(None))
        assert data.cases, s.id
        assert all(a in data.articles for c in data.cases for a in c.article_ids)


def test_suite_schema_forbids_unknown_fields_and_metrics(tmp_path: Path) -> None:
    raw = yaml.safe_load((SUITES_DIR / "smoke.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**raw, "surprise": 1}))
    with pytest.raises(ConfigError, match="surprise"):
        load_suite(str(bad))
    bad.write_text(yaml.safe_dump({**raw, "metrics": [{"name": "bleu"}], "primary": "bleu"}))
    with pytest.raises(ConfigError, match="unknown metric"):
        load_suite(str(bad))
    with pytest.raises(ValidationError, match="name@version"):
        Suite.model_validate({**raw, "id": "smoke"})
    with pytest.raises(NotFound):
        load_suite("no-such-suite@1")
    assert load_suite("smoke@2").id == "smoke@2"


def test_hotpotqa_sentence_spans_survive_a_different_segmentation() -> None:
    # HotpotQA splits "VIVA Polska (earlier "VIVApolska!")" from "is a Polish ..."; we do not.
    sentences = ['VIVA Polska (earlier "VIVApolska!")', " is a Polish 24h music channel.",
                 " The channel was launched on June 10, 2000."]
    text, spans = paragraph(sentences)
    assert [text[s:e] for s, e in (sp for sp in spans if sp)] == [s.strip() for s in sentences]
    ours = segment(text)
    assert len(ours) == 2  # index 1 is HotpotQA's sentence 2, not 1
    merged, last = ours
    gold_sent_1 = Span("viva", *spans[1])  # type: ignore[misc]
    assert support_prf([Span("viva", merged.start, merged.end)], [gold_sent_1]).recall == 1.0
    assert support_prf([Span("viva", last.start, last.end)], [gold_sent_1]).precision == 0.0


def test_hotpotqa_reader_gold_quotes_are_the_supporting_sentences() -> None:
    data = load_dataset("hotpotqa", HOTPOT)
    case = data.cases[0]
    assert len(case.article_ids) == 10 and case.gold.answers == ("Gesellschaft mit beschränkter Haftung",)
    quotes = [data.articles[s.article_id]["text"][s.start:s.end] for s in case.gold.support]
    assert quotes[0] == ('VIVA Media GmbH (until 2004 "VIVA Media AG") is a music television network '
                         "originating from Germany.")
    assert "Gesellschaft_mit_beschrankter_Haftung" in case.article_ids


def test_sanitize_id_makes_valid_article_ids() -> None:
    assert sanitize_id("Gesellschaft mit beschränkter Haftung") == "Gesellschaft_mit_beschrankter_Haftung"
    assert sanitize_id("!!") == "x"
    assert sanitize_id("a" * 300) == "a" * 128


def test_realtimeqa_dev_sample_mixes_answerable_and_unanswerable_and_shares_one_corpus() -> None:
    suite = load_suite("realtimeqa@2")
    data = load_dataset("realtimeqa", suite.dataset_path(None))
    labels = [c.gold.answerable for c in data.cases]
    assert labels.count(True) == 15 and labels.count(False) == 15
    cases = data.select(4)
    assert len({c.article_ids for c in cases}) == 1  # every case searches the union
    assert set(cases[0].article_ids) == {a for c in data.cases[:4] for a in c.article_ids}


@pytest.mark.skipif(not (SHARED / "realtimeqa_2023").is_dir(), reason="shared data not present")
def test_realtimeqa_dev_cases_equal_the_same_cases_of_the_full_set() -> None:
    suite = load_suite("realtimeqa@2")
    dev = load_dataset("realtimeqa", suite.dataset_path(None))
    full = {c.id: c for c in load_dataset("realtimeqa", suite.dataset_path(SHARED)).cases}
    assert all(full[c.id] == c for c in dev.cases)


def test_native_cases_locate_gold_quotes_and_reuse_articles() -> None:
    data = load_dataset("cases", REPO_ROOT / "evals/data/tricky.jsonl")
    by_id = {c.id: c for c in data.cases}
    troops = by_id["numbers-troops"]
    (span,) = troops.gold.support
    assert "10,000-12,000" in data.articles["kursk"]["text"][span.start:span.end]
    assert by_id["injection-unanswerable"].article_ids == ("injection-wire",)
    tags = {t for c in data.cases for t in c.tags}
    assert {"contested", "numbers", "unanswerable", "injection", "two-articles"} <= tags


def test_realtimeqa_desk_searches_every_article_of_the_corpus() -> None:
    suite = load_suite("realtimeqa-desk@1")
    assert suite.dataset.haystack == "corpus"
    data = load_dataset("realtimeqa", suite.dataset_path(None), suite.dataset.haystack)
    per_case = load_dataset("realtimeqa", suite.dataset_path(None))
    assert [c.id for c in data.cases] == [c.id for c in per_case.cases]
    assert len(data.articles) == 83 > len(per_case.corpus(per_case.select(4)))
    cases = data.select(4)
    assert all(c.article_ids == () for c in cases)  # no filter: the whole store
    assert len(data.corpus(cases)) == 83


def test_a_corpus_haystack_needs_a_format_that_has_a_corpus() -> None:
    with pytest.raises(ConfigError, match="no corpus"):
        load_dataset("hotpotqa", HOTPOT, "corpus")


def test_followup_conversations_load_with_history_and_one_shared_corpus() -> None:
    suite = load_suite("followups@1")
    data = load_dataset(suite.dataset.format, suite.dataset_path(None))
    by_id = {c.id: c for c in data.cases}
    case = by_id["kursk-casualties"]
    assert case.history[0] == ("user", "How many troops did North Korea send to Russia?")
    assert case.gold.standalone and case.question == "And how many were killed or wounded?"
    quote = data.articles["kursk"]["text"][case.gold.support[0].start:case.gold.support[0].end]
    assert "roughly 4,000 North Korean soldiers" in quote
    # articles read "from" a JSON Lines file: an AllSides record by id, a RealTimeQA document by doc_id
    assert data.articles["weekly-jobless-claims-rise-419000-left"]["source"] == "Bloomberg"
    assert data.articles["37de0b561146239f"]["published_at"]
    selected = data.select(None)
    assert len({c.article_ids for c in selected}) == 1  # every conversation searches all their articles
    assert all(c.history and c.gold.standalone for c in data.cases)
