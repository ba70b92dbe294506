"""The model call log, one contract on both engines; on PostgreSQL its rows are bookkeeping
(``synchronous_commit = off``) and a failed write never fails the model call."""

from __future__ import annotations

import threading
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from service.config import Settings
from service.llm.base import ChatMessage
from service.llm.fake import FakeBackend
from service.logs.calls import CallLog, call_model, prompt_hash
from service.ops.metrics import MeteredCallLog
from service.store.engine import open_call_log

MESSAGES = [ChatMessage("system", "Answer from the sources."), ChatMessage("user", "Who won?")]


def test_the_contract(engine_settings: Settings) -> None:
    with closing(open_call_log(engine_settings)) as log, closing(open_call_log(engine_settings)) as other:
        assert log.count() == 0 and log.list() == [] and log.get(1) is None
        first = log.record(backend="fake", model="m", messages=MESSAGES, response="Ana", prompt_name="answer",
                           prompt_version="3", retrieved_ids=["s1"], prompt_tokens=12, completion_tokens=2,
                           latency_ms=4.5, finish_reason="stop", params={"temperature": 0.0})
        second = other.record(backend="fake", model="m", messages=MESSAGES, response=None, error="Timeout: slow",
                              cached=True)
        assert second > first
        newest, oldest = log.list()
        assert (newest["id"], newest["error"], newest["cached"], newest["retrieved_ids"]) == \
            (second, "Timeout: slow", True, [])
        assert (oldest["response"], oldest["prompt_version"], oldest["retrieved_ids"], oldest["params"]) == \
            ("Ana", "3", ["s1"], {"temperature": 0.0})
        assert oldest["request"] == [m.as_dict() for m in MESSAGES] and oldest["prompt_hash"] == prompt_hash(MESSAGES)
        assert (oldest["prompt_tokens"], oldest["completion_tokens"], oldest["latency_ms"]) == (12, 2, 4.5)
        assert other.get(first) == oldest and [r["id"] for r in other.list(limit=1, offset=1)] == [first]
        assert other.count() == 2


def test_concurrent_writers_on_two_logs(engine_settings: Settings) -> None:
    with closing(open_call_log(engine_settings)) as a, closing(open_call_log(engine_settings)) as b:
        def write(log: CallLog, worker: int) -> None:
            for n in range(20):
                log.record(backend="fake", model="m", messages=MESSAGES, response=f"{worker}-{n}")

        threads = [threading.Thread(target=write, args=(a if w % 2 else b, w)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert a.count() == 80 and len({r["response"] for r in b.list(limit=200)}) == 80


def test_the_metered_log_keeps_its_class_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    with closing(open_call_log(settings, MeteredCallLog)) as log:
        assert type(log) is MeteredCallLog and log.where == pg_url
        assert log.record(backend="fake", model="m", messages=MESSAGES, response="ok") > 0
        assert log.count() == 1 and not settings.logs_path.exists()


def test_rows_are_written_without_waiting_for_the_wal_flush(pg_url: str, tmp_path: Path) -> None:
    with closing(open_call_log(Settings(data_dir=tmp_path, database_url=pg_url))) as log:
        with log.rows._pool.connection() as conn:  # type: ignore[attr-defined]
            assert conn.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == "off"
    with psycopg.connect(pg_url) as plain:  # the server's default is untouched: durable elsewhere
        assert plain.execute("SHOW synchronous_commit").fetchone()[0] == "on"  # type: ignore[index]


def test_a_failed_write_does_not_fail_the_call(pg_url: str, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with closing(open_call_log(Settings(data_dir=tmp_path, database_url=pg_url))) as log:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("DROP TABLE calls")
        completion = call_model(FakeBackend(["fine"]), MESSAGES, log=log, prompt_name="p", prompt_version="1")
    assert completion.text == "fine"
    assert "could not write the model call log at postgresql://" in caplog.text
