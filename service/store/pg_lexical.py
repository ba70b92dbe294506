"""BM25 in plain SQL for the PostgreSQL catalogue, with the semantics of SQLite FTS5's ``bm25()``
over ``tokenize='porter unicode61'`` (what the SQLite engine runs, service/store/catalog.py).

No BM25 extension exists for PostgreSQL here, and ``ts_rank``/``ts_rank_cd`` rank differently
(top-10 overlap with FTS5 0.35-0.46) and slowly (../shared/SCALE_OUT.md).  So the index is a
postings table ``lexical_postings(lexeme, sid, tf, tf_title, dl)``, one row per indexed sentence
and lexeme of its text *or* its article's headline (FTS5 indexes the headline as a second column
of every sentence row), plus ``lexical_stats``: the number of indexed sentences and of their
tokens.  A query computes, per query term and matching sentence, FTS5's own formula::

    idf = max(ln((N - df + 0.5) / (df + 0.5)), 1e-6)
    f   = tf + title_weight * tf_title
    score += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * dl / avgdl))

with N the indexed sentences, df the sentences holding the lexeme in either column, dl the tokens
of the sentence plus its headline, k1 = 1.2 and b = 0.75; higher is better (the SQLite engine
negates FTS5's rank to the same sign).

**Which tokenizer, and why.**  Not ``to_tsvector('english', ...)``: it drops a stop list that FTS5
keeps (which changes every sentence's length ``dl``) and stems with Porter2, and its parser cuts
differently from unicode61 ("3.5", "e-mail", URLs).  Instead the tokens are cut in Python as
unicode61 does (lowercase, diacritics removed, runs of letters and digits: :func:`tokens`), and
stemmed in SQL by ``newsdesk_stem``: PostgreSQL's snowball *porter* stemmer (the original Porter
algorithm, as FTS5's porter tokenizer) over tokens of 3 to 64 bytes (FTS5 passes others through),
with FTS5's "-logi" -> "-log" rule added.  Documents and queries go through the same two steps.
On the 27,070 distinct words of 400 RealTimeQA articles it gives FTS5's lexeme for all but 11
(-bly words: "possibly" stems to "possibli", FTS5 "possibl"; and "trekk"/"trek").

Query terms are the SQLite engine's (service/store/catalog_base.py ``query_terms``); a term that
unicode61 would cut in two ("foo_bar") is searched as two terms, not as FTS5's phrase.  Postings
are deleted by their full key ``(lexeme, sid)`` (each sentence keeps its lexemes for that), which
is ~20x faster than by ``sid``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

from service.store.catalog_base import BM25_B, BM25_K1

_TOKEN = re.compile(r"[^\W_]+")

CATALOG_TABLES: tuple[str, ...] = (
    """CREATE TABLE articles (
        id TEXT COLLATE "C" PRIMARY KEY, title TEXT NOT NULL, url TEXT, source TEXT COLLATE "C" NOT NULL,
        published_at BIGINT, published_iso TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL,
        version TEXT NOT NULL, sentence_count INTEGER NOT NULL, chunk_count INTEGER NOT NULL,
        ingested_at TEXT COLLATE "C" NOT NULL, updated_at TEXT NOT NULL)""",
    "CREATE INDEX articles_source ON articles(source)",
    "CREATE INDEX articles_published ON articles(published_at)",
    # sid: the compact key of a sentence in the postings; dl and lexemes: set when it is indexed
    """CREATE TABLE sentences (
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
        boilerplate TEXT, sid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, dl INTEGER, lexemes TEXT[],
        PRIMARY KEY (article_id, idx))""",
    """CREATE TABLE lexical_postings (
        lexeme TEXT COLLATE "C" NOT NULL, sid BIGINT NOT NULL, tf INTEGER NOT NULL, tf_title INTEGER NOT NULL,
        dl INTEGER NOT NULL, PRIMARY KEY (lexeme, sid))""",
    """CREATE TABLE lexical_stats (
        id INTEGER PRIMARY KEY CHECK (id = 1), docs BIGINT NOT NULL, tokens BIGINT NOT NULL)""",
    "INSERT INTO lexical_stats(id, docs, tokens) VALUES (1, 0, 0)",
    "CREATE TEXT SEARCH DICTIONARY newsdesk_porter (TEMPLATE = snowball, Language = porter)",
    r"""CREATE FUNCTION newsdesk_stem(t TEXT) RETURNS TEXT LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN octet_length(t) < 3 OR octet_length(t) > 64 THEN t
               ELSE regexp_replace(COALESCE((ts_lexize('newsdesk_porter', t))[1], t),
                                   '^(.*[aeiouy][^aeiou].*)logi$', '\1log') END $$""",
    """CREATE TABLE journal (
        article_id TEXT COLLATE "C" PRIMARY KEY, op TEXT NOT NULL, state TEXT NOT NULL, payload TEXT,
        started_at TEXT COLLATE "C" NOT NULL)""",
    """CREATE TABLE article_bands (
        band INTEGER NOT NULL, hash BIGINT NOT NULL, article_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (band, hash, article_id))""",
    "CREATE INDEX article_bands_article ON article_bands(article_id)",
    """CREATE TABLE article_copies (
        article_id TEXT COLLATE "C" NOT NULL, other_id TEXT COLLATE "C" NOT NULL,
        containment DOUBLE PRECISION NOT NULL, linked_at TEXT NOT NULL, PRIMARY KEY (article_id, other_id))""",
    "CREATE INDEX article_copies_other ON article_copies(other_id)",
)


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` as FTS5's unicode61 tokenizer cuts them (before stemming)."""
    folded = unicodedata.normalize("NFD", text.lower())
    return _TOKEN.findall("".join(ch for ch in folded if unicodedata.category(ch) != "Mn"))


