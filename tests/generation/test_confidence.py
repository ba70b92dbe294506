"""The learned abstention gate: its signals, its parameters file, the answer path and the fit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from evals.abstain_fit import Answered, best_threshold, effect, fit
from evals.folds import fold_of
from service.config import Settings
from service.generation.answer import AnswerResult, AskParams, answer, choose, prepare
from service.generation.confidence import FEATURES, AbstainGate, load_gate, signals
from service.ingest.article import ArticleInput
from service.retrieval.question import QuestionType
from service.runtime import Services, build_services
from service.verify.support import SupportParams
from tests.generation.test_answer_pipeline import TROOPS_Q, _marker_of, fake
from vectorstore.embeddings import MiniLMEmbedding


def _gate(bias: float, threshold: float = 0.5) -> AbstainGate:
    n = len(FEATURES)
    return AbstainGate(SupportParams(list(FEATURES), [0.0] * n, bias, [0.0] * n, [1.0] * n), threshold, {})


def test_signals_read_the_vote_and_fall_back_to_neutral_without_one() -> None:
    s = signals(none=0.1, votes=[0.2, 0.6, 0.1], cited_votes=[0.6], dense_top=0.7, supports=[0.9, 0.4],
                mode="quoted", qtype=QuestionType.NUMBER, n_cited=2, draft_abstained=False, has_short=True)
    assert list(s) == list(FEATURES)
    assert s["vote_top"] == 0.6 and s["vote_margin"] == pytest.approx(0.4) and s["support_min"] == 0.4
    assert s["quoted"] == 1.0 and s["q_number"] == 1.0 and s["q_date"] == 0.0 and s["has_short"] == 1.0
    bare = signals(none=None, votes=None, cited_votes=[], dense_top=0.5, supports=[], mode="written",
                   qtype=QuestionType.OTHER, n_cited=1, draft_abstained=True, has_short=False)
    assert bare["p_none"] == 0.5 and bare["vote_top"] == 0.0 and bare["vote_cited"] == 0.0
    assert bare["draft_abstained"] == 1.0


def test_gate_parameters_round_trip_and_reject_unknown_signals(tmp_path: Path) -> None:
    gate = _gate(2.0)
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(gate.to_json()))
    loaded = load_gate(path)
    assert loaded is not None and loaded.threshold == 0.5
    assert loaded.probability(dict.fromkeys(FEATURES, 0.0)) == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert load_gate(tmp_path / "absent.json") is None  # no file: the gate is off
    raw = gate.to_json()
    raw["model"]["feature_names"][0] = "horoscope"
    with pytest.raises(ValueError, match="horoscope"):
        AbstainGate.from_json(raw)


@pytest.fixture
def gated(tmp_path: Path, embedder: MiniLMEmbedding, seed_text: str,
          request: pytest.FixtureRequest) -> Iterator[Services]:
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(_gate(request.param).to_json()))
    settings = Settings(data_dir=tmp_path / "data", llm_backend="fake", abstain_gate=True, abstain_params=path)
    svc = build_services(settings, embedder=embedder)
    svc.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed_text, source="Fox News",
                                  published_at="2025-04-28"))
    yield svc
    svc.close()


def _troops(services: Services) -> AnswerResult:
    prep = prepare(services, AskParams(TROOPS_Q))
    choose(services, fake(services), prep)
    m = _marker_of(prep.writer, "10,000-12,000")
    fake(services).push(f"Intelligence officials said North Korea deployed 10,000-12,000 troops to Russia. [{m}]")
    return answer(services, AskParams(TROOPS_Q, model="fake"))


@pytest.mark.parametrize("gated", [-5.0], indirect=True)
def test_an_answer_the_gate_rates_unlikely_is_withdrawn(gated: Services) -> None:
    res = _troops(gated)
    assert res.abstained and res.mode == "abstained" and res.citations == []
    assert res.abstain_reason is not None and "below the learned threshold of 50%" in res.abstain_reason
    assert res.confidence is not None and res.confidence < 0.5 and res.signals is not None


@pytest.mark.parametrize("gated", [5.0], indirect=True)
def test_an_answer_the_gate_rates_likely_stands_with_its_confidence(gated: Services) -> None:
    res = _troops(gated)
    assert not res.abstained and "10,000-12,000" in res.citations[0].quote
    assert res.confidence is not None and res.confidence > 0.99
    assert res.signals is not None and res.signals["n_cited"] >= 1 and res.signals["support_min"] > 0


def test_without_the_gate_the_signals_are_still_reported(seeded: Services) -> None:
    res = _troops(seeded)
    assert not res.abstained and res.confidence is None
    assert res.signals is not None and set(res.signals) == set(FEATURES)


def test_the_threshold_withdraws_wrong_answers_net_of_right_ones() -> None:
    y = np.array([0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.9])
    t = best_threshold(y, p)
    assert t == pytest.approx(0.3)  # below it: two wrong, no right
    assert effect(y, p, t) == {"answered": 7, "right": 4, "right_lost": 0, "wrong_withdrawn": 2}
    assert best_threshold(np.array([1, 0, 1]), np.array([0.1, 0.5, 0.9])) == 0.0  # nothing gains: withdraw none


def test_the_fit_learns_a_signal_that_tells_right_from_wrong() -> None:
    rng = np.random.default_rng(0)
    rows, answered = [], []
    for i in range(160):
        right = bool(i % 2)
        x = rng.normal(0, 1, len(FEATURES))
        x[FEATURES.index("support_min")] = (0.8 if right else 0.2) + rng.normal(0, 0.1)
        cid = f"case-{i}"
        answered.append(Answered("synthetic", cid, fold_of(cid), x.tolist(), right, True))
        rows.append({"case_id": cid, "gold": {"answerable": True}, "abstained": False,
                     "metrics": {"answer_contains": float(right)}})
    gate, report = fit(answered, {"synthetic": rows})
    assert report["auc"]["check"] > 0.9 and report["auc_single_signal_check"]["support_min"] > 0.9
    assert report["carries"] and 0 < gate.threshold < 1
    assert report["effect"]["check"]["wrong_withdrawn"] > report["effect"]["check"]["right_lost"]
