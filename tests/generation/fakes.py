"""Helpers for driving the fake backend in the generation tests."""

from __future__ import annotations

import re

from service.llm.fake import FakeBackend
from service.runtime import Services

_LINE = re.compile(r"^\[(S\d+)\] (.+)$", re.M)


def fake(services: Services) -> FakeBackend:
    backend = services.backend("fake")
    assert isinstance(backend, FakeBackend)
    return backend


def prompt_markers(services: Services) -> dict[str, str]:
    """{sentence text: marker} of the last prompt the fake backend was sent."""
    prompt = fake(services).calls[-1].messages[-1].content
    return {m.group(2): m.group(1) for m in _LINE.finditer(prompt)}


def marker_of(markers: dict[str, str], needle: str) -> str:
    return next(m for text, m in markers.items() if needle in text)
