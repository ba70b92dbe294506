"""``newsdesk eval ...``: run suites, compare runs, gate CI.

service/cli.py creates the ``eval`` sub-app and passes its domain-error edge to :func:`register`,
so this module never imports the CLI (no import circle).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.config import REPO_ROOT
from service.errors import InvalidInput

out = Console()
err = Console(stderr=True)
T = TypeVar("T")
Edge = Callable[[Callable[..., Any]], Callable[..., Any]]

PromptOpt = Annotated[list[str] | None, typer.Option("--prompt", help="Prompt ref, repeatable: answer@v1.")]
ModelOpt = Annotated[list[str] | None, typer.Option("--model", help="Backend ref, repeatable: fake, local, openai:...")]
LimitOpt = Annotated[int | None, typer.Option(help="Run only the first N cases.")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Use the suite's full data set under this folder.")]
ResultsOpt = Annotated[Path, typer.Option("--results-dir", help="Where run folders go.")]
WorkOpt = Annotated[Path | None, typer.Option("--work-dir", help="Response cache and stores (default: cache dir).")]


class RichProgress:
    """The runner's progress sink, drawn with rich on stderr."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task: TaskID | None = None

    def start(self, label: str, total: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)


@contextmanager
def progress_bar() -> Iterator[RichProgress]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        yield RichProgress(bar)


def print_summary(summary: dict[str, Any]) -> None:
    comp = summary["comparison"]
    table = Table(title=f"{summary['suite']} · {comp['cases']} cases")
    table.add_column("metric")
    for v in comp["variants"]:
        table.add_column(v, justify="right")
    for spec in summary["metrics"]:
        cells = []
        for v in comp["variants"]:
            e = comp["estimates"][v][spec["name"]]
            cells.append("–" if e["value"] is None else f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]")
        table.add_row(spec["name"], *cells)
    out.print(table)
    print_folds(summary)
    for pair in comp["pairs"]:
        d = pair["diffs"].get(comp["primary"], {})
        if d.get("diff") is not None:
            out.print(f"{pair['b']} − {pair['a']}: Δ{comp['primary']} {d['diff']:+.3f} "
                      f"[{d['low']:+.3f}, {d['high']:+.3f}] p={d['p_value']:.3f} "
                      f"win/loss/tie {d['wins']}/{d['losses']}/{d['ties']}")


