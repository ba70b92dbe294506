"""report.html: one self-contained page (inline CSS and SVG, no scripts) from a run's summary.

Sections: the metric table with 95% CIs and thresholds, paired differences with win/loss/tie,
bar charts with error bars and score histograms, and the most-changed cases side by side with
their citations as quotes.  Every piece of text from data is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from evals.runs import REPORT
from evals.svg import bar_chart, histogram

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.ci{color:#666;font-size:.8rem}.fail{background:#fbe3e4}.pass{background:#e6f4ea}
.worse{color:#b00020;font-weight:bold}.better{color:#137333;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:.75rem}
.case{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
blockquote{margin:.3rem 0 .3rem .5rem;padding:.2rem .6rem;border-left:3px solid #bbb;color:#333;font-size:.88rem}
.meta{color:#555;font-size:.85rem}.dropped{color:#888;text-decoration:line-through;font-size:.85rem}.abstained{color:#a15c00}
"""


def _num(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "–"
    return f"{v:.{digits}f}" if abs(v) < 100 else f"{v:,.0f}"


def _count(v: int | None) -> str:
    return "–" if v is None else str(v)


def _estimate(e: dict[str, Any]) -> str:
    if e.get("value") is None:
        return '<td class="num">–</td>'
    return (f'<td class="num">{_num(e["value"])} <span class="ci">[{_num(e["low"])}, {_num(e["high"])}] '
            f'n={e["n"]}</span></td>')


def threshold_ok(spec: dict[str, Any], value: float | None) -> bool | None:
    if value is None or (spec.get("min") is None and spec.get("max") is None):
        return None
    return not ((spec.get("min") is not None and value < spec["min"])
                or (spec.get("max") is not None and value > spec["max"]))


def metric_table(summary: dict[str, Any]) -> str:
    comp = summary["comparison"]
    head = "".join(f"<th>{escape(v)}</th>" for v in comp["variants"])
    rows = []
    for spec in summary["metrics"]:
        name = spec["name"]
        cells = []
        for v in comp["variants"]:
            e = comp["estimates"][v][name]
            ok = threshold_ok(spec, e.get("value"))
            cell = _estimate(e)
            if ok is not None:
                cell = cell.replace('<td class="num">', f'<td class="num {"pass" if ok else "fail"}">', 1)
            cells.append(cell)
        bound = " ".join(x for x in (f"≥ {spec['min']}" if spec.get("min") is not None else "",
                                     f"≤ {spec['max']}" if spec.get("max") is not None else "") if x)
        arrow = "↑" if spec.get("higher_is_better", True) else "↓"
        rows.append(f'<tr><th title="{escape(spec.get("description", ""))}">{escape(name)} {arrow}</th>'
                    f'{"".join(cells)}<td>{escape(bound)}</td></tr>')
    return (f'<table class="metrics"><thead><tr><th>metric</th>{head}<th>threshold</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def fold_table(summary: dict[str, Any]) -> str:
    """Each metric on the tuning and the check fold, side by side, per variant (evals/folds.py)."""
    folds = summary.get("folds")
    if not folds:
        return "<p>This summary predates folds; <code>newsdesk eval report RUN</code> adds them.</p>"
    variants = summary["comparison"]["variants"]
    head = "".join(f"<th>{escape(v)} · tune (n={folds['tune']['cases']})</th>"
                   f"<th>{escape(v)} · check (n={folds['check']['cases']})</th>" for v in variants)
    rows = []
    for spec in summary["metrics"]:
        cells = "".join(_estimate(folds[f]["estimates"].get(v, {}).get(spec["name"], {}))
                        for v in variants for f in ("tune", "check"))
        rows.append(f"<tr><th>{escape(spec['name'])}</th>{cells}</tr>")
    return (f'<table class="folds"><thead><tr><th>metric</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table><p class=meta>Cases are split by a hash of their id (about 60% tune, 40% check), the same "
            f"split in every run. A change is kept only when the check fold does not get worse.</p>")


def diff_table(summary: dict[str, Any], pair: dict[str, Any]) -> str:
    direction = {m["name"]: m.get("higher_is_better", True) for m in summary["metrics"]}
    rows = []
    for name, d in pair["diffs"].items():
        if d.get("diff") is None:
            continue
        cls = ""
        if d["low"] is not None and (d["low"] > 0 or d["high"] < 0):
            cls = "better" if (d["low"] > 0) == direction.get(name, True) else "worse"
        rows.append(f'<tr><th>{escape(name)}</th><td class="num {cls}">{d["diff"]:+.3f}</td>'
                    f'<td class="num">[{d["low"]:+.3f}, {d["high"]:+.3f}]</td><td class="num">{d["p_value"]:.3f}</td>'
                    f'<td class="num">{d["wins"]} / {d["losses"]} / {d["ties"]}</td><td class="num">{d["n"]}</td></tr>')
    return (f'<h3>{escape(pair["b"])} − {escape(pair["a"])}</h3><table class="diffs"><thead><tr><th>metric</th>'
            f"<th>Δ</th><th>95% CI</th><th>p (paired permutation)</th><th>win / loss / tie</th><th>n</th></tr>"
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def charts(summary: dict[str, Any]) -> str:
    comp = summary["comparison"]
    variants = comp["variants"]
    bars = []
    for spec in summary["metrics"]:
        es = [comp["estimates"][v][spec["name"]] for v in variants]
        if all(e.get("value") is None for e in es):
            continue
        bars.append(bar_chart(spec["name"], variants, [e.get("value") for e in es], [e.get("low") for e in es],
                              [e.get("high") for e in es]))
    primary = comp["primary"]
    hist = histogram(f"{primary}: per-case distribution", {v: comp["values"][v].get(primary, []) for v in variants})
    latency = [m["name"] for m in summary["metrics"] if m["name"].startswith("latency")]
    hist_lat = histogram("latency_ms: per-case distribution",
                         {v: comp["values"][v].get(latency[0], []) for v in variants}) if latency else ""
    return f'<div class="charts">{"".join(bars)}</div><div class="charts">{hist}{hist_lat}</div>'


def _side(side: dict[str, Any]) -> str:
    quotes = "".join(f'<blockquote>“{escape(c.get("quote", ""))}”<div class="meta">{escape(c.get("title") or "")} · '
                     f'{escape(c.get("sentence_id", ""))}</div></blockquote>' for c in side.get("citations", []))
    answer = escape(side.get("answer", ""))
    if side.get("abstained"):
        answer = f'<span class="abstained">abstained:</span> {answer}'
    dropped = "".join(f"<li>{escape(t)}</li>" for t in side.get("dropped", []))
    if dropped:
        dropped = f'<div class="meta">draft sentences dropped by verification:</div><ul class="dropped">{dropped}</ul>'
    return (f'<div><div class="meta">{escape(side["variant"])} · score {_num(side.get("value"))}</div>'
            f'<p class="answer">{answer}</p>{quotes or "<p class=meta>no citations</p>"}{dropped}</div>')


def changed_cases(pair: dict[str, Any], primary: str) -> str:
    if not pair["changed"]:
        return f'<p>No case changed between {escape(pair["a"])} and {escape(pair["b"])}.</p>'
    items = []
    for c in pair["changed"]:
        gold = "; ".join(c.get("gold") or [])
        items.append(f'<div class="case"><p><b>{escape(c["case_id"])}</b> · Δ{escape(primary)} {c["delta"]:+.3f}</p>'
                     f'<p class="question">{escape(c.get("question", ""))}</p>'
                     f'<p class="meta">gold: {escape(gold) or "–"}</p>'
                     f'<div class="sides">{_side(c["a"])}{_side(c["b"])}</div></div>')
    return f'<h3>{escape(pair["b"])} vs {escape(pair["a"])}</h3>{"".join(items)}'


def render(summary: dict[str, Any]) -> str:
    comp = summary["comparison"]
    cache = summary.get("cache", {})
    facts = (f'run {escape(str(summary.get("run", "")))} · {escape(str(summary.get("created", "")))} · '
             f'data {escape(str(summary.get("data", "")))} · {comp["cases"]} cases · '
             f'{len(comp["variants"])} variants · errors {comp["errors"]} · '
             f'cache hits {cache.get("hits", 0)}, misses {_count(cache.get("misses"))} · '
             f'{"complete" if summary.get("complete", True) else "UNFINISHED run"} · '
             f'{escape(str(summary.get("machine", {}).get("cpus", "?")))} CPUs')
    diffs = "".join(diff_table(summary, p) for p in comp["pairs"]) or "<p>Only one variant: nothing to compare.</p>"
    changed = "".join(changed_cases(p, comp["primary"]) for p in comp["pairs"]) or "<p>Only one variant.</p>"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(summary["suite"])} '
            f'eval report</title><style>{CSS}</style></head><body>'
            f'<h1>{escape(summary["suite"])}: {escape(summary.get("description", ""))}</h1><p class="meta">{facts}</p>'
            f'<h2 id="metrics">Metrics (mean or percentile, bootstrap 95% CI)</h2>{metric_table(summary)}'
            f'<h2 id="folds">Tuning and check folds</h2>{fold_table(summary)}'
            f'<h2 id="differences">Paired differences</h2>{diffs}'
            f'<h2 id="plots">Plots</h2>{charts(summary)}'
            f'<h2 id="changed">Most-changed cases (by {escape(comp["primary"])})</h2>{changed}'
            f"</body></html>")


def write_report(run_path: Path, summary: dict[str, Any]) -> Path:
    path = run_path / REPORT
    path.write_text(render(summary), encoding="utf-8")
    return path
