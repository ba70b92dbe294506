"""Small inline SVG charts for the offline report: bars with error bars, and histograms.

Everything is plain SVG text built here (no JavaScript, no external assets); every label is
escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ["#3b6ea5", "#d9822b", "#4c9a5f", "#b04a5a", "#7a5ea8", "#8c7b4f"]
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    if value <= 1.0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 10 else f"{v:,.0f}"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None],
              lows: Sequence[float | None], highs: Sequence[float | None], *, width: int = 260,
              height: int = 170) -> str:
    """One bar per variant with its 95% CI as an error bar; y from 0."""
    top = _nice_max(max([h for h in highs if h is not None] + [v for v in values if v is not None] + [0.0]))
    left, right, head, foot = 40, 10, 22, 18
    plot_w, plot_h = width - left - right, height - head - foot
    n = max(1, len(labels))
    slot = plot_w / n
    bar_w = min(40.0, slot * 0.6)

    def y(v: float) -> float:
        return head + plot_h * (1 - max(0.0, v) / top)

    parts = [f'<svg class="chart bar" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
             f"<title>{escape(title)}</title>",
             f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{head + plot_h}" x2="{width - right}" y2="{head + plot_h}" stroke="#888"/>',
             f'<line x1="{left}" y1="{head}" x2="{left}" y2="{head + plot_h}" stroke="#888"/>']
    for tick in (0.0, top / 2, top):
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    for i, (label, v, lo, hi) in enumerate(zip(labels, values, lows, highs, strict=True)):
        cx = left + slot * (i + 0.5)
        if v is not None:
            parts.append(f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{y(v):.1f}" width="{bar_w:.1f}" '
                         f'height="{head + plot_h - y(v):.1f}" fill="{colour(i)}"><title>{escape(label)}: '
                         f'{_fmt(v)}</title></rect>')
        if lo is not None and hi is not None:
            parts.append(f'<path class="errorbar" d="M{cx:.1f},{y(lo):.1f}V{y(hi):.1f}M{cx - 5:.1f},{y(lo):.1f}'
                         f'h10M{cx - 5:.1f},{y(hi):.1f}h10" stroke="#222" fill="none"/>')
        parts.append(f'<text x="{cx:.1f}" y="{height - 5}" text-anchor="middle">{escape(_short(label))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, series: dict[str, Sequence[float]], *, bins: int = 10, width: int = 420,
              height: int = 190) -> str:
    """Per-case score distribution of each variant, bars side by side within each bin."""
    allv = [v for vs in series.values() for v in vs]
    lo, hi = (min(allv), max(allv)) if allv else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]
    counts = {name: [0] * bins for name in series}
    for name, vs in series.items():
        for v in vs:
            counts[name][min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    peak = max([c for cs in counts.values() for c in cs] + [1])
    left, right, head, foot = 30, 10, 22, 34
    plot_w, plot_h = width - left - right, height - head - foot
    bin_w = plot_w / bins
    k = max(1, len(series))
    parts = [f'<svg class="chart histogram" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
             f"<title>{escape(title)}</title>",
             f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{head + plot_h}" x2="{width - right}" y2="{head + plot_h}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{head + 4}" text-anchor="end">{peak}</text>']
    for j, (name, cs) in enumerate(counts.items()):
        for b, c in enumerate(cs):
            if c:
                h = plot_h * c / peak
                x = left + b * bin_w + j * bin_w / k
                parts.append(f'<rect x="{x:.1f}" y="{head + plot_h - h:.1f}" width="{bin_w / k - 1:.1f}" '
                             f'height="{h:.1f}" fill="{colour(j)}"><title>{escape(name)} '
                             f'[{_fmt(edges[b])}, {_fmt(edges[b + 1])}): {c}</title></rect>')
    for b in (0, bins // 2, bins):
        parts.append(f'<text x="{left + b * bin_w:.1f}" y="{head + plot_h + 12}" text-anchor="middle">'
                     f"{_fmt(edges[b])}</text>")
    for j, name in enumerate(series):
        x = left + j * (plot_w / k)
        parts.append(f'<rect x="{x:.1f}" y="{height - 11}" width="9" height="9" fill="{colour(j)}"/>'
                     f'<text x="{x + 12:.1f}" y="{height - 3}">{escape(_short(name, 28))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
