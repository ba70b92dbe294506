"""Neutrality of a summary, as the summaries pipeline measures it (service.verify.neutrality):
loaded words we introduced per output word, attributions kept, and contested pairs carried with
both sides.  This module only maps its report onto eval metrics.
"""

from __future__ import annotations

from service.verify.neutrality import NeutralityReport


def neutrality_metrics(report: NeutralityReport) -> dict[str, float | None]:
    return {"loaded_rate": report.loaded_rate, "attribution_rate": report.attribution_rate,
            "contested_coverage": report.contested_coverage}
