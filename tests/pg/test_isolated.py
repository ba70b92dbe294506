"""``engine.isolated``: stores of their own on one PostgreSQL database (a schema each), as
evals/retrieval.py builds one catalogue per dev set (on SQLite the data dir already separates them);
``engine.share``: the shared feed and briefing stores close with the last Services that uses them."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from service.config import Settings
from service.store.engine import isolated, open_catalog, open_feeds, open_keys, share


def test_isolated_stores_share_no_rows(engine_settings: Settings, tmp_path: Path) -> None:
    a = isolated(engine_settings.model_copy(update={"data_dir": tmp_path / "a"}), "retrieval_a")
    b = isolated(engine_settings.model_copy(update={"data_dir": tmp_path / "b"}), "retrieval-B x")
    if engine_settings.database_url:
        assert "search_path%3Dretrieval_a" in (a.database_url or "") and "retrieval_b_x" in (b.database_url or "")
    else:
        assert a.database_url is None
    with closing(open_keys(a)) as keys_a, closing(open_keys(b)) as keys_b:
        keys_a.create("only in a", "read")
        assert [k.name for k in keys_a.list()] == ["only in a"] and keys_b.list() == []
    with closing(open_catalog(a)) as cat_a, closing(open_catalog(b)) as cat_b:
        assert cat_a.stats()["articles"] == cat_b.stats()["articles"] == 0


def test_the_last_services_to_close_closes_the_shared_feed_and_briefing_stores(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=pg_url)
    first, second = share(settings), share(settings)  # two Services of one process
    feeds = open_feeds(settings)
    first()
    first()  # a second close of the same Services counts once
    assert open_feeds(settings) is feeds and feeds.list_feeds() == []  # the other still uses it
    second()
    assert feeds._pool.closed  # type: ignore[attr-defined]
    again = open_feeds(settings)  # a later user gets a fresh store
    assert again is not feeds and again.list_feeds() == []
    share(Settings(data_dir=tmp_path / "s"))()  # SQLite: nothing to close
