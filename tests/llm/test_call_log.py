"""The SQLite call log: migrations, rows, and the logged call helpers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from service.errors import UpstreamUnavailable
from service.llm.base import ChatMessage
from service.llm.fake import FakeBackend
from service.logs.calls import MIGRATIONS, CallLog, call_model, migrate, prompt_hash, stream_model

MESSAGES = [ChatMessage("system", "Cite sentences."), ChatMessage("user", "[S1] Héllo wörld.")]


def applied(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def test_migrations_are_ordered_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "calls.sqlite3"
    CallLog(path)
    CallLog(path)
    assert applied(path) == ["m001_calls", "m002_finish_params_indexes"]
    with sqlite3.connect(path) as db:
        assert migrate(db) == []
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def _m003_notes(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE calls ADD COLUMN notes TEXT")

    with sqlite3.connect(path) as db:
        assert migrate(db, [*MIGRATIONS, _m003_notes]) == ["m003_notes"]
        assert migrate(db, [*MIGRATIONS, _m003_notes]) == []
        assert "notes" in [r[1] for r in db.execute("PRAGMA table_info(calls)")]


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    CallLog(path)

    def _m003_broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        db.execute("THIS IS NOT SQL")

    with sqlite3.connect(path) as db:
        with pytest.raises(sqlite3.OperationalError):
            migrate(db, [*MIGRATIONS, _m003_broken])
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables
    assert "m003_broken" not in applied(path)


def test_record_list_get(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.sqlite3")
    first = log.record(
        backend="fake",
        model="fake-1",
        messages=MESSAGES,
        response="Héllo wörld. [S1]",
        prompt_name="answer",
        prompt_version="3",
        retrieved_ids=["art1:0", "art1:4"],
        prompt_tokens=12,
        completion_tokens=4,
        latency_ms=8.5,
        finish_reason="stop",
        params={"temperature": 0.0},
    )
    second = log.record(backend="fake", model="fake-1", messages=MESSAGES, response="cached!", cached=True)

    row = log.get(first)
    assert row is not None
    assert row["request"] == [m.as_dict() for m in MESSAGES]
    assert row["retrieved_ids"] == ["art1:0", "art1:4"]
    assert row["prompt_hash"] == prompt_hash(MESSAGES)
    assert (row["prompt_name"], row["prompt_version"]) == ("answer", "3")
    assert (row["prompt_tokens"], row["completion_tokens"], row["latency_ms"]) == (12, 4, 8.5)
    assert row["response"] == "Héllo wörld. [S1]" and row["error"] is None
    assert row["cached"] is False and row["finish_reason"] == "stop"
    assert row["params"] == {"temperature": 0.0}
    assert row["ts"].endswith("+00:00")
    assert log.get(second)["cached"] is True  # type: ignore[index]
    assert log.get(999) is None

    assert [r["id"] for r in log.list()] == [second, first]
    assert [r["id"] for r in log.list(limit=1, offset=1)] == [first]
    assert log.count() == 2


def test_prompt_hash_depends_on_roles_and_content() -> None:
    assert prompt_hash(MESSAGES) == prompt_hash(list(MESSAGES))
    assert prompt_hash(MESSAGES) != prompt_hash([ChatMessage("user", m.content) for m in MESSAGES])
    assert prompt_hash(MESSAGES) != prompt_hash([*MESSAGES[:1], ChatMessage("user", "[S1] Hello world.")])


def test_call_model_logs_success(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.sqlite3")
    fake = FakeBackend()
    completion = call_model(
        fake, MESSAGES, log=log, prompt_name="answer", prompt_version="1", retrieved_ids=["s1"], max_tokens=50
    )
    assert completion.text == "Héllo wörld. [S1]"
    [row] = log.list()
    assert row["response"] == completion.text and row["error"] is None
    assert (row["backend"], row["model"], row["retrieved_ids"]) == ("fake", "fake-1", ["s1"])
    assert row["params"]["max_tokens"] == 50
    assert row["completion_tokens"] == 3


def test_call_model_logs_failure_and_reraises(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.sqlite3")
    fake = FakeBackend(errors=[UpstreamUnavailable("backend down", retry_after=3)])
    with pytest.raises(UpstreamUnavailable, match="backend down"):
        call_model(fake, MESSAGES, log=log, prompt_name="answer", prompt_version="1")
    [row] = log.list()
    assert row["error"] == "UpstreamUnavailable: backend down"
    assert row["response"] is None and row["prompt_hash"] == prompt_hash(MESSAGES)


def test_stream_model_logs_at_the_end(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.sqlite3")
    handle = stream_model(FakeBackend(["a b c"]), MESSAGES, log=log, prompt_name="p", prompt_version="2")
    assert next(handle) == "a"
    assert log.count() == 0  # nothing logged mid-stream
    assert list(handle) == [" b", " c"]
    assert handle.completion.text == "a b c"
    [row] = log.list()
    assert (row["response"], row["error"], row["completion_tokens"]) == ("a b c", None, 3)


def test_stream_model_logs_failures_and_early_close(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.sqlite3")
    failing = FakeBackend(errors=[UpstreamUnavailable("no stream today")])
    with pytest.raises(UpstreamUnavailable):
        list(stream_model(failing, MESSAGES, log=log, prompt_name="p", prompt_version="2"))

    with stream_model(FakeBackend(["x y z"]), MESSAGES, log=log, prompt_name="p", prompt_version="2") as handle:
        assert next(handle) == "x"

    cancelled, failed = log.list()
    assert failed["error"] == "UpstreamUnavailable: no stream today"
    assert cancelled["error"].startswith("cancelled") and cancelled["response"] == "x"


def test_log_write_failure_does_not_fail_the_call(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "calls.sqlite3"
    log = CallLog(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE calls")
    completion = call_model(FakeBackend(["fine"]), MESSAGES, log=log, prompt_name="p", prompt_version="1")
    assert completion.text == "fine"
    assert "could not write the model call log" in caplog.text


def test_concurrent_writers(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.sqlite3")
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(25):
                log.record(backend="fake", model="m", messages=MESSAGES, response=f"{worker}-{n}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert log.count() == 100
    assert len({r["response"] for r in log.list(limit=200)}) == 100
