"""The PostgreSQL schema: migrations apply once, in order, from any number of processes at once,
and a database newer than the code is refused; `newsdesk db upgrade` applies them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from service.cli import app as cli_app
from service.config import get_settings
from service.errors import ConfigError
from service.store import pg_schema
from service.store.pg_keys import PgKeyStore
from vectorstore.server import free_port


def applied(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_migrations_are_numbered_one_by_one() -> None:
    assert [m.version for m in pg_schema.MIGRATIONS] == list(range(1, len(pg_schema.MIGRATIONS) + 1))
    assert pg_schema.LATEST == len(pg_schema.MIGRATIONS)


def test_migrations_apply_once_and_record_their_version(pg_url: str) -> None:
    assert pg_schema.version(pg_url) == 0
    assert tables(pg_url) == set()
    assert pg_schema.upgrade(pg_url) == (0, pg_schema.LATEST)
    assert pg_schema.version(pg_url) == pg_schema.LATEST
    assert tables(pg_url) == {"schema_version", "api_keys", "rate_limits", "feeds", "feed_entries", "feed_claims",
                              "briefings", "briefing_runs", "calls", "articles", "sentences", "lexical_postings",
                              "lexical_stats", "journal", "article_bands", "article_copies"}
    assert pg_schema.upgrade(pg_url) == (pg_schema.LATEST, pg_schema.LATEST)  # again: nothing to do, no error
    assert applied(pg_url) == [(m.version, m.name) for m in pg_schema.MIGRATIONS]


def test_simultaneous_upgrades_do_not_clash(pg_url: str) -> None:
    """Six sessions (as six nodes starting at once) upgrade an empty database together: one applies
    every migration, the others wait for it and find nothing left; nobody fails."""
    n = 6
    start = threading.Barrier(n)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(pg_schema.upgrade(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == [(0, pg_schema.LATEST)] + [(pg_schema.LATEST, pg_schema.LATEST)] * (n - 1)
    assert applied(pg_url) == [(m.version, m.name) for m in pg_schema.MIGRATIONS]


def test_a_database_newer_than_the_code_is_refused(pg_url: str) -> None:
    pg_schema.upgrade(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO schema_version(version, name) VALUES (%s, 'from the future')",
                     (pg_schema.LATEST + 1,))
    with pytest.raises(ConfigError, match="newer than this Newsdesk"):
        pg_schema.upgrade(pg_url)
    with pytest.raises(ConfigError, match="newer than this Newsdesk"):
        PgKeyStore(pg_url)  # a store applies the schema when it opens, and so refuses too


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NEWSDESK_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_db_upgrade_command(cli: CliRunner, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli.invoke(cli_app, ["db", "upgrade"])
    assert r.exit_code == 0 and "nothing to upgrade" in r.stdout, r.output  # SQLite

    monkeypatch.setenv("NEWSDESK_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    r = cli.invoke(cli_app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    assert f"upgraded from version 0 to {pg_schema.LATEST}" in r.stdout
    assert pg_schema.version(pg_url) == pg_schema.LATEST
    get_settings.cache_clear()
    r = cli.invoke(cli_app, ["db", "upgrade"])
    assert r.exit_code == 0 and f"already at version {pg_schema.LATEST}" in r.stdout, r.output


def test_db_upgrade_names_an_unreachable_database_without_its_password(cli: CliRunner,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_DATABASE_URL", f"postgresql://desk:s3cret-pw@127.0.0.1:{free_port()}/desk")
    get_settings.cache_clear()
    r = cli.invoke(cli_app, ["db", "upgrade"])
    assert r.exit_code == ConfigError.exit_code, r.output
    assert "cannot connect to PostgreSQL at postgresql://desk:***@127.0.0.1" in r.stderr
    assert "s3cret-pw" not in r.output
