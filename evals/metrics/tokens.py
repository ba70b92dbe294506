"""Prompt and completion tokens of one case, as the backend reported them."""

from __future__ import annotations

from collections.abc import Mapping


def token_metrics(usage: Mapping[str, int | None]) -> dict[str, float | None]:
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    total = None if prompt is None or completion is None else float(prompt + completion)
    return {
        "prompt_tokens": None if prompt is None else float(prompt),
        "completion_tokens": None if completion is None else float(completion),
        "total_tokens": total,
    }
