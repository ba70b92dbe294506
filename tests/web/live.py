"""What the desk's tests share: the slow-streaming fake and the live server's handle."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from service.llm.base import ChatMessage, StreamGen
from service.llm.fake import FakeBackend
from service.runtime import Services

CHROMIUM = os.environ.get("NEWSDESK_CHROMIUM", "/usr/bin/chromium")
SKIP_BROWSER = os.environ.get("NEWSDESK_SKIP_BROWSER") == "1"
# keep every name lookup on the loopback: nothing leaves the machine
CHROMIUM_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
SEED_DAY = "2021-07-22"
DELTA_DELAY_S = 0.04


class SlowStreamFake(FakeBackend):
    """The fake backend, streaming one word every ``delay`` seconds, as a real model does."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.abandoned = 0
        """Streams closed before their end (the client went away)."""

    def _stream(self, messages: list[ChatMessage], *, temperature: float, max_tokens: int,
                stop: Sequence[str] | None) -> StreamGen:
        inner = super()._stream(messages, temperature=temperature, max_tokens=max_tokens, stop=stop)
        while True:
            try:
                delta = next(inner)
            except StopIteration as done:
                return done.value
            time.sleep(self.delay)
            try:
                yield delta
            except GeneratorExit:
                self.abandoned += 1
                raise


@dataclass
class Live:
    url: str
    services: Services

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)
