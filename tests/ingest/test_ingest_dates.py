"""Publication dates: feeds and files read the formats publishers write; the JSON API stays ISO."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from service.ingest.article import ArticleInput
from service.ingest.dates import DateError, parse_date, parse_iso
from service.ingest.parse import read_path

JAN5 = datetime(2023, 1, 5, tzinfo=UTC)
JAN5_1403 = datetime(2023, 1, 5, 14, 3, tzinfo=UTC)

SAME_VALUE = {
    "2023/01/05": JAN5,  # RealTimeQA
    "2023.01.05": JAN5,
    "2023-01-05": JAN5,
    "20230105": JAN5,
    "January 5, 2023": JAN5,
    "5 January 2023": JAN5,
    "Thursday, Jan. 5th, 2023": JAN5,
    "25/01/2023": datetime(2023, 1, 25, tzinfo=UTC),
    "01/25/2023": datetime(2023, 1, 25, tzinfo=UTC),
    "Thu, 05 Jan 2023 14:03:00 GMT": JAN5_1403,  # RFC 822 as RSS writes it
    "Thu, 05 Jan 2023 14:03:00 +0000": JAN5_1403,
    "05 Jan 23 14:03 GMT": JAN5_1403,  # two-digit year, no weekday, no seconds
    "Thu, 05 Jan 2023 09:03:00 EST": JAN5_1403,
    "Thu, 05 Jan 2023 15:03:00 +0100": JAN5_1403,
    "2023-01-05T14:03:00Z": JAN5_1403,
    "2023-01-05t14:03:00z": JAN5_1403,
    "2023-01-05 14:03:00": JAN5_1403,
    "2023-01-05T16:03:00+02:00": JAN5_1403,
    "20230105T140300Z": JAN5_1403,
    "2023/01/05 14:03": JAN5_1403,
    "2023/01/05/14:03": JAN5_1403,  # RealTimeQA's search_time shape
    "Jan 5 2023 2:03 PM": JAN5_1403,
}


@pytest.mark.parametrize("text", list(SAME_VALUE))
def test_formats_feeds_and_files_use_parse_to_the_same_instant(text: str) -> None:
    got = parse_date(text)
    assert got == SAME_VALUE[text] and got.tzinfo is not None


def test_the_stored_value_matches_the_json_api_for_the_same_instant() -> None:
    """'2023/01/05' from a file is stored exactly like '2023-01-05' sent as JSON (hash included)."""
    via_file = ArticleInput(text="x", published_at=parse_date("2023/01/05").isoformat())
    via_json = ArticleInput(text="x", published_at="2023-01-05")
    assert via_file.published_at == via_json.published_at
    assert via_file.published_at.isoformat() == via_json.published_at.isoformat()  # type: ignore[union-attr]
    offset = parse_date("Thu, 05 Jan 2023 15:03:00 +0100")
    assert offset.utcoffset() == timedelta(hours=1)
    sent = ArticleInput(text="x", published_at="2023-01-05T15:03:00+01:00").published_at
    assert sent is not None and offset.isoformat() == sent.isoformat()
    assert offset.tzinfo == timezone(timedelta(hours=1))


@pytest.mark.parametrize(("text", "needle"), [
    ("05/01/2023", "ambiguous"),
    ("2023/02/30", "impossible date"),
    ("2023-02-30", "impossible date"),
    ("yesterday", "ISO 8601"),
    ("Thu, 05 Jan 2023 14:03:00 XYZ", "unknown time zone"),
    ("", "empty"),
])
def test_unreadable_dates_say_what_to_write(text: str, needle: str) -> None:
    with pytest.raises(DateError, match=needle):
        parse_date(text)


def test_the_json_api_keeps_strict_iso_with_a_suggestion() -> None:
    assert parse_iso("2023-01-05T14:03:00Z") == JAN5_1403
    assert parse_iso("20230105") == JAN5  # ISO 8601 basic format, not a 1970 timestamp
    with pytest.raises(DateError, match=r"send '2023-01-05'"):
        parse_iso("2023/01/05")
    with pytest.raises(DateError, match=r"send '2023-01-05T14:03:00\+00:00'"):
        parse_iso("Thu, 05 Jan 2023 14:03:00 GMT")
    with pytest.raises(DateError, match="Unix timestamp"):
        parse_iso("1672927380")


def test_the_json_api_error_is_a_clear_422(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/articles", json={"text": "The dam opened.", "published_at": "2023/01/05"})
    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"][0]["field"] == "published_at"
    assert "send '2023-01-05'" in problem["errors"][0]["message"]
    ok = client.post("/v1/articles", json={"text": "The dam opened.", "published_at": "2023-01-05"})
    assert ok.status_code == 200


def test_files_accept_realtimeqa_dates(tmp_path: Path) -> None:
    """A RealTimeQA-shaped line (its publish_date renamed to our field) now validates."""
    p = tmp_path / "rtqa.jsonl"
    p.write_text("\n".join(json.dumps(d) for d in [
        {"url": "https://www.usatoday.com/story/a", "title": "Hamlin", "text": "Hamlin woke up.",
         "published_at": "2023/01/05"},
        {"text": "A date nobody can read.", "published_at": "the fifth"},
        {"text": "An RSS date in a file.", "published_at": "Thu, 05 Jan 2023 14:03:00 GMT"},
    ]), encoding="utf-8")
    items = read_path(p)
    assert items[0].data is not None and items[0].data["published_at"] == "2023-01-05T00:00:00+00:00"
    assert ArticleInput.model_validate(items[0].data).published_at == JAN5
    assert items[1].data is None and items[1].error is not None and items[1].error.startswith("published_at:")
    assert items[2].data is not None and ArticleInput.model_validate(items[2].data).published_at == JAN5_1403
    md = tmp_path / "note.json"
    md.write_text(json.dumps({"text": "From a .json file.", "published_at": "2023/01/05"}), encoding="utf-8")
    assert read_path(md)[0].data["published_at"].startswith("2023-01-05")  # type: ignore[index]
