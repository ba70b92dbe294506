"""Suites are data: evals/suites/<name>.yaml, validated by :class:`Suite` (``extra="forbid"``).

A suite's id carries its version (``hotpotqa-cite@1``); the file name is the part before ``@``.
Dataset paths are relative to the repo; ``full`` is the same data set's complete file relative to
``--data-dir`` (for example /work/shared/data).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.metrics.registry import METRICS
from service.config import REPO_ROOT
from service.errors import ConfigError, InvalidInput, NotFound

SUITES_DIR = REPO_ROOT / "evals" / "suites"
_ID = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)@(?P<version>\d+)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(Strict):
    format: Literal["hotpotqa", "realtimeqa", "cases", "frank", "frank-cnndm", "conversations", "multinews", "neus",
                    "allsides", "qags"]
    path: str = Field(description="JSONL file relative to the repo root (the dev sample).")
    full: str | None = Field(default=None, description="The complete file, relative to --data-dir.")
    source: str = Field(description="Where the data comes from, and its licence.")
    haystack: Literal["cases", "corpus"] = Field(
        default="cases", description="What a question searches: its cases' own documents, or every document of "
                                     "the data set's corpus (realtimeqa only).")


class MetricSpec(Strict):
    name: str
    min: float | None = None
    max: float | None = None
    gate: bool = Field(default=True, description="Fail the gate when it drops significantly vs the baseline.")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; known: {sorted(METRICS)}")
        return v


class CompareSpec(Strict):
    prompts: list[str] = Field(min_length=1, description="Prompt refs such as answer@v1.")
    models: list[str] = Field(default_factory=lambda: ["fake"], min_length=1,
                              description="Backend refs: fake, local, openai:gpt-4o-mini.")

    @field_validator("prompts")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not re.fullmatch(r"[a-z_]+@v\d+", ref):
                raise ValueError(f"prompt ref {ref!r} must look like answer@v1")
        return v


class Suite(Strict):
    id: str
    description: str
    task: Literal["ask", "summarize", "briefing", "followup"]
    dataset: DatasetSpec
    metrics: list[MetricSpec] = Field(min_length=1)
    primary: str = Field(description="The metric that decides wins, losses and the most-changed cases.")
    compare: CompareSpec
    top_k: int = Field(default=8, ge=1, le=50)
    summary_length: Literal["short", "medium", "long"] | None = Field(
        default=None, description="Summary length the summarize task asks for (None: short); it also sets how "
                                  "many sentences the lead baseline takes.")
    limit: int | None = Field(default=None, ge=1, description="Default number of cases.")
    requires: list[Literal["local_model"]] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _versioned(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("suite id must be name@version, e.g. hotpotqa-cite@1")
        return v

    @model_validator(mode="after")
    def _primary_listed(self) -> Suite:
        if self.primary not in {m.name for m in self.metrics}:
            raise ValueError(f"primary metric {self.primary!r} is not among the suite's metrics")
        return self

    @property
    def name(self) -> str:
        return self.id.partition("@")[0]

    @property
    def slug(self) -> str:
        """File-system name of the suite id (results/<slug>/)."""
        return self.id.replace("@", "-v")

    def dataset_path(self, data_dir: Path | None) -> Path:
        if data_dir is None:
            return REPO_ROOT / self.dataset.path
        if self.dataset.full is None:
            raise InvalidInput.for_field("data_dir", f"suite {self.id} has no full data set; drop --data-dir")
        return data_dir / self.dataset.full


def load_suite(ref: str, root: Path = SUITES_DIR) -> Suite:
    """``ref`` is a suite id (``name@N``), a bare name, or a path to a YAML file."""
    path = Path(ref)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        name, _, version = ref.partition("@")
        path = root / f"{name}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in root.glob("*.yaml"))
            raise NotFound(f"no suite {ref!r} in {root}; known: {', '.join(known)}")
    else:
        version = ""
    try:
        suite = Suite.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"suite file {path} is invalid: {exc}") from exc
    if version and suite.id != ref:
        raise NotFound(f"{path} holds suite {suite.id}, not {ref}")
    return suite


def list_suites(root: Path = SUITES_DIR) -> list[Suite]:
    return [load_suite(str(p)) for p in sorted(root.glob("*.yaml"))]
