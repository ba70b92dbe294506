"""The README's picture of a chat client: simonw's `llm` CLI streaming a desk answer with its
sources, run for real against the live desk, its output rendered as a terminal and photographed
(NEWSDESK_SCREENSHOTS=docs/images keeps it as docs/images/chat-llm-cli.png)."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.web.live import Live
from tests.web.test_desk_browser import shoot

pytestmark = pytest.mark.browser

QUESTION = "Did Russia retake Kursk?"


def test_the_llm_cli_streams_an_answer_with_its_sources(page: Page, live: Live, tmp_path: Path,
                                                        screenshots: Path) -> None:
    (tmp_path / "extra-openai-models.yaml").write_text(
        f"- model_id: newsdesk\n  model_name: newsdesk\n  api_base: \"{live.url}/v1\"\n", encoding="utf-8")
    exe = shutil.which("llm", path=str(Path(sys.executable).parent))
    assert exe, "the llm CLI is a test dependency"
    env = {**os.environ, "LLM_USER_PATH": str(tmp_path), "OPENAI_API_KEY": "unused"}
    done = subprocess.run([exe, "-m", "newsdesk", QUESTION], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\nSources:\n[1] [" in out and "Fox News" in out and "[2]" in out
    page.set_viewport_size({"width": 1100, "height": 420})
    page.set_content(
        "<body style='margin:0;background:#1e1e1e'><pre style='margin:0;padding:18px;color:#e6e6e6;"
        "font:15px/1.45 DejaVu Sans Mono,monospace;white-space:pre-wrap'>"
        f"<span style='color:#8ae234'>$</span> llm -m newsdesk {html.escape(repr(QUESTION))}\n"
        f"{html.escape(out)}</pre></body>")
    shoot(page, screenshots, "chat-llm-cli", min_bytes=10_000)
