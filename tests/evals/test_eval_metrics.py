"""Each metric on hand-made cases with values worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from evals.metrics.abstention import abstention_metrics
from evals.metrics.answer import contains_answer, exact_match, normalize_answer, token_f1
from evals.metrics.citations import Statement, alce
from evals.metrics.faithfulness import faithfulness
from evals.metrics.latency import p50, p95
from evals.metrics.rouge import rouge
from evals.metrics.support import Span, support_prf
from evals.metrics.tokens import token_metrics


def test_squad_normalisation_and_scores() -> None:
    assert normalize_answer("The  Buffalo Bills!") == "buffalo bills"
    assert exact_match("the Buffalo Bills.", ["Buffalo Bills"]) == 1.0
    assert exact_match("Bills", ["Buffalo Bills"]) == 0.0
    # pred "buffalo bills won" vs gold "buffalo bills": P = 2/3, R = 1 -> F1 = 0.8
    assert token_f1("Buffalo Bills won", ["Buffalo Bills"]) == pytest.approx(0.8)
    assert token_f1("Cincinnati", ["Buffalo Bills", "cincinnati"]) == 1.0  # best gold counts
    assert token_f1("", ["x"]) == 0.0


def test_contains_respects_word_boundaries() -> None:
    assert contains_answer("They deployed 10,000-12,000 troops [1]", ["10,000-12,000"]) == 1.0
    assert contains_answer("In 2066 we", ["206"]) == 0.0
    assert contains_answer("anything", []) == 0.0
    # a possessive still names the answer; a gold answer that is itself possessive still matches
    assert contains_answer("make permanent Florida’s prohibitions on mask mandates", ["Florida"]) == 1.0
    assert contains_answer("Steven Spielberg's film won best director", ["Steven Spielberg"]) == 1.0
    assert contains_answer("M&M’s branding is getting a refresh.", ["M&M’s"]) == 1.0
    assert contains_answer("Papa Gino's is based in Dedham", ["Papa Gino's"]) == 1.0
    assert contains_answer("the Floridas are islands", ["Florida"]) == 0.0


def test_supporting_sentence_prf_uses_character_overlap() -> None:
    gold = [Span("a", 0, 50), Span("b", 10, 30)]
    cited = [Span("a", 40, 80), Span("c", 0, 10), Span("a", 40, 80)]  # duplicate counted once
    prf = support_prf(cited, gold)
    assert prf.precision == pytest.approx(0.5)  # 1 of 2 distinct citations hits gold
    assert prf.recall == pytest.approx(0.5)  # only gold "a" is covered
    assert prf.f1 == pytest.approx(0.5)
    abstained = support_prf([], gold)
    assert abstained.precision is None and abstained.recall == 0.0 and abstained.f1 == 0.0
    assert support_prf([Span("a", 50, 60)], gold).precision == 0.0  # touching is not overlapping


def judge(pairs: Sequence[tuple[str, list[str]]]) -> list[float]:
    """Supported (1.0) when every word of the claim occurs in the evidence."""
    return [float(set(c.split()) <= set(" ".join(e).split())) for c, e in pairs]


def test_alce_recall_and_precision() -> None:
    statements = [
        Statement("a b", ("a b", "z")),  # supported; "z" is redundant (alone no, without it still yes)
        Statement("c d", ("c", "d")),  # supported only jointly: both citations relevant
        Statement("e", ("x",)),  # unsupported: its citation is irrelevant
        Statement("f", ()),  # no citation: recall 0, no citations counted
    ]
    s = alce(statements, judge, 0.5)
    assert s.recall == pytest.approx(2 / 4)
    assert s.citations == 5
    assert s.precision == pytest.approx(3 / 5)  # "a b", "c", "d"
    assert alce([], judge, 0.5).recall is None


def test_faithfulness_abstention_latency_tokens() -> None:
    assert faithfulness([True, True, False, True]) == 0.75
    assert faithfulness([]) is None
    assert abstention_metrics(True, False) == {"abstention_correct": 1.0, "abstained_unanswerable": 1.0,
                                               "false_abstention": None}
    assert abstention_metrics(True, True)["false_abstention"] == 1.0
    assert abstention_metrics(False, True)["abstention_correct"] == 1.0
    assert p50([1, 2, 3, 4]) == 2.5
    assert p95([float(i) for i in range(1, 101)]) == pytest.approx(95.05)
    assert p50([]) is None
    assert token_metrics({"prompt_tokens": 10, "completion_tokens": 5})["total_tokens"] == 15.0
    assert token_metrics({"prompt_tokens": None, "completion_tokens": 5})["total_tokens"] is None


def test_rouge_known_values() -> None:
    same = rouge("the cat sat on the mat", "the cat sat on the mat")
    assert same == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    # unigrams: {the, cat, sat} vs {the, cat, ran}: 2 of 3 -> F = 2/3; bigrams: "the cat" 1 of 2 -> 1/2
    r = rouge("the cat ran", "the cat sat")
    assert r["rouge1"] == pytest.approx(2 / 3, abs=1e-6)
    assert r["rouge2"] == pytest.approx(0.5, abs=1e-6)
    assert r["rougeL"] == pytest.approx(2 / 3, abs=1e-6)