def index_article(c: Any, article_id: str, title: str, sentences: Sequence[tuple[int, str]]) -> None:
    """Index the (idx, text) sentences of an article whose rows are written (in the caller's
    transaction; ``c`` takes ``?`` SQL): their lexemes and lengths, postings and the totals."""
    title_tokens = tokens(title)
    cut = [(idx, tokens(text)) for idx, text in sentences]
    words = sorted({t for _, toks in cut for t in toks} | set(title_tokens))
    stem = {r["t"]: r["l"] for r in c.execute(
        "SELECT t, newsdesk_stem(t) AS l FROM unnest(?::text[]) AS t", (words,)).fetchall()} if words else {}
    in_title = Counter(stem[t] for t in title_tokens)
    rows: dict[int, tuple[Counter[str], int]] = {}
    for idx, toks in cut:
        rows[idx] = (Counter(stem[t] for t in toks), len(toks) + len(title_tokens))
    if not rows:
        return
    sids = {r["idx"]: r["sid"] for r in c.execute(
        "UPDATE sentences s SET dl = u.dl, lexemes = string_to_array(u.lex, ' ') "
        "FROM unnest(?::int[], ?::int[], ?::text[]) AS u(idx, dl, lex) "
        "WHERE s.article_id = ? AND s.idx = u.idx RETURNING s.idx, s.sid",
        (list(rows), [dl for _, dl in rows.values()],
         [" ".join(sorted(set(tf) | set(in_title))) for tf, _ in rows.values()], article_id)).fetchall()}
    post: list[tuple[str, int, int, int, int]] = []
    for idx, (tf, dl) in rows.items():
        post += [(lex, sids[idx], tf[lex], in_title[lex], dl) for lex in sorted(set(tf) | set(in_title))]
    if post:
        lex, sid, n, nt, dls = (list(col) for col in zip(*post, strict=True))
        c.execute("INSERT INTO lexical_postings(lexeme, sid, tf, tf_title, dl) "
                  "SELECT * FROM unnest(?::text[], ?::bigint[], ?::int[], ?::int[], ?::int[])", (lex, sid, n, nt, dls))
    c.execute("UPDATE lexical_stats SET docs = docs + ?, tokens = tokens + ? WHERE id = 1",
              (len(rows), sum(dl for _, dl in rows.values())))


def unindex_article(c: Any, article_id: str) -> None:
    """Remove an article's postings (by their full key) and its share of the totals, before its
    sentence rows go (in the caller's transaction)."""
    c.execute("DELETE FROM lexical_postings p USING (SELECT sid, unnest(lexemes) AS lexeme FROM sentences "
              "WHERE article_id = ? AND lexemes IS NOT NULL) o WHERE p.lexeme = o.lexeme AND p.sid = o.sid",
              (article_id,))
    c.execute("UPDATE lexical_stats SET docs = docs - x.n, tokens = tokens - x.t FROM (SELECT COUNT(*) AS n, "
              "COALESCE(SUM(dl), 0) AS t FROM sentences WHERE article_id = ? AND dl IS NOT NULL) x "
              "WHERE id = 1 AND x.n > 0", (article_id,))


def query_tokens(terms: Sequence[str]) -> list[str]:
    """The tokens of the query terms, in order (a repeated term counts once, as one FTS5 phrase;
    two terms with one stem count twice, as in FTS5)."""
    return [t for term in terms for t in tokens(term)]


def bm25_sql(where: str | None) -> str:
    """The BM25 query (``?`` placeholders): tokens, title weight twice, [filter args], limit.
    ``where``: a condition on ``a`` (articles), or None for no filter."""
    join = (f"JOIN sentences fs ON fs.sid = p.sid JOIN articles a ON a.id = fs.article_id WHERE {where}"
            if where is not None else "")
    # MATERIALIZED: otherwise the per-lexeme counts get inlined into the big join (1.7 s)
    return f"""
        WITH q AS MATERIALIZED (SELECT newsdesk_stem(t) AS lexeme FROM unnest(?::text[]) AS t),
        st AS MATERIALIZED (SELECT docs::float8 AS n, GREATEST(tokens::float8 / GREATEST(docs, 1), 1e-9) AS avgdl
                            FROM lexical_stats WHERE id = 1),
        w AS MATERIALIZED (
            SELECT q.lexeme, GREATEST(ln((st.n - d.df + 0.5) / (d.df + 0.5)), 1e-6) AS idf
            FROM q CROSS JOIN st
            CROSS JOIN LATERAL (SELECT COUNT(*) AS df FROM lexical_postings p WHERE p.lexeme = q.lexeme) d
            WHERE d.df > 0),
        hits AS (
            SELECT p.sid, SUM(w.idf * (p.tf + ?::float8 * p.tf_title) * {BM25_K1 + 1}
                   / ((p.tf + ?::float8 * p.tf_title) + {BM25_K1} * ({1 - BM25_B} + {BM25_B} * p.dl / st.avgdl)))
                   AS score
            FROM w JOIN lexical_postings p ON p.lexeme = w.lexeme CROSS JOIN st {join}
            GROUP BY p.sid ORDER BY score DESC, p.sid LIMIT ?)
        SELECT s.article_id, s.idx, h.score FROM hits h JOIN sentences s ON s.sid = h.sid
        ORDER BY h.score DESC, h.sid"""
