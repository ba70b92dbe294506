"""File parsing: .txt, .md, .html, .json, .jsonl, bad files, and path expansion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.ingest.article import ArticleInput
from service.ingest.parse import expand_paths, parse_jsonl, read_path, text_to_article

HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harbour Council Approves New Sea Wall Plan | Coastal Gazette</title>
<meta property="og:title" content="Harbour Council Approves New Sea Wall Plan">
<meta property="og:site_name" content="Coastal Gazette">
<meta property="article:published_time" content="2024-03-05T09:30:00Z">
<script>window.dataLayer = window.dataLayer || []; function px() { return "SCRIPTSENTINEL tracking pixel"; }</script>
<style>body { font-family: STYLESENTINEL, serif; }</style>
</head>
<body>
<header><nav><ul>
  <li><a href="/">Home</a></li><li><a href="/news">NAVSENTINEL News</a></li>
  <li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li>
</ul></nav></header>
<main>
<article>
<h1>Harbour Council Approves New Sea Wall Plan</h1>
<p>The harbour council voted on Tuesday to approve a new sea wall along the eastern promenade, ending a
two-year debate over how to protect the old town from winter storms.</p>
<p>Council members said the project would cost about 14 million pounds and would be paid for by a mix of
national grants and a small increase in local mooring fees over the next decade.</p>
<p>Residents who attended the meeting were divided. Some said the wall would spoil the view from the
promenade, while others said they were tired of sandbagging their front doors every January.</p>
<p>The chief engineer told the council that construction could begin in the autumn and would take roughly
eighteen months, with the promenade staying open to walkers for most of that time.</p>
<p>Opposition members asked for an independent review of the flood models, but their amendment was
defeated by nine votes to four after a long and sometimes heated discussion.</p>
</article>
</main>
<footer><p>FOOTERSENTINEL Copyright 2024 Coastal Gazette. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>
<script>console.log("SCRIPTSENTINEL two");</script>
</body>
</html>
"""


def one(path: Path) -> dict:
    items = read_path(path)
    assert len(items) == 1, items
    assert items[0].error is None, items[0].error
    return items[0].data


# -- .txt -------------------------------------------------------------------------------------
def test_txt_headline_first_line_becomes_the_title(tmp_path: Path) -> None:
    p = tmp_path / "sea-wall.txt"
    p.write_text("Harbour council approves sea wall\nThe council voted on Tuesday.\nWork starts in autumn.\n",
                 encoding="utf-8")
    data = one(p)
    assert data["title"] == "Harbour council approves sea wall"
    assert data["text"].startswith("The council voted on Tuesday.")
    assert "Harbour council approves" not in data["text"]
    assert data["id"] == "sea-wall"
    ArticleInput.model_validate(data)


def test_txt_full_sentence_first_line_stays_in_the_body(tmp_path: Path) -> None:
    p = tmp_path / "wire copy.txt"
    text = "The council voted on Tuesday to approve a new sea wall.\nWork starts in the autumn.\n"
    p.write_text(text, encoding="utf-8")
    data = one(p)
    assert data["title"] == "The council voted on Tuesday to approve a new sea wall."
    assert data["text"] == text
    assert data["id"] == "wire-copy"


def test_txt_first_line_ending_with_a_quote_is_a_sentence() -> None:
    data = text_to_article("“We will build it,” the mayor said.\nMore text.")
    assert data["text"].startswith("“We will build it,”")


def test_txt_single_line_without_punctuation_is_kept_as_text() -> None:
    data = text_to_article("Just one line without a stop")
    assert data["text"] == "Just one line without a stop"


def test_txt_with_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "crlf.txt"
    p.write_bytes("\ufeffHarbour council approves sea wall\r\nThe council voted on Tuesday.\r\n".encode())
    data = one(p)
    assert data["title"] == "Harbour council approves sea wall"
    assert data["text"].strip() == "The council voted on Tuesday."


# -- .md --------------------------------------------------------------------------------------
def test_markdown_heading_is_the_title_and_markup_is_removed(tmp_path: Path) -> None:
    p = tmp_path / "note.md"
    p.write_text("\n# Sea wall approved\n\nThe **council** voted on [Tuesday](https://example.com/t).\n\n"
                 "## Costs\nIt costs `14m` pounds.\n", encoding="utf-8")
    data = one(p)
    assert data["title"] == "Sea wall approved"
    assert "The council voted on Tuesday." in data["text"]
    assert "Costs" in data["text"] and "It costs 14m pounds." in data["text"]
    for markup in ("**", "](", "#", "`"):
        assert markup not in data["text"]
    assert data["id"] == "note"


