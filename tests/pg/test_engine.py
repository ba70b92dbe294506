"""Engine selection: NEWSDESK_DATABASE_URL picks PostgreSQL, its absence SQLite, and nothing above
service/store names an engine's classes; a bad URL is a clear ConfigError that hides the password."""

from __future__ import annotations

import ast
import time
from contextlib import closing
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.config import REPO_ROOT, Settings
from service.doctor import check_database
from service.errors import ConfigError, DatabaseUnavailable
from service.llm.base import ChatMessage
from service.logs.calls import SqliteCallRows, _safe_record
from service.store import pg, pg_schema
from service.store.briefings import BriefingStore
from service.store.engine import (
    open_briefings,
    open_call_log,
    open_feeds,
    open_keys,
    open_limiter,
    schema_state,
    writer_lock,
)
from service.store.feeds import FeedStore
from service.store.keys import KeyStore
from service.store.limits import RateLimiter
from service.store.pg_briefings import PgBriefingStore
from service.store.pg_calls import PgCallRows
from service.store.pg_feeds import PgFeedStore
from service.store.pg_keys import PgKeyStore
from service.store.pg_limits import PgRateLimiter
from service.store.pg_writelock import PgWriterLock
from service.store.writelock import WriterLock
from tests.pg.cluster import PgCluster
from vectorstore.server import free_port


def test_without_a_url_the_stores_are_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_DATABASE_URL", "  ")  # set but empty counts as unset
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.database_url is None
    with closing(open_keys(settings)) as keys, closing(open_limiter(settings)) as limiter:
        assert type(keys) is KeyStore and keys.path == settings.catalog_path
        assert type(limiter) is RateLimiter and limiter.path == settings.limits_path
    lock = writer_lock(settings)
    assert type(lock) is WriterLock and lock.path == settings.data_dir / "ingest.lock"
    assert type(open_feeds(settings)) is FeedStore and type(open_briefings(settings)) is BriefingStore
    with closing(open_call_log(settings)) as log:
        assert type(log.rows) is SqliteCallRows and log.path == settings.logs_path
    assert schema_state(settings).engine == "sqlite"


