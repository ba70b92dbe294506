"""The README's picture of a chat client: simonw's `llm` CLI streaming a desk answer with its
sources, run for real against the live desk, its output rendered as a terminal and photographed
(NEWSDESK_SCREENSHOTS=docs/images keeps it as docs/images/chat-llm-cli.png)."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.llm_cli import llm_home, run_llm
from tests.web.live import Live
from tests.web.test_desk_browser import shoot

pytestmark = pytest.mark.browser

QUESTION = "Did Russia retake Kursk?"


def test_the_llm_cli_streams_an_answer_with_its_sources(page: Page, live: Live, tmp_path: Path,
                                                        screenshots: Path) -> None:
    done = run_llm(["-m", "newsdesk", QUESTION], llm_home(tmp_path, f"{live.url}/v1"))
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