# -- .html ------------------------------------------------------------------------------------
def test_html_main_text_without_script_nav_or_footer(tmp_path: Path) -> None:
    p = tmp_path / "sea-wall.html"
    p.write_text(HTML_PAGE, encoding="utf-8")
    data = one(p)
    text = data["text"]
    assert "The harbour council voted on Tuesday" in text
    assert "defeated by nine votes to four" in text
    for sentinel in ("SCRIPTSENTINEL", "STYLESENTINEL", "NAVSENTINEL", "FOOTERSENTINEL", "dataLayer", "Privacy policy"):
        assert sentinel not in text
    assert data["title"].startswith("Harbour Council Approves New Sea Wall Plan")
    assert data["source"] == "Coastal Gazette"
    assert data["published_at"].startswith("2024-03-05")
    item = ArticleInput.model_validate(data)
    assert item.published_at is not None and item.published_at.year == 2024


# -- .json / .jsonl ---------------------------------------------------------------------------
def test_json_object_and_list(tmp_path: Path) -> None:
    obj = tmp_path / "one.json"
    obj.write_text(json.dumps({"id": "a1", "title": "T", "text": "Body one."}), encoding="utf-8")
    items = read_path(obj)
    assert [(i.error, i.data["id"]) for i in items] == [(None, "a1")]

    lst = tmp_path / "many.json"
    lst.write_text(json.dumps([{"id": "b1", "text": "Body."}, {"id": "b2", "text": "Body two."}, 7]),
                   encoding="utf-8")
    items = read_path(lst)
    assert [i.origin for i in items] == [f"{lst}[0]", f"{lst}[1]", f"{lst}[2]"]
    assert [i.data["id"] for i in items[:2]] == ["b1", "b2"]
    assert items[2].error is not None and "not a JSON object" in items[2].error


