"""A throwaway PostgreSQL for the session, a fresh database for each test, ``engine_settings``:
the same test once on SQLite and once on PostgreSQL, so the contract is one; and a ``chroma run``
on loopback for the session, the vector server that several nodes share."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.store.engine import close_shared
from tests.pg.cluster import PgCluster, missing_reason
from vectorstore.server import ChromaServer

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A new, empty database on the session's cluster (dropped afterwards, connections and all)."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_cluster.url(name)
    close_shared(pg_cluster.url(name))  # the feed and briefing stores' pools of this database
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=ENGINES)
def engine_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return Settings(data_dir=tmp_path / "data", llm_backend="fake", database_url=url)



@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """``chroma run`` on a free loopback port (heartbeat polled every 0.1 s up to 30 s; stopped
    with SIGTERM, then SIGKILL).  Tests share it: each uses a collection prefix of its own."""
    root = tmp_path_factory.mktemp("chroma")
    with ChromaServer(root / "data", log_file=root / "chroma.log") as server:
        yield server
