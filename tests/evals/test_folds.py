"""The tuning/check split is a pure function of the case id: fixed forever, about 60/40."""

from __future__ import annotations

import json

from evals.folds import fold_of, split
from service.config import REPO_ROOT


def test_the_split_is_pinned() -> None:
    # a change to the salt or the hash would move cases between folds: these must never change
    pinned = {cid: fold_of(cid) for cid in ("a", "b", "c", "d", "e")}
    assert pinned == {"a": "check", "b": "check", "c": "tune", "d": "tune", "e": "tune"}


def test_about_sixty_percent_tune() -> None:
    share = sum(fold_of(f"case-{i}") == "tune" for i in range(4000)) / 4000
    assert 0.57 < share < 0.63


def test_every_dev_suite_has_cases_in_both_folds() -> None:
    ids = [json.loads(line)["id"] for line in (REPO_ROOT / "evals/data/tricky.jsonl").read_text().splitlines()
           if line.strip()]
    parts = split([{"case_id": i} for i in ids])
    assert parts["tune"] and parts["check"] and len(parts["tune"]) + len(parts["check"]) == len(ids)