def test_with_a_url_they_are_postgresql(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_DATABASE_URL", pg_url)
    settings = Settings(data_dir=tmp_path / "data")
    with closing(open_keys(settings)) as keys, closing(open_limiter(settings)) as limiter:
        assert type(keys) is PgKeyStore and type(limiter) is PgRateLimiter
    assert type(writer_lock(settings)) is PgWriterLock
    assert type(open_feeds(settings)) is PgFeedStore and type(open_briefings(settings)) is PgBriefingStore
    assert open_feeds(settings) is open_feeds(settings)  # one pool per process and database
    with closing(open_call_log(settings)) as log:
        assert type(log.rows) is PgCallRows
    state = schema_state(settings)
    assert (state.engine, state.where, state.version) == ("postgresql", pg_url, state.latest)
    made = {p.name for p in (tmp_path / "data").glob("*")} if (tmp_path / "data").exists() else set()
    assert not made & {"limits.sqlite3", "feeds.sqlite3", "briefings.sqlite3", "logs.sqlite3"}  # nothing in SQLite


def test_the_url_is_checked_and_its_password_kept_out_of_sight(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="postgresql://"):
        Settings(data_dir=tmp_path, database_url="mysql://desk@127.0.0.1/desk")
    settings = Settings(data_dir=tmp_path, database_url="postgresql://desk:s3cret-pw@127.0.0.1:5/desk")
    assert "s3cret-pw" not in repr(settings)


@pytest.mark.parametrize("problem", ["nobody listening", "no such database"])
def test_an_unusable_database_is_a_config_error(tmp_path: Path, pg_cluster: PgCluster, problem: str) -> None:
    url = (f"postgresql://desk:s3cret-pw@127.0.0.1:{free_port()}/desk" if problem == "nobody listening"
           else pg_cluster.url("no_such_db"))
    settings = Settings(data_dir=tmp_path, database_url=url)
    for opener in (open_keys, open_limiter):
        with pytest.raises(ConfigError) as caught:
            opener(settings)
        detail = caught.value.detail
        assert detail.startswith("cannot connect to PostgreSQL at ") and "NEWSDESK_DATABASE_URL" in detail
        assert ("refused" if problem == "nobody listening" else 'database "no_such_db" does not exist') in detail
        assert "s3cret-pw" not in detail
    with pytest.raises(ConfigError), writer_lock(settings):
        pass


def test_the_stores_reconnect_after_postgresql_restarts(tmp_path: Path, pg_cluster: PgCluster, pg_url: str) -> None:
    """Every pooled connection dies with the server; the next calls get fresh ones, not errors."""
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    with closing(open_keys(settings)) as keys, closing(open_limiter(settings)) as limiter:
        made = keys.create("survivor", "read")
        assert keys.verify(made.key).id == made.id and limiter.hit("b", "k", (2, 3600.0)) is None
        pg_cluster.restart()
        assert keys.verify(made.key).id == made.id
        assert [limiter.hit("b", "k", (2, 3600.0)) is None for _ in range(2)] == [True, False]
        with writer_lock(settings) as lock:
            assert lock.locked()


def test_a_database_that_does_not_answer_is_a_503_to_retry(tmp_path: Path, pg_cluster: PgCluster,
                                                           pg_url: str) -> None:
    """While PostgreSQL is down, every store says DatabaseUnavailable (503, Retry-After), never a
    driver error (a 500); the call log still only logs; all work again once it is back."""
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    with closing(open_keys(settings)) as keys, closing(open_limiter(settings)) as limiter:
        made = keys.create("patient", "read")
        feeds, log, lock = open_feeds(settings), open_call_log(settings), writer_lock(settings)

        def write() -> None:
            with lock:  # an ingest or delete (before: a 500 "configuration-error" from connect)
                pass

        with pg_cluster.down():
            for call in (lambda: keys.verify(made.key), lambda: limiter.hit("b", "k", (5, 60.0)), feeds.list_feeds,
                         write):
                with pytest.raises(DatabaseUnavailable) as got:
                    call()
                assert got.value.status == 503 and got.value.retry_after == pg.RETRY_AFTER_S
            assert not lock.locked()  # a failed take leaves the lock free for the next writer
            # what every model call does: the log write fails quietly (before: PoolTimeout escaped)
            hello = [ChatMessage("user", "Hi")]
            assert _safe_record(log, backend="fake", model="m", messages=hello, response="-") is None
        # the pools reconnect in the background, with backoff: the first calls may still be told 503
        deadline = time.monotonic() + 60
        while True:
            try:
                assert keys.verify(made.key).id == made.id and limiter.hit("b", "k", (5, 60.0)) is None
                assert feeds.list_feeds() == []
                write()
                break
            except DatabaseUnavailable:
                assert time.monotonic() < deadline, "the stores did not recover within 60 s"
                time.sleep(0.5)
        log.close()


def test_doctor_reports_the_engine_and_the_schema(tmp_path: Path, pg_url: str) -> None:
    assert check_database(Settings(data_dir=tmp_path)).status == "ok"
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    before = check_database(settings)
    assert before.status == "warn" and "schema version 0 of" in before.summary and "db upgrade" in (before.fix or "")
    pg_schema.upgrade(pg_url)
    after = check_database(settings)
    assert after.status == "warn" and f"version {pg_schema.LATEST} of {pg_schema.LATEST}" in after.summary
    assert "NEWSDESK_CHROMA_HOST" in (after.fix or "")  # a shared catalogue needs shared vectors
    shared = check_database(Settings(data_dir=tmp_path, database_url=pg_url, chroma_host="127.0.0.1", chroma_port=1))
    assert shared.status == "ok" and f"version {pg_schema.LATEST} of {pg_schema.LATEST}" in shared.summary
    gone = check_database(Settings(data_dir=tmp_path, database_url=f"postgresql://d:s3cret@127.0.0.1:{free_port()}/d"))
    assert gone.status == "fail" and "cannot connect" in gone.summary and "s3cret" not in gone.summary


def test_nothing_above_the_store_names_an_engine() -> None:
    """Code outside service/store opens the catalogue, keys, limits, the writer lock, feeds,
    briefings and the call log through service.store.engine only.
    service/logs keeps the call log's SQLite rows; building a CallLog elsewhere would bypass the
    engine (a subclass is passed to ``open_call_log`` instead)."""
    engine_names = {"KeyStore", "RateLimiter", "WriterLock", "PgKeyStore", "PgRateLimiter", "PgWriterLock",
                    "FeedStore", "feed_store", "PgFeedStore", "BriefingStore", "PgBriefingStore",
                    "SqliteCallRows", "PgCallRows", "Catalog", "PgCatalog"}
    built_here_only = {"CallLog", "MeteredCallLog", "FeedStore", "BriefingStore", "SqliteCallRows"}
    offenders = set()
    for path in (REPO_ROOT / "service").rglob("*.py"):
        if path.is_relative_to(REPO_ROOT / "service" / "store") or path.is_relative_to(REPO_ROOT / "service" / "logs"):
            continue
        where = path.relative_to(REPO_ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("service.store",
                                                                                            "service.logs")):
                names = {a.name for a in node.names}
                if node.module.startswith(("service.store.pg", "service.store.sqlite")) or names & engine_names:
                    offenders.add(f"{where}: from {node.module} import {sorted(names)}")
            elif isinstance(node, ast.Import) and any(a.name.startswith(("psycopg", "service.store.pg"))
                                                       for a in node.names):
                offenders.add(f"{where}: import psycopg")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in built_here_only):
                offenders.add(f"{where}: calls {node.func.id}(...)")
    assert offenders == set()
