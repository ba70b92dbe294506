"""The retrieval eval keeps one store per data set between runs: a store built with other vector
settings must not be reused (its vectors would be the other setting's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.retrieval import store_settings, vectors_note


def test_vector_settings_name_their_own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_SENTENCE_VECTORS", "separate")
    separate = store_settings("hotpotqa", tmp_path, "data.jsonl")
    assert separate.sentence_vectors == "separate" and separate.data_dir.parent == tmp_path / "stores"
    assert store_settings("hotpotqa", tmp_path, "data.jsonl").data_dir == separate.data_dir  # kept between runs
    monkeypatch.setenv("NEWSDESK_SENTENCE_VECTORS", "late")
    late = store_settings("hotpotqa", tmp_path, "data.jsonl")
    assert late.sentence_vectors == "late" and late.data_dir != separate.data_dir
    monkeypatch.setenv("NEWSDESK_LATE_WINDOW_TOKENS", "128")
    assert store_settings("hotpotqa", tmp_path, "data.jsonl").data_dir not in (late.data_dir, separate.data_dir)
    assert vectors_note(late) == "late, windows of 64 tokens"
