"""Prompts are versioned data files: prompts/<name>/<version>.yaml.

Each file is checked by a pydantic model with ``extra="forbid"``; templates use ``{variable}``
placeholders (write ``{{`` / ``}}`` for literal braces).  Rendering with a missing or an
undeclared variable is an error.  The name and version travel with every response and log row.
"""

from __future__ import annotations

import hashlib
import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.config import REPO_ROOT
from service.errors import ConfigError, InvalidInput
from service.llm.base import ChatMessage

PROMPTS_DIR = REPO_ROOT / "prompts"
_VERSION = re.compile(r"^v\d+$")


class PromptMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class SelectSpec(BaseModel):
    """Evidence-first prompts: how the model scores numbered candidates before it writes.

    The messages are rendered with every candidate (plus ``[S0]``, "none of these") and the
    reply is pre-filled with ``prefill``; the backend's probability of each marker number is the
    model's vote for that sentence.  ``answer_prefill`` begins the written answer over the same
    candidates.
    """

    model_config = ConfigDict(extra="forbid")
    prefill: str = Field(min_length=1)
    answer_prefill: str = Field(min_length=1)
    """How the reply begins when the model then writes over all the candidates it scored (re-using
    the scoring pass's KV cache); ``{markers}``, if present, states the chosen ones first
    (e.g. "[S3] and [S7]") so that the writer works from them."""


class PromptTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: str = Field(pattern=r"^v\d+$")
    description: str = ""
    variables: list[str]
    temperature: float = 0.0
    max_tokens: int = Field(default=256, ge=1, le=8192)
    select: SelectSpec | None = None
    input: Literal["budget", "key_sentences"] = "budget"
    """What a summary prompt is given: as many central sentences as fit the input budget, which
    the model selects from and rewrites (``budget``), or only the few key sentences chosen
    beforehand, which the model fuses into prose (``key_sentences``, summary@v2)."""
    quote_single: bool = False
    """``key_sentences`` prompts: a written sentence that cites one key sentence is replaced by that
    sentence, verbatim (summary@v3).  Only a sentence that merges several stays in the model's words."""
    messages: list[PromptMessage] = Field(min_length=1)

    @model_validator(mode="after")
    def _placeholders_declared(self) -> PromptTemplate:
        used = {f for m in self.messages for _, f, _, _ in string.Formatter().parse(m.content) if f}
        if used != set(self.variables):
            raise ValueError(f"placeholders {sorted(used)} do not match declared variables {sorted(self.variables)}")
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **values: str) -> list[ChatMessage]:
        missing = set(self.variables) - values.keys()
        extra = values.keys() - set(self.variables)
        if missing or extra:
            raise ConfigError(f"prompt {self.ref}: missing variables {sorted(missing)}, unknown {sorted(extra)}")
        # format_map does not re-scan substituted values, so braces inside article text are safe.
        return [ChatMessage(m.role, m.content.format_map(values)) for m in self.messages]


def versions(name: str, root: Path = PROMPTS_DIR) -> list[str]:
    folder = root / name
    found = [p.stem for p in folder.glob("v*.yaml") if _VERSION.match(p.stem)] if folder.is_dir() else []
    return sorted(found, key=lambda v: int(v[1:]))


@lru_cache(maxsize=64)
def _load(path: Path, mtime: float) -> PromptTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        tpl = PromptTemplate.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"prompt file {path} is invalid: {exc}") from exc
    if (tpl.name, tpl.version) != (path.parent.name, path.stem):
        raise ConfigError(f"prompt file {path} declares {tpl.ref}; name/version must match its path")
    return tpl


def load_prompt(name: str, version: str | None = None, root: Path = PROMPTS_DIR) -> PromptTemplate:
    """Load ``name`` at ``version`` (default: the highest version on disk)."""
    available = versions(name, root)
    if not available:
        raise ConfigError(f"no prompt named {name!r} under {root}")
    version = version or available[-1]
    if version not in available:
        raise InvalidInput.for_field("prompt_version", f"{name} has versions {available}, not {version!r}")
    path = root / name / f"{version}.yaml"
    return _load(path, path.stat().st_mtime)


def parse_ref(ref: str) -> tuple[str, str | None]:
    """'answer@v2' -> ('answer', 'v2'); 'answer' -> ('answer', None)."""
    name, _, version = ref.partition("@")
    return name, version or None


def file_hash(ref: str, root: Path = PROMPTS_DIR) -> str:
    """sha256 of the prompt file behind ``name@version`` (what a baseline records it ran)."""
    name, version = parse_ref(ref)
    if version is None:
        raise InvalidInput.for_field("prompt", f"{ref!r} needs a version, like answer@v3")
    path = root / name / f"{version}.yaml"
    if not path.is_file():
        raise InvalidInput.for_field("prompt", f"no prompt file {path}")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prompt_hashes(refs: list[str], root: Path = PROMPTS_DIR) -> dict[str, str]:
    return {ref: file_hash(ref, root) for ref in dict.fromkeys(refs)}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
