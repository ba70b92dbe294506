"""simonw's `llm` CLI as a test client: a private user dir whose extra-openai-models.yaml points
the model `newsdesk` at a desk, and a run of the CLI from this venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def llm_home(home: Path, api_base: str) -> Path:
    """``home`` as `llm`'s user dir, with the model ``newsdesk`` served at ``api_base`` (…/v1)."""
    (home / "extra-openai-models.yaml").write_text(
        f"- model_id: newsdesk\n  model_name: newsdesk\n  api_base: \"{api_base}\"\n", encoding="utf-8")
    return home


def run_llm(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("llm", path=str(Path(sys.executable).parent))
    assert exe, "the llm CLI is a test dependency"
    env = {**os.environ, "LLM_USER_PATH": str(home), "OPENAI_API_KEY": "unused"}
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)
