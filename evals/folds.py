"""Tuning and check folds: every case belongs to one, by a hash of its id, forever.

A rule, threshold or prompt change is tuned on the ``tune`` fold (about 60% of a suite) and kept
only when the ``check`` fold (the other 40%), which it was not tuned on, does not get worse. The
split depends on nothing but the case id and the salt below: adding cases, reordering a file or
running a subset never moves a case to the other fold.
"""

from __future__ import annotations

import hashlib
from typing import Any

SALT = "newsdesk-fold-v1"
TUNE_SHARE = 60
"""Percent of cases in the tuning fold."""
FOLDS = ("tune", "check")


def fold_of(case_id: str) -> str:
    h = int(hashlib.sha256(f"{SALT}:{case_id}".encode()).hexdigest()[:8], 16)
    return "tune" if h % 100 < TUNE_SHARE else "check"


def split(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Result rows by fold (every fold present, possibly empty)."""
    out: dict[str, list[dict[str, Any]]] = {f: [] for f in FOLDS}
    for row in rows:
        out[fold_of(row["case_id"])].append(row)
    return out
