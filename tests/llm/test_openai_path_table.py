"""The one-run comparison's table (benchmarks.openai_path): both variants side by side, per fold,
with the p50 ratio, whatever the server's model alias was."""

from __future__ import annotations

from typing import Any

from benchmarks.openai_path import table


def est(recall: float, p50_ms: float) -> dict[str, Any]:
    return {"citation_recall": {"value": recall, "low": recall - 0.1, "high": recall + 0.1, "n": 10},
            "latency_p50_ms": {"value": p50_ms, "low": p50_ms, "high": p50_ms, "n": 10}}


def test_the_table_pairs_local_and_server_per_fold_with_the_latency_ratio() -> None:
    both = {"answer@v3 | local": est(0.5, 10_000.0), "answer@v3 | openai:some-alias": est(0.4, 12_000.0)}
    summary = {"suite": "hotpotqa-cite@2", "run": "r1", "machine": {"load_average_start": 1.0},
               "comparison": {"cases": 10, "estimates": both, "primary": "answer_contains"},
               "folds": {"check": {"cases": 4, "estimates": {"answer@v3 | local": est(0.6, 9_000.0),
                                                             "answer@v3 | openai:x": est(0.3, 13_500.0)}}}}
    lines = table(summary)
    assert "| all (n=10) | citation_recall | 0.500 [0.40, 0.60] | 0.400 [0.30, 0.50] |" in lines
    assert "| all | p50 ratio openai/local | | **1.20x** |" in lines
    assert "| check (n=4) | latency_p50_ms | 9.0 s | 13.5 s |" in lines
    assert "| check | p50 ratio openai/local | | **1.50x** |" in lines
