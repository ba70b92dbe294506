"""Feed tests run against a real HTTP server on loopback, with loopback fetching switched on the
way a user would: ``NEWSDESK_FETCH_ALLOW_LOOPBACK=true``.  No test sends a packet anywhere else."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.config import Settings
from service.runtime import Services, build_services
from tests.feeds.feed_server import FeedServer, Item, serve
from vectorstore.embeddings import MiniLMEmbedding

T0 = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)

STORIES = [
    Item("sea-wall", "Harbour council approves sea wall plan", [
        "The harbour council voted on Tuesday to build a new sea wall along the eastern docks, ending a "
        "two-year dispute over how to protect the old town from winter storms.",
        "The plan was approved by nine votes to four after a debate that lasted most of the afternoon. "
        "Councillors who voted against it said the cost, put at 40 million euros, was too high.",
        "Work is due to start in the spring and to take three years, the council's engineer said.",
    ], T0, summary="The council approved the sea wall by nine votes to four."),
    Item("ferry-timetable", "Ferry timetable changes in May", [
        "The island ferry will run two extra crossings a day from the first of May, the operator said on "
        "Tuesday, after a summer in which queues at the port stretched for hours.",
        "The first boat will leave at six in the morning and the last at eleven at night. Fares for "
        "residents will not change, but visitors will pay two euros more for a return ticket.",
    ], T0.replace(hour=10), summary="Two extra ferry crossings a day from May."),
    Item("cycle-lane", "New cycle lane opens downtown", [
        "A protected cycle lane opened on Market Street on Tuesday, the first of six planned for the city "
        "centre, the transport department said.",
        "The lane replaces a row of parking spaces, which shop owners on the street had fought to keep. "
        "The department said it would count riders for a year before building the next one.",
    ], T0.replace(hour=11), summary="The first of six protected cycle lanes opened on Market Street."),
]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from serve()


@pytest.fixture
def feed_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOW_LOOPBACK", "true")
    return Settings(data_dir=tmp_path / "data", llm_backend="fake", feed_poll=False, fetch_timeout_s=3.0)


@pytest.fixture
def feed_services(feed_settings: Settings, embedder: MiniLMEmbedding) -> Iterator[Services]:
    assert feed_settings.fetch_allow_loopback  # from the environment, as documented
    svc = build_services(feed_settings, embedder=embedder)
    yield svc
    svc.close()


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every socket connection attempt is recorded; any to a non-loopback address is refused
    (so a failing test still sends nothing off this machine)."""
    attempts: list[object] = []
    real_create = socket.create_connection
    real_connect = socket.socket.connect

    def loopback_only(address: object) -> None:
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else ""
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"connection attempted to {address}")

    def create(address: object, *args: object, **kw: object) -> socket.socket:
        loopback_only(address)
        return real_create(address, *args, **kw)  # type: ignore[arg-type]

    def connect(self: socket.socket, address: object) -> None:
        loopback_only(address)
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", create)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
