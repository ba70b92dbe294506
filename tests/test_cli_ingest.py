"""The `newsdesk` CLI: ingest files/folders/globs/stdin and search, through the real pipeline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import service.cli
from service.cli import app
from service.config import get_settings
from service.runtime import build_services


@pytest.fixture
def cli(tmp_path: Path, embedder, monkeypatch) -> Iterator[CliRunner]:
    """A runner on a private data dir; the CLI builds its Services exactly as in production,
    except that the (session) embedder is handed in instead of being loaded on every command."""
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSDESK_LLM_BACKEND", "fake")
    monkeypatch.setattr(service.cli, "build_services", lambda s: build_services(s, embedder=embedder))
    monkeypatch.chdir(tmp_path)  # short relative paths in the output
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def summary(output: str) -> dict[str, int]:
    m = re.search(r"created: (\d+) updated: (\d+) unchanged: (\d+) failed: (\d+)", output)
    assert m, output
    return dict(zip(("created", "updated", "unchanged", "failed"), map(int, m.groups()), strict=True))


def failures(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*failed (\S+): (.*)$", output, flags=re.M))


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    (root / "more").mkdir(parents=True)
    (root / "harbour.txt").write_text(
        "Harbour council approves sea wall\nThe harbour council approved a new sea wall on Tuesday.\n"
        "Work will start in the autumn.\n", encoding="utf-8")
    (root / "batch.jsonl").write_text("\n".join([
        json.dumps({"id": "j1", "text": "The bridge reopened to cyclists.", "source": "River Times",
                    "published_at": "2023-02-15"}),
        "{broken json",
        json.dumps({"id": "j2", "text": "", "source": "River Times"}),
        json.dumps({"id": "j3", "text": "Flood insurance premiums rose sharply.", "published_at": "2023-02-30"}),
    ]) + "\n", encoding="utf-8")
    (root / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (root / "latin1.txt").write_bytes("Café au lait à Paris.\nLe maire a parlé.".encode("latin-1"))
    (root / "more" / "library.md").write_text("# Library opens\n\nA new library opened on Friday.\n",
                                              encoding="utf-8")
    (root / "more" / "notes.txt").write_text("Notes from the meeting\nThe mayor spoke for an hour.\n",
                                             encoding="utf-8")
    return root


def test_ingest_folder_glob_bad_and_missing_files(cli: CliRunner, inbox: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "e1.txt").write_text("The ferry timetable changes in May.\n", encoding="utf-8")
    (extra / "e2.txt").write_text("A new cycle lane opened downtown.\n", encoding="utf-8")
    (extra / "table.csv").write_text("a,b\n", encoding="utf-8")
    args = ["ingest", "in", "extra/*.txt", "missing.txt"]
    r = cli.invoke(app, args)
    assert r.exit_code == 1, r.output
    assert summary(r.output) == {"created": 6, "updated": 0, "unchanged": 0, "failed": 6}
    failed = failures(r.output)
    assert set(failed) == {"in/batch.jsonl:2", "in/batch.jsonl:3", "in/batch.jsonl:4", "in/photo.txt",
                           "in/latin1.txt", "missing.txt"}, r.output
    assert "invalid JSON" in failed["in/batch.jsonl:2"]
    assert "text" in failed["in/batch.jsonl:3"] and "empty" in failed["in/batch.jsonl:3"]
    assert "published_at" in failed["in/batch.jsonl:4"]
    assert "binary" in failed["in/photo.txt"]
    assert "UTF-8" in failed["in/latin1.txt"]
    assert "no such file" in failed["missing.txt"]

    # what was created is searchable, under the file's name as id
    r = cli.invoke(app, ["search", "ferry timetable", "--json"])
    assert "e1" in {h["article_id"] for h in json.loads(r.output)["sentences"]}

    # a second run with the same inputs writes nothing again
    r = cli.invoke(app, args)
    assert r.exit_code == 1
    assert summary(r.output) == {"created": 0, "updated": 0, "unchanged": 6, "failed": 6}


def test_ingest_a_folder_recursively_then_unchanged(cli: CliRunner, inbox: Path) -> None:
    (inbox / "photo.txt").unlink()
    (inbox / "latin1.txt").unlink()
    (inbox / "batch.jsonl").write_text(json.dumps({"id": "j1", "text": "The bridge reopened."}) + "\n",
                                       encoding="utf-8")
    r = cli.invoke(app, ["ingest", "in"])
    assert r.exit_code == 0, r.output
    assert summary(r.output) == {"created": 4, "updated": 0, "unchanged": 0, "failed": 0}
    assert failures(r.output) == {}

    r = cli.invoke(app, ["ingest", "in"])
    assert r.exit_code == 0
    assert summary(r.output) == {"created": 0, "updated": 0, "unchanged": 4, "failed": 0}

    # editing a file updates the article with the file's id
    (inbox / "harbour.txt").write_text("Harbour council rejects sea wall\nThe council rejected the plan.\n",
                                       encoding="utf-8")
    r = cli.invoke(app, ["ingest", "in/harbour.txt", "--json"])
    assert r.exit_code == 0
    res = json.loads(r.output)
    assert (res["updated"], res["results"][0]["id"], res["results"][0]["status"]) == (1, "harbour", "updated")


def test_ingest_jsonl_from_stdin_and_search(cli: CliRunner, seed_text: str) -> None:
    lines = [
        json.dumps({"id": "nk", "title": "Putin thanks North Korea", "source": "AP", "text": seed_text,
                    "published_at": "2025-04-28"}, ensure_ascii=False),
        json.dumps({"id": "bridge", "text": "The old railway bridge reopened to cyclists.", "source": "River Times"}),
        "not json at all",
    ]
    r = cli.invoke(app, ["ingest", "-"], input="\n".join(lines) + "\n")
    assert r.exit_code == 1, r.output
    assert summary(r.output) == {"created": 2, "updated": 0, "unchanged": 0, "failed": 1}
    assert list(failures(r.output)) == ["<stdin>:3"]

    r = cli.invoke(app, ["search", "how many soldiers did North Korea send", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["query"] == "how many soldiers did North Korea send"
    assert any("10,000-12,000" in h["text"] for h in res["sentences"])
    assert all(h["text"] == seed_text[h["start"] : h["end"]] for h in res["sentences"] if h["article_id"] == "nk")

    r = cli.invoke(app, ["search", "bridge reopened", "--json", "--source", "River Times"])
    assert r.exit_code == 0
    assert {h["article_id"] for h in json.loads(r.output)["sentences"]} == {"bridge"}

    r = cli.invoke(app, ["search", "bridge reopened"])
    assert r.exit_code == 0 and "bridge:0" in r.output

    # a bad date is a clear error with exit code 2
    r = cli.invoke(app, ["search", "bridge", "--since", "2023-02-30"])
    assert r.exit_code == 2
    assert "since" in r.stderr


def test_ingest_duplicate_ids_writes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    p = tmp_path / "dups.jsonl"
    p.write_text(json.dumps({"id": "x", "text": "One."}) + "\n" + json.dumps({"id": "x", "text": "Two."}) + "\n",
                 encoding="utf-8")
    r = cli.invoke(app, ["ingest", "dups.jsonl"])
    assert r.exit_code == 2
    assert "duplicate article id" in r.stderr
    r = cli.invoke(app, ["search", "One", "--json"])
    assert json.loads(r.output)["sentences"] == []


def test_ingest_stdin_line_with_unicode_line_separator(cli: CliRunner) -> None:
    line = json.dumps({"id": "ls", "text": "First part.\u2028Second part."}, ensure_ascii=False)
    r = cli.invoke(app, ["ingest", "-"], input=line + "\n")
    assert r.exit_code == 0, r.output
    assert summary(r.output)["created"] == 1


def test_ask_as_of_a_date_searches_the_questions_period(cli: CliRunner, seed_text: str) -> None:
    line = json.dumps({"id": "nk", "title": "Putin thanks North Korea", "source": "AP", "text": seed_text,
                       "published_at": "2025-04-28"}, ensure_ascii=False)
    assert cli.invoke(app, ["ingest", "-"], input=line + "\n").exit_code == 0
    q = "How many troops did North Korea send to Russia this week?"
    r = cli.invoke(app, ["ask", q, "--model", "fake", "--as-of", "2026-01-15"])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "published from 2026-01-08 to 2026-01-15" in flat and "searched 2026-01-08 to 2026-01-15" in flat
    r = cli.invoke(app, ["ask", q, "--model", "fake", "--as-of", "2025-04-29", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["period"] == {"since": "2025-04-22", "until": "2025-04-29", "days": 7} and body["evidence"]
    r = cli.invoke(app, ["ask", q, "--as-of", "someday"])
    assert r.exit_code == 2 and "as_of" in r.stderr


def test_ask_on_an_empty_desk_names_the_data_dir_it_opened(cli: CliRunner, tmp_path: Path) -> None:
    r = cli.invoke(app, ["ask", "How many troops did North Korea send?", "--model", "fake"])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "no articles are indexed yet" in flat and str(tmp_path / "data") in flat and "NEWSDESK_DATA_DIR" in flat


def test_an_invalid_setting_is_a_clear_message_that_never_shows_a_password(
        cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_DATABASE_URL", "mysql://desk:hunter2@db.example/news")
    get_settings.cache_clear()
    result = cli.invoke(app, ["ingest", "x.txt"])
    assert result.exit_code == 6, result.output
    assert "NEWSDESK_DATABASE_URL" in result.output and "postgresql://" in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output
