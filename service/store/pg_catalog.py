"""The article catalogue in PostgreSQL (``NEWSDESK_DATABASE_URL``): the contract of
:class:`~service.store.catalog_base.BaseCatalog`, shared by every node on one database.

The reads and writes are the SQLite engine's SQL (service/store/catalog_base.py), run through a
pool of this store's own; the lexical index is BM25 over a postings table
(service/store/pg_lexical.py).  Publishing writes the article row, its sentences and their
postings in one transaction, so a reader on any node sees the previous version or the new one
whole, never half; replacing or unpublishing an article removes its old postings in the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from service.ingest.article import ProcessedArticle
from service.store import pg, pg_schema
from service.store.catalog_base import TITLE_WEIGHT, BaseCatalog, Filters, query_terms
from service.store.pg_lexical import bm25_sql, index_article, query_tokens, unindex_article


class PgCatalog(BaseCatalog):
    def __init__(self, url: str) -> None:
        self.url = url
        pg_schema.ensure(url)
        self._pool = pg.open_pool(url, name="newsdesk-catalog")
        self._local = threading.local()

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[pg.Qmark]:
        with pg.transaction(self._pool) as db:
            yield db

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside (on this thread) run on one connection in one repeatable-read transaction:
        one committed state, whatever another node publishes meanwhile."""
        if getattr(self._local, "conn", None) is not None:  # already inside one
            yield
            return
        with pg.connection(self._pool) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return pg.Qmark(conn).execute(sql, args).fetchall()
        with pg.connection(self._pool) as conn:
            return pg.Qmark(conn).execute(sql, args).fetchall()

    def _index(self, c: pg.Qmark, art: ProcessedArticle) -> None:
        index_article(c, art.id, art.context_title or "", [(s.index, s.text) for s in art.indexed])

    def _unindex(self, c: pg.Qmark, article_id: str) -> None:
        unindex_article(c, article_id)

    def lexical_search(self, query: str, filters: Filters, k: int, *,
                       title_weight: float = TITLE_WEIGHT) -> list[tuple[str, int, float]]:
        """BM25 over indexed sentences (and, at ``title_weight``, their article's headline):
        (article_id, idx, score), best first, higher is better (FTS5's scale)."""
        toks = query_tokens(query_terms(query))
        if not toks:
            return []
        if filters == Filters():
            sql, args = bm25_sql(None), [toks, title_weight, title_weight, k]
        else:
            where, fargs = filters.sql("a")
            sql, args = bm25_sql(where), [toks, title_weight, title_weight, *fargs, k]
        return [(r["article_id"], int(r["idx"]), float(r["score"])) for r in self._query(sql, args)]
