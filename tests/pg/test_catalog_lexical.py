"""Lexical search on PostgreSQL ranks as FTS5 does on SQLite: the same lexemes for the words of a
real corpus, and the same top hits (with the same scores) for real questions over it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from service.ingest.article import ProcessedArticle
from service.store.catalog import Catalog
from service.store.catalog_base import Filters
from service.store.pg_catalog import PgCatalog
from service.store.pg_lexical import tokens
from tests.pg.catalog_data import corpus, questions


@pytest.fixture(scope="module")
def articles() -> list[ProcessedArticle]:
    return corpus(60)


@pytest.fixture
def engines(tmp_path: Path, pg_url: str, articles: list[ProcessedArticle]) -> Iterator[tuple[Catalog, PgCatalog]]:
    with closing(Catalog(tmp_path / "catalog.sqlite3")) as lite, closing(PgCatalog(pg_url)) as pgc:
        for art in articles:
            lite.publish(art)
            pgc.publish(art)
        yield lite, pgc


def test_the_stemmer_gives_fts5s_lexemes(tmp_path: Path, pg_url: str, articles: list[ProcessedArticle]) -> None:
    import psycopg

    words = sorted({t for a in articles for s in a.sentences for t in tokens(s.text)})
    db = sqlite3.connect(tmp_path / "vocab.sqlite3")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(t, tokenize='porter unicode61')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, instance)")
    db.executemany("INSERT INTO f(rowid, t) VALUES (?, ?)", list(enumerate(words, 1)))
    fts5 = {words[doc - 1]: term for term, doc in db.execute("SELECT term, doc FROM v")}
    with closing(PgCatalog(pg_url)), psycopg.connect(pg_url) as conn:  # the catalogue made the function
        ours = dict(conn.execute("SELECT t, newsdesk_stem(t) FROM unnest(%s::text[]) AS t", (words,)).fetchall())
    assert set(fts5) == set(words)  # unicode61 cuts them as tokens() does
    differ = sorted(w for w in words if ours[w] != fts5[w])
    print(f"{len(words)} words, {len(differ)} stemmed differently: {differ[:20]}")
    assert len(words) > 5000 and len(differ) <= 0.002 * len(words), differ


def test_top_hits_overlap_the_sqlite_engines(engines: tuple[Catalog, PgCatalog]) -> None:
    lite, pgc = engines
    overlaps, same_top, max_rel = [], 0, 0.0
    took = {"sqlite": 0.0, "postgresql": 0.0}
    for q in questions(80):
        t0 = time.perf_counter()
        want = lite.lexical_search(q, Filters(), 10)
        t1 = time.perf_counter()
        got = pgc.lexical_search(q, Filters(), 10)
        took["sqlite"] += t1 - t0
        took["postgresql"] += time.perf_counter() - t1
        if not want:
            assert not got
            continue
        overlaps.append(len({h[:2] for h in got} & {h[:2] for h in want}) / len(want))
        same_top += got[0][:2] == want[0][:2]
        scores = {h[:2]: h[2] for h in want}
        max_rel = max([max_rel] + [abs(h[2] - scores[h[:2]]) / scores[h[:2]] for h in got if h[:2] in scores])
    mean = sum(overlaps) / len(overlaps)
    print(f"{len(overlaps)} questions: top-10 overlap {mean:.3f}, same top hit {same_top}, "
          f"largest relative score difference {max_rel:.1e}, "
          f"ms per query sqlite {1000 * took['sqlite'] / len(overlaps):.1f} "
          f"postgresql {1000 * took['postgresql'] / len(overlaps):.1f}")
    assert len(overlaps) >= 3
    assert mean >= 0.95 and same_top >= 0.9 * len(overlaps)
    assert max_rel < 1e-3  # the same formula on the same counts


def test_filtered_and_title_weighted_search_agree(engines: tuple[Catalog, PgCatalog]) -> None:
    lite, pgc = engines
    filters = Filters(sources=("rtqa",))
    for q in questions(20):
        for kwargs in ({"title_weight": 1.0}, {"title_weight": 0.0}, {"title_weight": 2.5}):
            want = lite.lexical_search(q, filters, 10, **kwargs)
            got = pgc.lexical_search(q, filters, 10, **kwargs)
            assert len({h[:2] for h in got} & {h[:2] for h in want}) >= 0.8 * len(want), (q, kwargs)
            assert all(h[0].startswith("rtqa-") for h in got)