def test_invalid_json_file_is_one_error_item(tmp_path: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_text('{"text": "unterminated', encoding="utf-8")
    items = read_path(p)
    assert len(items) == 1 and items[0].data is None and "invalid JSON" in items[0].error


def test_jsonl_bad_line_is_reported_and_others_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "batch.jsonl"
    p.write_text("\n".join([
        json.dumps({"id": "j1", "text": "First."}),
        "{not json",
        "",
        json.dumps(["a", "list"]),
        json.dumps({"id": "j2", "text": "Second “quoted” é."}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    items = read_path(p)
    good = [i for i in items if i.error is None]
    bad = [i for i in items if i.error is not None]
    assert [i.data["id"] for i in good] == ["j1", "j2"]
    assert [i.origin for i in good] == [f"{p}:1", f"{p}:5"]
    assert [i.origin for i in bad] == [f"{p}:2", f"{p}:4"]
    assert "invalid JSON" in bad[0].error and "not a JSON object" in bad[1].error
    assert good[1].data["text"] == "Second “quoted” é."


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_jsonl_line_with_unicode_line_separator_inside_a_string(tmp_path: Path, sep: str) -> None:
    p = tmp_path / "seps.jsonl"
    line = json.dumps({"id": "s1", "text": f"First part.{sep}Second part."}, ensure_ascii=False)
    assert sep in line and json.loads(line)["text"] == f"First part.{sep}Second part."
    p.write_text(line + "\n", encoding="utf-8")
    items = read_path(p)
    assert [(i.error, i.data and i.data["id"]) for i in items] == [(None, "s1")]
    # the same for JSONL read from stdin
    assert [(i.error, i.data and i.data["id"]) for i in parse_jsonl([line], "<stdin>")] == [(None, "s1")]


# -- bad files --------------------------------------------------------------------------------
def test_binary_file_is_an_error_item(tmp_path: Path) -> None:
    p = tmp_path / "image.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    items = read_path(p)
    assert len(items) == 1 and items[0].data is None
    assert "binary" in items[0].error and items[0].origin == str(p)


def test_non_utf8_file_is_an_error_item(tmp_path: Path) -> None:
    p = tmp_path / "latin1.txt"
    p.write_bytes("Café au lait à Paris.\nLe maire a parlé.".encode("latin-1"))
    items = read_path(p)
    assert len(items) == 1 and items[0].data is None
    assert "UTF-8" in items[0].error


def test_missing_and_unsupported_files_are_error_items(tmp_path: Path) -> None:
    items = read_path(tmp_path / "nope.txt")
    assert items[0].data is None and "cannot read" in items[0].error
    p = tmp_path / "table.csv"
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    items = read_path(p)
    assert items[0].data is None and "unsupported file type .csv" in items[0].error


# -- expand_paths -----------------------------------------------------------------------------
def test_expand_paths_with_folders_and_globs(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.txt": "x", "b.md": "x", "c.html": "x", "d.json": "{}", "e.jsonl": "",
        "skip.csv": "x", "skip.png": "x", "sub/f.TXT": "x", "sub/deeper/g.jsonl": "", "sub/notes.docx": "x",
    }
    for name, content in files.items():
        (root / name).write_text(content, encoding="utf-8")

    from_folder = list(expand_paths([str(root)]))
    assert sorted(p.relative_to(root).as_posix() for p in from_folder) == [
        "a.txt", "b.md", "c.html", "d.json", "e.jsonl", "sub/deeper/g.jsonl", "sub/f.TXT"]

    assert [p.name for p in expand_paths([str(root / "*.txt")])] == ["a.txt"]
    recursive = sorted(p.name for p in expand_paths([str(root / "**" / "*.jsonl")]))
    assert recursive == ["e.jsonl", "g.jsonl"]
    # a glob that matches a folder expands the folder
    assert sorted(p.name for p in expand_paths([str(root / "su*")])) == ["f.TXT", "g.jsonl"]
    # explicit files are passed through whatever their suffix (read_path reports unsupported ones)
    assert list(expand_paths([str(root / "skip.csv")])) == [root / "skip.csv"]
    # a missing path, or a glob that matches nothing, comes back as itself to be reported
    missing = [str(root / "missing.txt"), str(root / "*.nothing")]
    assert [str(p) for p in expand_paths(missing)] == missing
    # several arguments keep their order
    names = [p.name for p in expand_paths([str(root / "b.md"), str(root / "a.txt")])]
    assert names == ["b.md", "a.txt"]


# -- front matter (.txt / .md) ----------------------------------------------------------------
FRONT = """---
# a comment
title: "Council: the vote, explained"
source: Coastal Gazette
published_at: 2024-03-05
url:
---
"""


def test_txt_front_matter_sets_metadata_and_the_body_is_stored_exactly(tmp_path: Path) -> None:
    body = "Short first line\nThe council voted on Tuesday.\n"
    p = tmp_path / "vote.txt"
    p.write_text(FRONT + body, encoding="utf-8")
    data = one(p)
    # the front matter names the title, so the short first line is not taken out as a headline
    assert data == {"id": "vote", "title": "Council: the vote, explained", "source": "Coastal Gazette",
                    "published_at": "2024-03-05T00:00:00+00:00", "text": body}
    art = ArticleInput(**data)
    assert art.published_at is not None and art.published_at.date().isoformat() == "2024-03-05"
    assert art.url is None  # "url:" with no value leaves it unset


def test_txt_front_matter_without_title_keeps_the_first_line_rule(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("---\nsource: Wire\n---\nHarbour wall approved\nThe council voted.", encoding="utf-8")
    assert one(p) == {"id": "a", "source": "Wire", "title": "Harbour wall approved", "text": "The council voted."}


def test_front_matter_dates_are_read_like_any_file_date(tmp_path: Path) -> None:
    p = tmp_path / "d.txt"
    p.write_text("---\npublished_at: Mon, 28 Apr 2025 09:30:00 GMT\n---\nThe body.", encoding="utf-8")
    assert one(p)["published_at"] == "2025-04-28T09:30:00+00:00"
    p.write_text("---\npublished_at: someday\n---\nThe body.", encoding="utf-8")
    [item] = read_path(p)
    assert item.data is None and item.error and item.error.startswith("published_at:")


def test_markdown_front_matter_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "b.md"
    p.write_bytes(b"---\r\nsource: Gazette\r\nid: custom-id\r\n---\r\n# Heading\r\n\r\nSome **bold** text.\r\n")
    data = one(p)
    assert data["id"] == "custom-id" and data["source"] == "Gazette" and data["title"] == "Heading"
    assert data["text"].strip() == "Some bold text."


def test_malformed_front_matter_is_just_text(tmp_path: Path) -> None:
    for name, text in [("open.txt", "---\ntitle: never closed\nThe body."),
                       ("prose.txt", "---\nThis line is prose, not a key.\n---\nBody.")]:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        data = one(p)  # the usual .txt rules apply to the whole file: nothing is read as metadata
        assert set(data) == {"id", "title", "text"} and data["title"] == "---"
        assert text.endswith(data["text"]) and "title: never closed" not in data["title"]


def test_unknown_front_matter_key_fails_validation_naming_it(tmp_path: Path) -> None:
    from pydantic import ValidationError

    p = tmp_path / "c.txt"
    p.write_text("---\nauthor: Someone\n---\nBody text here.", encoding="utf-8")
    with pytest.raises(ValidationError, match="author"):
        ArticleInput(**one(p))


def test_the_seed_article_carries_its_metadata() -> None:
    from service.config import REPO_ROOT

    data = one(REPO_ROOT / "seeds" / "north-korea-troops-kursk.txt")
    art = ArticleInput(**data)
    assert art.source == "Fox News" and art.title and art.title.startswith("Putin thanks North Korea")
    assert art.published_at is not None and art.published_at.date().isoformat() == "2025-04-28"
    assert art.url is None  # not knowable from the text; not invented
    assert art.text.startswith("Russian President Vladimir Putin on Monday") and "---" not in art.text
    assert "North Korea deployed 10,000-12,000 troops" in art.text