def _cell(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "–"
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def print_folds(summary: dict[str, Any]) -> None:
    """The tuning and the check fold side by side (evals/folds.py), per variant."""
    folds = summary.get("folds")
    if not folds:
        return
    variants = summary["comparison"]["variants"]
    table = Table(title=f"folds · tune {folds['tune']['cases']} cases · check {folds['check']['cases']} cases "
                        f"(keep a change only if check does not get worse)")
    table.add_column("metric")
    for v in variants:
        table.add_column(f"{v} tune" if len(variants) > 1 else "tune", justify="right")
        table.add_column(f"{v} check" if len(variants) > 1 else "check", justify="right")
    for spec in summary["metrics"]:
        cells = []
        for v in variants:
            cells += [_cell(folds[f]["estimates"].get(v, {}).get(spec["name"])) for f in ("tune", "check")]
        table.add_row(spec["name"], *cells)
    out.print(table)


def run_cmd(suite: str, prompt: PromptOpt = None, model: ModelOpt = None, limit: LimitOpt = None,
            data_dir: DataOpt = None, results_dir: ResultsOpt = REPO_ROOT / "results", work_dir: WorkOpt = None,
            new: Annotated[bool, typer.Option("--new", help="Start a new run instead of resuming.")] = False) -> None:
    """Run a suite (resuming an unfinished run of the same configuration)."""
    from evals.runner import RunOptions, run_suite
    from evals.suite import load_suite

    opts = RunOptions(load_suite(suite), prompt or [], model or [], limit, data_dir, results_dir, work_dir, not new)
    with progress_bar() as bar:
        outcome = run_suite(opts, progress=bar)
    print_summary(outcome.summary)
    out.print(f"ran {outcome.ran} (skipped {outcome.skipped} done), errors {outcome.errors}, "
              f"cache hits {outcome.cache_hits}, misses {outcome.cache_misses}")
    out.print(f"report: {outcome.run.path / 'report.html'}")


def compare_cmd(run_a: Path, run_b: Path,
                out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the comparison report.")] = None,
                results_dir: ResultsOpt = REPO_ROOT / "results") -> None:
    """Compare two stored runs (same variant labels are paired; single variants are paired with each other)."""
    from evals.runs import open_run
    from evals.stored import compare_runs

    a, b = open_run(run_a), open_run(run_b)
    target = out_dir or results_dir / "compare" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary = compare_runs(a, b, target)
    print_summary(summary)
    out.print(f"report: {target / 'report.html'}")


def gate_cmd(suite: Annotated[str | None, typer.Argument(help="Suite id; omit with --changed.")] = None,
             baseline: Annotated[Path | None, typer.Option(help="Baseline run folder.")] = None,
             changed: Annotated[bool, typer.Option("--changed", help="Run and gate the real-model suites of every "
                                                   "prompt whose file changed since its committed baseline.")] = False,
             markdown_out: Annotated[Path | None, typer.Option("--markdown", help="Write the PR-comment report "
                                                              "here (with --changed).")] = None,
             run: Annotated[Path | None, typer.Option("--run", help="Gate this run instead of running now.")] = None,
             tolerance: Annotated[float, typer.Option(help="Allowed drop before a significant one fails.")] = 0.0,
             prompt: PromptOpt = None, model: ModelOpt = None, limit: LimitOpt = None, data_dir: DataOpt = None,
             results_dir: ResultsOpt = REPO_ROOT / "results", work_dir: WorkOpt = None) -> None:
    """Exit 1 when a metric misses its threshold or drops significantly against --baseline."""
    from evals.gate import gate
    from evals.runner import RunOptions, run_suite
    from evals.runs import open_run
    from evals.suite import load_suite

    if changed:
        _gate_changed(markdown_out, tolerance, data_dir, results_dir, work_dir)
        return
    if suite is None:
        raise InvalidInput.for_field("suite", "name a suite, or pass --changed")
    spec = load_suite(suite)
    if run is None:
        opts = RunOptions(spec, prompt or [], model or [], limit, data_dir, results_dir, work_dir)
        with progress_bar() as bar:
            run_dir = run_suite(opts, progress=bar).run
    else:
        run_dir = open_run(run)
    checks = gate(spec, run_dir.rows(), open_run(baseline).rows() if baseline else None, tolerance)
    table = Table(title=f"gate {spec.id} · {run_dir.path}")
    for col in ("variant", "metric", "check", "result", "detail"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.variant, c.metric, c.kind, "[green]ok[/]" if c.ok else "[red]FAIL[/]", c.detail)
    out.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        err.print(f"[bold red]gate failed:[/] {len(failed)} check(s)")
        raise typer.Exit(1)
    out.print("[green]gate passed[/]")


def _gate_changed(markdown_out: Path | None, tolerance: float, data_dir: Path | None, results_dir: Path,
                  work_dir: Path | None) -> None:
    from evals.prompt_gate import changed_prompts, real_model_suites, run_changed
    from evals.runner import RunOptions, run_suite

    def runner(spec: Any, prompts: list[str], data: Path | None, limit: int | None) -> Any:
        opts = RunOptions(spec, prompts, [], limit, data, results_dir, work_dir, resume=False)
        with progress_bar() as bar:
            return run_suite(opts, progress=bar).run

    changes = changed_prompts(real_model_suites())
    for ch in changes:
        out.print(f"{ch.suite.id}: prompt file changed since the baseline: {', '.join(ch.changed)}")
    results, report = run_changed(changes, runner, tolerance=tolerance, data_dir=data_dir)
    out.print(report)
    if markdown_out is not None:
        markdown_out.parent.mkdir(parents=True, exist_ok=True)
        markdown_out.write_text(report, encoding="utf-8")
    if any(not c.ok for _, _, checks in results for c in checks):
        raise typer.Exit(1)


def report_cmd(run: Path) -> None:
    """Rewrite summary.json and report.html of a run from its results.jsonl (finished or not)."""
    from evals.runner import write_summary
    from evals.runs import open_run
    from evals.suite import load_suite

    run_dir = open_run(run)
    suite = run_dir.meta().get("suite") or json.loads((run_dir.path / "summary.json").read_text())["suite"]
    summary = write_summary(load_suite(suite), run_dir)
    print_summary(summary)
    out.print(f"report: {run_dir.path / 'report.html'}")


def list_cmd() -> None:
    """List the suites in evals/suites."""
    from evals.suite import list_suites

    for s in list_suites():
        out.print(f"[bold]{s.id}[/] ({s.task}) {s.description}  [dim]{', '.join(s.compare.prompts)} × "
                  f"{', '.join(s.compare.models)}[/]")


def calibration_cmd(data_dir: DataOpt = None) -> None:
    """Support-checker calibration: ROC AUC on QAGS, Spearman with FRANK Factuality."""
    from dataclasses import asdict

    from evals.metrics.calibration import calibrate
    from vectorstore.embeddings import MiniLMEmbedding

    result = calibrate(data_dir or REPO_ROOT / "evals" / "data", MiniLMEmbedding())
    out.print_json(json.dumps(asdict(result)))


def register(app: typer.Typer, edge: Edge) -> None:
    """Add the eval commands to ``app``, each behind the CLI's domain-error ``edge``."""
    app.command("run")(edge(run_cmd))
    app.command("compare")(edge(compare_cmd))
    app.command("gate")(edge(gate_cmd))
    app.command("report")(edge(report_cmd))
    app.command("list")(edge(list_cmd))
    app.command("calibration")(edge(calibration_cmd))
