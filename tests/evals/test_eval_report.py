"""report.html is one offline page with the metric table, SVG plots and escaped side-by-side diffs."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from evals.compare import build
from evals.report import render


class Outline(HTMLParser):
    """Counts what a reader would look for, by tag and class."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]


def parse(html: str) -> Outline:
    p = Outline()
    p.feed(html)
    return p


def row(case: str, variant: str, f1: float, answer: str, quote: str) -> dict[str, Any]:
    return {"case_id": case, "variant": variant, "question": f"question {case} <b>?", "answer": answer,
            "abstained": False, "citations": [{"sentence_id": f"{case}:0", "title": "T", "quote": quote}],
            "gold": {"answers": ["gold"]}, "metrics": {"f1": f1, "latency_ms": 100.0 + f1}, "error": None}


def summary_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    comparison = build(rows, ["f1", "latency_p95_ms"], "f1")
    return {"suite": "demo@1", "description": "demo", "run": "r", "created": "now", "data": "dev",
            "metrics": [{"name": "f1", "min": 0.5, "max": None, "higher_is_better": True},
                        {"name": "latency_p95_ms", "min": None, "max": None, "higher_is_better": False}],
            "comparison": comparison.as_dict()}


def test_report_has_table_plots_and_escaped_diffs() -> None:
    dropped = {**row("c1", "v1", 0.0, "wrong", "q1"), "sentences": [{"text": "PWNED <b>", "flagged": True},
                                                                   {"text": "kept", "flagged": False}]}
    rows = [dropped, row("c1", "v2", 1.0, "<script>alert(1)</script>", "“quoted” & <i>"),
            row("c2", "v1", 0.5, "same", "q2"), row("c2", "v2", 0.5, "same", "q2")]
    html = render(summary_of(rows))
    page = parse(html)
    assert not page.having("script") and not page.having("i") and "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(page.having("table", "metrics")) == 1
    assert page.having("td", "fail") and page.having("td", "pass")  # f1 v1 0.25 < 0.5, v2 0.75
    assert len(page.having("svg", "bar")) == 2 and len(page.having("svg", "histogram")) == 2
    assert page.having("path", "errorbar")
    cases = page.having("div", "case")
    assert len(cases) == 1  # c2 did not change
    assert len(page.having("blockquote")) == 2
    assert len(page.having("ul", "dropped")) == 1 and "PWNED <b>" in "".join(page.text)
    assert "“q1”" in "".join(page.text) and "“<script>" not in "".join(page.text)
    assert not [a for t, a in page.tags if t == "link" or a.get("src")]  # nothing loaded from outside
