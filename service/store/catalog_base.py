"""What the article catalogue's two engines share: the filters, the query terms of lexical search,
and every read and write whose SQL both SQLite and PostgreSQL understand.

:class:`BaseCatalog` writes its SQL with SQLite's ``?`` placeholders; an engine gives it
``_query`` (rows readable by column name), ``transaction()`` (a connection whose ``execute`` and
``executemany`` take ``?`` SQL) and ``snapshot()``, plus what differs: the lexical index
(``_index``/``_unindex``/``lexical_search``).  The SQLite engine is
:class:`service.store.catalog.Catalog`, the PostgreSQL one
:class:`service.store.pg_catalog.PgCatalog`; callers open either with
:func:`service.store.engine.open_catalog` and type it as :class:`BaseCatalog`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.ingest.article import ProcessedArticle

TITLE_WEIGHT = 1.0
"""BM25 weight of the article's headline next to the sentence's own words (weight 1); picked on
the HotpotQA dev sentences (docs/retrieval.md)."""
BM25_K1 = 1.2
BM25_B = 0.75
"""FTS5's ``bm25()`` constants (the PostgreSQL engine computes the same formula in SQL)."""

LISTED = "id, title, url, source, published_iso, sentence_count, chunk_count, updated_at"
"""The columns of an article in a list (no text)."""
ARTICLE_COLUMNS = ("id, title, url, source, published_at, published_iso, text, content_hash, version, "
                   "sentence_count, chunk_count, ingested_at, updated_at")

_WH_PHRASE = re.compile(r"\bhow (?:many|much|long|old|often|far)\b|"
                        r"\bwhat (?:year|percentage|percent|number|kind|type)\b")
"""Question syntax, not content: "how many soldiers" must not rank "did not disclose how many
soldiers" first.  (The question-type prior in retrieval looks for the number instead.)"""
_STOP = frozenset(
    "a an and are as at be by did do does for from had has have he her his how i in is it its "
    "of on or she that the their them they this to was were what when where which who whom why "
    "will with would you your according said say says".split()
)


def query_terms(query: str) -> list[str]:
    """The words of a lexical query, lowercased, without question syntax and stop words, each once
    (in order).  Both engines OR them."""
    terms = [t for t in re.findall(r"\w+", _WH_PHRASE.sub(" ", query.lower())) if t not in _STOP]
    return list(dict.fromkeys(terms))


