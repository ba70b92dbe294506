"""Abstention: did the system decline exactly when the sources do not hold the answer?

Per case, three indicators (``None`` where a rate does not apply):

* ``abstention_correct``: abstained == unanswerable (accuracy over all cases);
* ``abstained_unanswerable``: on unanswerable cases, 1 when it abstained (true abstentions);
* ``false_abstention``: on answerable cases, 1 when it abstained anyway.
"""

from __future__ import annotations


def abstention_metrics(abstained: bool, answerable: bool | None) -> dict[str, float | None]:
    if answerable is None:
        return {"abstention_correct": None, "abstained_unanswerable": None, "false_abstention": None}
    return {
        "abstention_correct": float(abstained != answerable),
        "abstained_unanswerable": None if answerable else float(abstained),
        "false_abstention": float(abstained) if answerable else None,
    }
