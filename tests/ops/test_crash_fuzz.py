"""The crash and fuzz proofs of benchmarks/crash.py and benchmarks/fuzz.py, at CI size.

Crash: 80 articles (the script's full run uses 1,000; see docs/reliability.md).
Fuzz: the full >= 1,000-case schemathesis run over the whole schema (it takes seconds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import crash, fuzz

pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize("kill", ["service", "chroma"])
def test_kill_9_mid_ingest_leaves_nothing_half_indexed_and_loses_nothing_acknowledged(tmp_path: Path,
                                                                                       kill: str) -> None:
    res = crash.run(tmp_path, articles=80, batch=8, kill=kill, kill_points=(0.3, 0.6), jitter_s=0.5)
    assert res["kills"] == 2
    for r in res["rounds"]:
        assert r["in_flight_at_kill"] > 0  # the kill really cut an ingest off
        assert r["after_restart"]["half_indexed"] == 0, res
        assert r["acked_missing_after_restart"] == 0, res
    assert res["client_failures"], res  # and the clients saw it
    final = res["final"]
    assert (final["visible"], final["half_indexed"], final["journal_pending"]) == (80, 0, 0), res
    assert (final["wrong_text"], final["bad_sentence_slices"], final["orphan_sentence_vectors"]) == (0, 0, 0), res
    assert res["ok"], res


def test_schemathesis_1000_cases_no_server_error_and_every_4xx_is_problem_json(tmp_path: Path) -> None:
    res = fuzz.run(tmp_path / "data", max_examples=40, seed=1)
    assert res["cases"].get("generated", 0) >= 1000, res["output_tail"]
    assert res["exit_code"] == 0, res["output_tail"]
    assert res["server_5xx_in_log"] == 0
    assert not res["key_in_server_log"]
    assert sum(n for s, n in res["statuses"].items() if s.startswith("2")) > 100  # it got past auth and validation
