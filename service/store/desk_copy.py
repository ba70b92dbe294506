"""Move a single-machine desk to PostgreSQL and a Chroma server: ``newsdesk db copy``.

The source is the desk of ``NEWSDESK_DATA_DIR``: its SQLite files and its embedded Chroma (or the
Chroma server that ``serve --workers`` runs on it).  The target is a PostgreSQL URL and a Chroma
server; a shared catalogue whose vectors stayed on one node would be broken, so a target Chroma is
required unless the vectors are left out on purpose.

1. Check the target: the schema is migrated first; then a target holding anything this desk does
   not have (another desk's rows, or ones nodes wrote since an earlier copy) is refused.  An empty
   target, or one holding an earlier (maybe interrupted) copy of this desk, is fine: copying again
   adds what is missing and changes nothing else.
2. Hold both ingest writer locks (this machine's lock file and PostgreSQL's advisory lock), so no
   article is written on either side meanwhile.
3. Copy the vectors, then the relational state (service/store/pg_copy.py): as in an ingest, an
   article is visible in the target catalogue only once its vectors are there.
4. Count every table and collection on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from service.config import Settings
from service.errors import ConfigError, Conflict
from service.store import pg, pg_copy, pg_schema
from service.store.writelock import WriterLock
from vectorstore.copy import Count

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Row(Count):
    kind: str = "table"
    """"table", "index" or "vectors"."""


@dataclass
class CopyReport:
    target: str
    """The database URL without its password."""
    chroma: str | None
    rows: list[Row] = field(default_factory=list)
    articles_written: int = 0
    vectors_written: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def _check_url(url: str) -> None:
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"--to must be a PostgreSQL URL (postgresql://user@host:port/dbname), not {pg.redact(url)!r}")
    try:
        pg.connect(url).close()
    except ConfigError as exc:
        raise ConfigError(exc.detail.replace("(NEWSDESK_DATABASE_URL)", "(--to)")) from exc


def _source_chroma(settings: Settings) -> Any | None:
    """The desk's own vectors: the server ``serve --workers`` runs on the data dir, else the
    embedded store there (None when the desk has none)."""
    from vectorstore.client import make_client
    from vectorstore.server import announced

    if (running := announced(settings.data_dir)) is not None:
        return make_client(host=running[0], port=running[1], timeout_s=settings.chroma_timeout_s)
    if not settings.chroma_path.is_dir():
        return None
    return make_client(path=settings.chroma_path)


def _target_chroma(settings: Settings, host: str, port: int) -> Any:
    from vectorstore.client import make_client

    try:
        return make_client(host=host, port=port, ssl=settings.chroma_ssl, timeout_s=settings.chroma_timeout_s)
    except Exception as exc:  # chromadb raises ValueError, httpx errors...: all mean "not there"
        raise ConfigError(f"cannot reach the Chroma server at {host}:{port}: {' '.join(str(exc).split())}") from exc


def copy_desk(settings: Settings, url: str, *, chroma_host: str | None = None, chroma_port: int | None = None,
              vectors: bool = True, say: Say = lambda _: None) -> CopyReport:
    """Copy the desk of ``settings.data_dir`` into ``url`` (and the Chroma server at
    ``chroma_host``/``chroma_port``, by default ``NEWSDESK_CHROMA_HOST``/``_PORT``); the counts
    on both sides.  Raises ConfigError (bad or unreachable target, nothing to copy from) and
    Conflict (the target holds rows that are not this desk's)."""
    from vectorstore.copy import copy_collection, foreign_vectors, newsdesk_collections, vector_counts

    if settings.database_url:
        raise ConfigError("NEWSDESK_DATABASE_URL is set: this desk already keeps its state in PostgreSQL. "
                          "db copy moves a SQLite desk (the files in NEWSDESK_DATA_DIR): unset it")
    if not settings.catalog_path.exists():
        raise ConfigError(f"no desk in {settings.data_dir}: {settings.catalog_path.name} is missing "
                          "(set NEWSDESK_DATA_DIR to the desk's data dir)")
    host = chroma_host or settings.chroma_host
    port = chroma_port or settings.chroma_port
    if vectors and not host:
        raise ConfigError("no target Chroma server: pass --chroma-host/--chroma-port or set NEWSDESK_CHROMA_HOST. "
                          "Nodes that share a catalogue must share its vectors too (or pass --no-vectors when "
                          "this desk's vectors are on that server already)")
    _check_url(url)
    report = CopyReport(pg.redact(url), f"{host}:{port}" if vectors else None)
    before, after = pg_schema.upgrade(url)
    if before != after:
        say(f"target schema migrated from version {before} to {after}")
    desk = pg_copy.SqliteDesk(settings.data_dir)
    with ExitStack() as stack:
        stack.callback(desk.close)
        source_chroma = target_chroma = None
        if vectors:
            assert host is not None
            target_chroma = _target_chroma(settings, host, port)
            source_chroma = _source_chroma(settings)
            if source_chroma is None:
                if desk.count("catalog.sqlite3", "articles"):
                    raise ConfigError(f"the desk has articles but no vectors in {settings.chroma_path}: if they are "
                                      "on the target Chroma server already, pass --no-vectors")
                report.notes.append(f"no embedded Chroma in {settings.chroma_path}: no vectors to copy")
        foreign = pg_copy.foreign_rows(desk, url)
        if source_chroma is not None:
            foreign.update({f"vectors in {k}": v for k, v in foreign_vectors(source_chroma, target_chroma).items()})
        if foreign:
            listed = ", ".join(f"{k}: {v}" for k, v in foreign.items())
            raise Conflict(f"the target already holds data that is not this desk's ({listed}); db copy only fills an "
                           "empty target or completes an earlier copy of the same desk. Copy into a new database "
                           "(createdb) and new collections")
        stack.enter_context(WriterLock(settings.data_dir / "ingest.lock"))  # no ingest here meanwhile...
        from service.store.pg_writelock import PgWriterLock

        stack.enter_context(PgWriterLock(url))  # ...nor on any node of the target
        if source_chroma is not None:
            for col in newsdesk_collections(source_chroma):
                report.vectors_written += copy_collection(col, target_chroma, say)
        report.articles_written = pg_copy.copy_articles(desk, url, say)
        pg_copy.copy_rows(desk, url, say)
        for c in pg_copy.counts(desk, url):
            kind = "index" if c.name in (pg_copy.LEXICAL, "lexical_stats.docs") else "table"
            report.rows.append(Row(c.name, c.source, c.target, kind))
        if source_chroma is not None:
            report.rows += [Row(v.name, v.source, v.target, "vectors")
                            for v in vector_counts(source_chroma, target_chroma)]
        if not desk.count("catalog.sqlite3", "articles"):
            report.notes.append(f"the desk in {settings.data_dir} has no articles")
    return report

