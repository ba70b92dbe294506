"""Run directories: results/<suite>/<timestamp>/ with run.json, results.jsonl, summary.json, report.html."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.datasets.jsonl import read_jsonl
from service.errors import NotFound

RESULTS = "results.jsonl"
RUN = "run.json"
SUMMARY = "summary.json"
REPORT = "report.html"


@dataclass(slots=True)
class RunDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    def meta(self) -> dict[str, Any]:
        file = self.path / RUN
        return json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / RUN).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def rows(self) -> list[dict[str, Any]]:
        """The latest row of each (variant, case): a resumed run appends retries of failed cases."""
        file = self.path / RESULTS
        latest = {(r["variant"], r["case_id"]): r for r in (read_jsonl(file) if file.exists() else [])}
        return list(latest.values())

    def done(self) -> set[tuple[str, str]]:
        return {(r["variant"], r["case_id"]) for r in self.rows() if r.get("error") is None}

    def append(self, row: dict[str, Any]) -> None:
        with (self.path / RESULTS).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def new_run(root: Path, slug: str) -> RunDir:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = root / slug / stamp, 1
    while path.exists():
        n += 1
        path = root / slug / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return RunDir(path)


def resumable(root: Path, slug: str, fingerprint: dict[str, Any]) -> RunDir | None:
    """The newest unfinished run of ``slug`` with the same configuration, if any."""
    folder = root / slug
    if not folder.is_dir():
        return None
    for path in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        meta = RunDir(path).meta()
        if meta.get("fingerprint") == fingerprint and not meta.get("complete"):
            return RunDir(path)
    return None


def open_run(ref: str | Path) -> RunDir:
    """A run directory, or the folder of a summary/results file inside one."""
    path = Path(ref)
    if path.is_file():
        path = path.parent
    if not (path / RESULTS).exists():
        raise NotFound(f"{path} is not an eval run (no {RESULTS})")
    return RunDir(path)


def latest_run(root: Path, slug: str) -> RunDir | None:
    folder = root / slug
    runs = sorted(p for p in folder.iterdir() if (p / RESULTS).exists()) if folder.is_dir() else []
    return RunDir(runs[-1]) if runs else None
