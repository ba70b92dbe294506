"""The article catalogue's contract, asserted once and run on both engines (SQLite + FTS5, and
PostgreSQL + BM25 postings), through ``open_catalog`` as the service opens it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from service.config import Settings
from service.store.catalog import Catalog
from service.store.catalog_base import BaseCatalog, Filters
from service.store.engine import open_catalog
from tests.pg.catalog_data import at, make

BUDGET = ("The council approved the budget on Monday. The mayor said property taxes will not rise.\n"
          "Opponents called the spending plan reckless.\n"
          "The Associated Press contributed to this report.\n")
FLOOD = ("Heavy rain flooded the river valley overnight. Rescue teams evacuated two hundred residents.\n"
         "Read the full article here\n")
TRADE = "Exporters welcomed the new tariff agreement. Shipping rates fell sharply in the port."


@pytest.fixture
def catalog(engine_settings: Settings) -> Iterator[BaseCatalog]:
    with closing(open_catalog(engine_settings)) as cat:
        yield cat


@pytest.fixture
def filled(catalog: BaseCatalog) -> BaseCatalog:
    catalog.publish(make("budget", BUDGET, title="City budget passes", source="AP", published="2026-11-02"))
    catalog.publish(make("flood", FLOOD, title="Valley floods", source="Reuters", published="2026-11-05"))
    catalog.publish(make("trade", TRADE, title="Tariff deal signed", source="AP", published=None))
    return catalog


def test_open_catalog_picks_the_engine(engine_settings: Settings, catalog: BaseCatalog) -> None:
    if engine_settings.database_url:
        from service.store.pg_catalog import PgCatalog

        assert isinstance(catalog, PgCatalog)
    else:
        assert isinstance(catalog, Catalog)


def test_publish_get_and_quotes_slice_the_stored_text(filled: BaseCatalog) -> None:
    art = filled.get_article("budget")
    assert art is not None and filled.get_article("nope") is None
    assert (art["title"], art["source"], art["published_at"]) == ("City budget passes", "AP", at("2026-11-02"))
    assert art["text"] == BUDGET and art["published_iso"].startswith("2026-11-02")
    assert art["sentence_count"] == 3 and len(art["sentences"]) == 4
    assert [s["idx"] for s in art["sentences"]] == [0, 1, 2, 3]
    boiler = [s for s in art["sentences"] if s["boilerplate"]]
    assert [s["text"] for s in boiler] == ["The Associated Press contributed to this report."]
    keys = [("budget", s["idx"]) for s in art["sentences"]]
    quotes = filled.quotes(keys)
    for s in art["sentences"]:
        assert quotes[("budget", s["idx"])] == BUDGET[s["start"] : s["end"]] == s["text"]
    rows = filled.sentences_by_key([("budget", 1), ("flood", 0), ("gone", 0)])
    assert set(rows) == {("budget", 1), ("flood", 0)}
    assert rows[("flood", 0)]["source"] == "Reuters" and rows[("flood", 0)]["published_at"] == at("2026-11-05")
    assert filled.current_hash("budget") == art["content_hash"] and filled.current_hash("nope") is None
    assert filled.get_article_text("flood") == FLOOD
    indexed = filled.article_sentences(["flood", "budget"])
    assert [(r["article_id"], r["idx"]) for r in indexed] == [("budget", 0), ("budget", 1), ("budget", 2),
                                                              ("flood", 0), ("flood", 1)]


def test_list_filters_counts_and_versions(filled: BaseCatalog) -> None:
    rows, total = filled.list_articles(Filters(), limit=10, offset=0)
    assert [r["id"] for r in rows] == ["flood", "budget", "trade"] and total == 3  # newest first, undated last
    assert "text" not in rows[0]
    rows, total = filled.list_articles(Filters(), limit=1, offset=1)
    assert [r["id"] for r in rows] == ["budget"] and total == 3
    ap, _ = filled.list_articles(Filters(sources=("AP",)), limit=10, offset=0)
    assert [r["id"] for r in ap] == ["budget", "trade"]
    dated = Filters(since=at("2026-11-03"), until=at("2026-11-06"))
    assert filled.list_articles(dated, limit=10, offset=0)[1] == 1
    assert filled.list_articles(Filters(article_ids=("trade", "x")), limit=10, offset=0)[1] == 1
    assert filled.sources() == [("AP", 2), ("Reuters", 1)]
    assert sorted(filled.publication_times()) == [(at("2026-11-02"), 1), (at("2026-11-05"), 1)]
    versions = filled.visible_versions(["budget", "flood", "nope"])
    assert set(versions) == {"budget", "flood"} and versions["budget"] == filled.get_article("budget")["version"]
    assert filled.stats() == {"articles": 3, "sentences": 3 + 2 + 2, "pending": 0}


def test_lexical_search_ranks_filters_and_skips_boilerplate(filled: BaseCatalog) -> None:
    hits = filled.lexical_search("Which residents were evacuated after the flood?", Filters(), 10)
    assert hits[0][:2] == ("flood", 1)  # "evacuated" and "residents" are in it alone
    scores = [h[2] for h in hits]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert {h[0] for h in hits} == {"flood"}  # the headline "Valley floods" matches every flood sentence
    assert filled.lexical_search("what was it?", Filters(), 10) == []  # stop words only
    assert filled.lexical_search("contributed report", Filters(), 10) == []  # boilerplate is never indexed
    assert filled.lexical_search("full article", Filters(), 10) == []
    # the headline: "tariff" is in trade's headline and its first sentence, so that one ranks first
    hits = filled.lexical_search("tariff", Filters(), 10)
    assert [h[:2] for h in hits] == [("trade", 0), ("trade", 1)]
    assert filled.lexical_search("tariff", Filters(), 10, title_weight=0.0)[0][:2] == ("trade", 0)
    assert filled.lexical_search("tariff", Filters(sources=("Reuters",)), 10) == []
    assert {h[0] for h in filled.lexical_search("budget taxes rain", Filters(since=at("2026-11-03")), 10)} == {"flood"}
    # porter stemming on both sides: "approving" finds "approved", "taxing" finds "taxes"
    assert filled.lexical_search("approving", Filters(), 5)[0][:2] == ("budget", 0)
    assert filled.lexical_search("taxing", Filters(), 5)[0][:2] == ("budget", 1)
    rows, total = filled.search_articles("rescue tariff", Filters(), limit=10, offset=0)
    assert total == 2 and {r["id"]: r["match_index"] for r in rows}["flood"] == 1
    assert filled.search_articles("rescue tariff", Filters(), limit=1, offset=1)[1] == 2


def test_replace_and_unpublish_drop_old_postings(filled: BaseCatalog) -> None:
    filled.publish(make("flood", "Dry weather returned to the valley. Farmers began replanting.",
                        title="Valley dries", source="Reuters", published="2026-11-06"))
    assert filled.lexical_search("evacuated residents", Filters(), 10) == []
    assert filled.lexical_search("replanting", Filters(), 10)[0][:2] == ("flood", 1)
    art = filled.get_article("flood")
    assert art is not None and art["sentence_count"] == 2 and "Dry weather" in art["text"]
    assert filled.unpublish("flood") is True and filled.unpublish("flood") is False
    assert filled.get_article("flood") is None and filled.lexical_search("replanting valley", Filters(), 10) == []
    assert filled.list_articles(Filters(), limit=10, offset=0)[1] == 2
    assert filled.stats()["sentences"] == 5


def test_a_failed_publish_leaves_the_previous_version_whole(filled: BaseCatalog,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = filled.get_article("budget")

    def broken(c: object, art: object) -> None:  # the rows are written, then the index fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(filled, "_index", broken)
    with pytest.raises(RuntimeError):
        filled.publish(make("budget", "A different budget text. Nothing else.", title="Other"))
    monkeypatch.undo()
    assert filled.get_article("budget") == before
    assert filled.lexical_search("reckless spending", Filters(), 5)[0][:2] == ("budget", 2)
    assert filled.lexical_search("different", Filters(), 5) == []


def test_copies_bands_and_origins(filled: BaseCatalog) -> None:
    filled.set_bands("budget", [11, 22, 33])
    filled.set_bands("trade", [11, 22, 4_000_000_000])  # crc32 values go past 2**31
    filled.set_bands("flood", [99, 98, 97])
    assert filled.band_candidates([11, 22, 4_000_000_000], exclude="trade") == ["budget"]
    assert filled.band_candidates([0, 0, 4_000_000_000], exclude="budget") == ["trade"]
    assert filled.band_candidates([], exclude="x") == []
    filled.set_copies("trade", [("budget", 0.91)])
    assert [(c["id"], c["containment"], c["source"]) for c in filled.copies("trade")] == [("budget", 0.91, "AP")]
    assert [c["id"] for c in filled.copies("budget")] == ["trade"]  # both ways
    # budget (dated) is the group's origin; an article without copies is its own
    assert filled.copy_origins(["trade", "budget", "flood"]) == {
        "trade": ("budget", "AP"), "budget": ("budget", "AP"), "flood": ("flood", "Reuters")}
    filled.set_copies("trade", [])
    assert filled.copies("budget") == []
    filled.set_copies("trade", [("budget", 0.9)])
    assert filled.unpublish("budget")
    assert filled.copies("trade") == [] and filled.band_candidates([11], exclude="x") == ["trade"]


def test_journal_begin_publish_done(catalog: BaseCatalog) -> None:
    catalog.journal_begin("j1", "upsert", {"input": {"text": "x"}})
    catalog.journal_begin("j2", "delete", None)
    catalog.journal_begin("j1", "upsert", {"input": {"text": "y"}})  # again: replaced, not doubled
    pending = {e["article_id"]: e for e in catalog.journal_pending()}
    assert set(pending) == {"j1", "j2"} and pending["j1"]["state"] == "writing"
    assert '"y"' in pending["j1"]["payload"] and pending["j2"]["payload"] is None
    catalog.publish(make("j1", "The harbour reopened on Friday."))
    assert {e["article_id"]: e["state"] for e in catalog.journal_pending()}["j1"] == "published"
    assert catalog.stats()["pending"] == 2
    catalog.journal_done("j1")
    catalog.journal_done("j2")
    assert catalog.journal_pending() == [] and catalog.stats()["pending"] == 0


def test_a_second_catalogue_on_the_same_engine_sees_the_writes(engine_settings: Settings,
                                                               filled: BaseCatalog) -> None:
    """Another node (PostgreSQL) or worker (SQLite) opens its own catalogue."""
    with closing(open_catalog(engine_settings)) as other:
        assert other.get_article("trade") is not None
        filled.publish(make("late", "Late edition: the bridge reopened.", title="Bridge"))
        assert other.lexical_search("bridge reopened", Filters(), 5)[0][:2] == ("late", 0)
        assert other.unpublish("late")
        assert filled.get_article("late") is None and filled.lexical_search("bridge", Filters(), 5) == []


def test_a_filter_value_with_a_nul_character_matches_nothing_on_either_engine(filled: BaseCatalog) -> None:
    """PostgreSQL cannot compare U+0000 (the fuzzer's 500); nothing stored holds one, so it matches
    nothing, and the other values of the filter still count."""
    rows, total = filled.list_articles(Filters(sources=("\x00",)), limit=10, offset=0)
    assert (rows, total) == ([], 0)
    rows, total = filled.list_articles(Filters(sources=("AP", "A\x00P")), limit=10, offset=0)
    assert total == 2 and {r["id"] for r in rows} == {"budget", "trade"}
    assert filled.lexical_search("budget", Filters(article_ids=("budget\x00",)), 5) == []


def test_a_nul_character_that_reaches_postgresql_is_invalid_input_not_a_500(engine_settings: Settings,
                                                                          filled: BaseCatalog) -> None:
    from service.errors import InvalidInput

    if not engine_settings.database_url:
        assert filled.get_article("a\x00b") is None  # SQLite compares it, and finds nothing
        return
    with pytest.raises(InvalidInput, match="NUL"):
        filled.get_article("a\x00b")
