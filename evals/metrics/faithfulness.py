"""Faithfulness: the share of generated sentences that their citations support."""

from __future__ import annotations

from collections.abc import Sequence


def faithfulness(supported: Sequence[bool]) -> float | None:
    """``None`` for an output without sentences (an abstention says nothing to check)."""
    return sum(supported) / len(supported) if supported else None