@dataclass(frozen=True, slots=True)
class Filters:
    """Retrieval and listing filters; epoch seconds for dates."""

    sources: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None

    def sql(self, alias: str = "a", *, mark: str = "?") -> tuple[str, list[Any]]:
        """A WHERE condition on the articles table aliased ``alias`` and its parameters;
        ``mark`` is the placeholder (``?`` for sqlite3 and Qmark, ``%s`` for plain psycopg)."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, wanted in (("source", self.sources), ("id", self.article_ids)):
            if not wanted:
                continue
            # nothing stored holds U+0000 (ingest refuses it), and PostgreSQL cannot compare it
            values = [v for v in wanted if "\x00" not in v]
            clauses.append(f"{alias}.{column} IN ({','.join([mark] * len(values))})" if values else "1=0")
            args += values
        if self.since is not None:
            clauses.append(f"{alias}.published_at >= {mark}")
            args.append(self.since)
        if self.until is not None:
            clauses.append(f"{alias}.published_at < {mark}")
            args.append(self.until)
        return (" AND ".join(clauses) or "1=1"), args

    def chroma_where(self) -> dict[str, Any] | None:
        parts: list[dict[str, Any]] = []
        if self.sources:
            parts.append({"source": {"$in": list(self.sources)}})
        if self.article_ids:
            parts.append({"article_id": {"$in": list(self.article_ids)}})
        if self.since is not None:
            parts.append({"published_at": {"$gte": self.since}})
        if self.until is not None:
            parts.append({"published_at": {"$lt": self.until}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


def epoch(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp())


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _marks(n: int) -> str:
    return ",".join("?" * n)


class BaseCatalog:
    """The catalogue contract (see the module doc); an engine subclasses it."""

    # -- what an engine provides ---------------------------------------------------------
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[Any]:
        """A connection (``execute``/``executemany`` with ``?`` SQL) in one write transaction."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one committed state, even while another process publishes."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _index(self, c: Any, art: ProcessedArticle) -> None:
        """Add ``art``'s indexed sentences to the lexical index (its rows are written)."""
        raise NotImplementedError

    def _unindex(self, c: Any, article_id: str) -> None:
        """Remove an article's sentences from the lexical index (before its rows go)."""
        raise NotImplementedError

    def lexical_search(self, query: str, filters: Filters, k: int, *,
                       title_weight: float = TITLE_WEIGHT) -> list[tuple[str, int, float]]:
        """BM25 over indexed sentences (and, at ``title_weight``, their article's headline):
        (article_id, idx, score), best first, higher is better."""
        raise NotImplementedError

    # -- reads ---------------------------------------------------------------------------
    def current_hash(self, article_id: str) -> str | None:
        rows = self._query("SELECT content_hash FROM articles WHERE id=?", (article_id,))
        return rows[0]["content_hash"] if rows else None

    def get_article(self, article_id: str) -> dict[str, Any] | None:
        with self.snapshot():  # the row and its sentences from the same version
            rows = self._query(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id=?", (article_id,))
            if not rows:
                return None
            art = dict(rows[0])
            art["sentences"] = [dict(r) for r in self._query(
                'SELECT idx, start, "end", text, boilerplate FROM sentences WHERE article_id=? ORDER BY idx',
                (article_id,))]
        return art

    def list_articles(self, filters: Filters, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        where, args = filters.sql("a")
        total = self._query(f"SELECT COUNT(*) AS n FROM articles a WHERE {where}", args)[0]["n"]
        rows = self._query(
            f"SELECT {LISTED} FROM articles a WHERE {where} ORDER BY COALESCE(published_at, 0) DESC, id "
            f"LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [dict(r) for r in rows], int(total)

    def search_articles(self, query: str, filters: Filters, *, limit: int, offset: int,
                        scan: int = 2000) -> tuple[list[dict[str, Any]], int]:
        """Articles whose indexed sentences (or headline) match ``query`` by BM25, best first, each
        with ``match_index``: its best sentence.  Looks at the ``scan`` best sentences."""
        best: dict[str, int] = {}
        for article_id, idx, _ in self.lexical_search(query, filters, scan):
            best.setdefault(article_id, idx)  # hits come best first
        ids = list(best)[offset : offset + limit]
        if not ids:
            return [], len(best)
        rows = {r["id"]: dict(r) for r in self._query(f"SELECT {LISTED} FROM articles WHERE id IN ({_marks(len(ids))})",
                                                      ids)}
        return [{**rows[i], "match_index": best[i]} for i in ids if i in rows], len(best)

    def sources(self) -> list[tuple[str, int]]:
        """Each outlet with its number of articles, most articles first."""
        return [(r["source"], int(r["n"])) for r in self._query(
            "SELECT source, COUNT(*) AS n FROM articles GROUP BY source ORDER BY n DESC, source")]

    def publication_times(self) -> list[tuple[int, int]]:
        """(start of a quarter hour, articles published in it), for counts by day in any timezone
        (every UTC offset in use is a whole number of quarter hours)."""
        return [(int(r["t"]) * 900, int(r["n"])) for r in self._query(
            "SELECT published_at / 900 AS t, COUNT(*) AS n FROM articles WHERE published_at IS NOT NULL "
            "GROUP BY published_at / 900")]

    def visible_versions(self, article_ids: Sequence[str]) -> dict[str, str]:
        ids = list(set(article_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for r in self._query(f"SELECT id, version FROM articles WHERE id IN ({_marks(len(part))})", part):
                out[r["id"]] = r["version"]
        return out

    def sentences_by_key(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        """Sentence rows joined with their article's metadata, for visible articles only."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        for i in range(0, len(keys), 400):
            part = keys[i : i + 400]
            cond = " OR ".join("(s.article_id=? AND s.idx=?)" for _ in part)
            args = [x for k in part for x in k]
            for r in self._query(
                f'SELECT s.article_id, s.idx, s.start, s."end", s.text, s.boilerplate, a.title, a.url, '
                f"a.source, a.published_iso, a.published_at FROM sentences s JOIN articles a ON a.id=s.article_id "
                f"WHERE {cond}", args):
                out[(r["article_id"], r["idx"])] = dict(r)
        return out

    def quotes(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """``article.text[start:end]`` for each (article_id, idx), sliced from the stored text."""
        out: dict[tuple[str, int], str] = {}
        for i in range(0, len(keys), 400):
            part = keys[i : i + 400]
            cond = " OR ".join("(s.article_id=? AND s.idx=?)" for _ in part)
            rows = self._query(
                f'SELECT s.article_id, s.idx, s.start, s."end", a.text FROM sentences s '
                f"JOIN articles a ON a.id=s.article_id WHERE {cond}", [x for k in part for x in k])
            for r in rows:
                out[(r["article_id"], r["idx"])] = r["text"][r["start"] : r["end"]]
        return out

    def article_sentences(self, article_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Indexed sentences of the given visible articles, in reading order."""
        if not article_ids:
            return []
        return [dict(r) for r in self._query(
            f'SELECT s.article_id, s.idx, s.start, s."end", s.text, a.title, a.url, a.source, a.published_iso, '
            f"a.published_at FROM sentences s JOIN articles a ON a.id=s.article_id "
            f"WHERE s.article_id IN ({_marks(len(article_ids))}) AND s.boilerplate IS NULL "
            f"ORDER BY s.article_id, s.idx",
            list(article_ids))]

    def stats(self) -> dict[str, int]:
        a = self._query("SELECT COUNT(*) AS n, COALESCE(SUM(sentence_count), 0) AS s FROM articles")[0]
        j = self._query("SELECT COUNT(*) AS n FROM journal")[0]
        return {"articles": int(a["n"]), "sentences": int(a["s"]), "pending": int(j["n"])}

    # -- near-duplicates -------------------------------------------------------------------
    def get_article_text(self, article_id: str) -> str | None:
        rows = self._query("SELECT text FROM articles WHERE id=?", (article_id,))
        return rows[0]["text"] if rows else None

    def set_bands(self, article_id: str, bands: Sequence[int]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM article_bands WHERE article_id=?", (article_id,))
            c.executemany("INSERT INTO article_bands(band, hash, article_id) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                          [(i, h, article_id) for i, h in enumerate(bands)])

    def band_candidates(self, bands: Sequence[int], *, exclude: str, limit: int = 50) -> list[str]:
        """Visible articles sharing at least one band with ``bands``, most shared first."""
        if not bands:
            return []
        values = ",".join("(?,?)" for _ in bands)
        rows = self._query(
            f"WITH q(band, hash) AS (VALUES {values}) SELECT b.article_id, COUNT(*) AS n FROM q "
            f"JOIN article_bands b ON b.band=q.band AND b.hash=q.hash JOIN articles a ON a.id=b.article_id "
            f"WHERE b.article_id != ? GROUP BY b.article_id ORDER BY n DESC, b.article_id LIMIT ?",
            [x for i, h in enumerate(bands) for x in (i, h)] + [exclude, limit])
        return [r["article_id"] for r in rows]

    def set_copies(self, article_id: str, links: Sequence[tuple[str, float]]) -> None:
        """Replace ``article_id``'s copy links (stored both ways)."""
        now = now_iso()
        with self.transaction() as c:
            c.execute("DELETE FROM article_copies WHERE article_id=? OR other_id=?", (article_id, article_id))
            c.executemany("INSERT INTO article_copies(article_id, other_id, containment, linked_at) VALUES (?,?,?,?) "
                          "ON CONFLICT (article_id, other_id) DO UPDATE SET containment=excluded.containment, "
                          "linked_at=excluded.linked_at",
                          [row for other, score in links
                           for row in ((article_id, other, score, now), (other, article_id, score, now))])

    def copies(self, article_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query(
            "SELECT c.other_id AS id, c.containment, a.source, a.title, a.published_iso AS published_at "
            "FROM article_copies c JOIN articles a ON a.id=c.other_id WHERE c.article_id=? "
            "ORDER BY COALESCE(a.published_at, 0), a.ingested_at, a.id", (article_id,))]

    def copy_origins(self, article_ids: Sequence[str], *, max_group: int = 200) -> dict[str, tuple[str, str]]:
        """article id -> (id, source) of the earliest visible copy in its group (itself when it has none)."""
        out: dict[str, tuple[str, str]] = {}
        for aid in article_ids:
            if aid in out:
                continue
            group, frontier = {aid}, [aid]
            while frontier and len(group) < max_group:
                rows = self._query(f"SELECT c.other_id FROM article_copies c JOIN articles a ON a.id=c.other_id "
                                   f"WHERE c.article_id IN ({_marks(len(frontier))})", frontier)
                frontier = [r["other_id"] for r in rows if r["other_id"] not in group]
                group.update(frontier)
            members = self._query(f"SELECT id, source FROM articles WHERE id IN ({_marks(len(group))}) "
                                  f"ORDER BY published_at IS NULL, published_at, ingested_at, id", sorted(group))
            if not members:
                continue
            origin = (members[0]["id"], members[0]["source"])
            for m in members:
                out[m["id"]] = origin
        return {aid: out[aid] for aid in article_ids if aid in out}

    # -- journal -------------------------------------------------------------------------
    def journal_begin(self, article_id: str, op: str, payload: dict[str, Any] | None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO journal(article_id, op, state, payload, started_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT (article_id) DO UPDATE SET op=excluded.op, state=excluded.state, "
                "payload=excluded.payload, started_at=excluded.started_at",
                (article_id, op, "writing", json.dumps(payload) if payload is not None else None, now_iso()),
            )

    def journal_pending(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query(
            "SELECT article_id, op, state, payload, started_at FROM journal ORDER BY started_at")]

    def journal_done(self, article_id: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM journal WHERE article_id=?", (article_id,))

    # -- writes --------------------------------------------------------------------------
    def publish(self, art: ProcessedArticle) -> None:
        """Make ``art`` visible: one transaction swaps the article row, its sentences and their
        lexical index (a failure anywhere leaves the previous version whole)."""
        now = now_iso()
        with self.transaction() as c:
            prev = c.execute("SELECT ingested_at FROM articles WHERE id=?", (art.id,)).fetchone()
            self._unindex(c, art.id)
            c.execute("DELETE FROM sentences WHERE article_id=?", (art.id,))
            c.execute("DELETE FROM articles WHERE id=?", (art.id,))
            c.execute(
                f"INSERT INTO articles({ARTICLE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (art.id, art.title, art.url, art.source, epoch(art.published_at),
                 art.published_at.isoformat() if art.published_at else None, art.text,
                 art.content_hash, art.version, len(art.indexed), len(art.chunks),
                 prev["ingested_at"] if prev else now, now),
            )
            c.executemany(
                'INSERT INTO sentences(article_id, idx, start, "end", text, boilerplate) VALUES (?,?,?,?,?,?)',
                [(art.id, s.index, s.start, s.end, s.text, s.boilerplate) for s in art.sentences],
            )
            self._index(c, art)
            c.execute("UPDATE journal SET state='published' WHERE article_id=?", (art.id,))

    def unpublish(self, article_id: str) -> bool:
        with self.transaction() as c:
            c.execute("DELETE FROM article_bands WHERE article_id=?", (article_id,))
            c.execute("DELETE FROM article_copies WHERE article_id=? OR other_id=?", (article_id, article_id))
            self._unindex(c, article_id)
            c.execute("DELETE FROM sentences WHERE article_id=?", (article_id,))
            return bool(c.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount > 0)

