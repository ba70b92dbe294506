"""``newsdesk db upgrade|copy``: the PostgreSQL schema, and moving a single-machine desk there.

service/cli.py creates the ``db`` sub-app and passes its domain-error edge to :func:`register`
(as it does for ``feeds`` and ``eval``), so this module never imports the CLI.  The work is done
in service/store (engine.upgrade, desk_copy.copy_desk); this only prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from service.config import get_settings

out = Console()
err = Console(stderr=True)
Edge = Callable[[Callable[..., Any]], Callable[..., Any]]


def upgrade_cmd() -> None:
    """Apply pending PostgreSQL migrations; safe to run again, or on two nodes at once (each node also
    applies them at start). Without NEWSDESK_DATABASE_URL there is nothing to do."""
    from service.store.engine import upgrade

    state, before = upgrade(get_settings())
    if before is None:
        said = f"SQLite in {state.where}: nothing to upgrade (its stores create their tables when they open)"
    elif before == state.version:
        said = f"{state.where}: schema already at version {state.version}"
    else:
        said = f"{state.where}: schema upgraded from version {before} to {state.version}"
    out.print(said, markup=False, soft_wrap=True)


COPY_HELP = "\n\n".join((
    "Copy this desk (the SQLite files and the embedded Chroma in NEWSDESK_DATA_DIR) to PostgreSQL and a Chroma "
    "server, then count every table and collection on both sides; exit 1 if any count differs.",
    "Copied: articles with their versions, sentences with offsets and boilerplate reasons, near-duplicate bands "
    "and copy links, the write journal, API keys (as hashes), feeds and their entries, briefings and their runs, "
    "the model call log. The BM25 index is rebuilt in PostgreSQL. Vectors keep their embeddings (nothing is "
    "re-embedded). Not copied: rate-limit buckets and feed poll leases.",
    "Safe by design: the target's schema is migrated first, and a target holding anything this desk does not "
    "have (another desk's rows, or what nodes wrote since an earlier copy) is refused. There is no --force: "
    "copy into a new database and new collections instead. Copying again into the same target adds only what "
    "is missing.",
    "Stop the desk first: the copy holds its ingest lock, but other writes (keys, feeds) would be missed.",
))


def copy_cmd(
    to: Annotated[str, typer.Option("--to", help="The target database: postgresql://user@host:port/dbname.")],
    chroma_host: Annotated[str | None, typer.Option(
        "--chroma-host", help="The target Chroma server (default NEWSDESK_CHROMA_HOST).")] = None,
    chroma_port: Annotated[int | None, typer.Option(
        "--chroma-port", help="Its port (default NEWSDESK_CHROMA_PORT).")] = None,
    vectors: Annotated[bool, typer.Option(
        "--vectors/--no-vectors",
        help="Copy the vectors too; --no-vectors only when they are on the target Chroma server already.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines, only the counts.")] = False,
) -> None:
    """Copy this desk to PostgreSQL and a Chroma server (COPY_HELP says what and how)."""
    from service.store.desk_copy import copy_desk

    report = copy_desk(get_settings(), to, chroma_host=chroma_host, chroma_port=chroma_port, vectors=vectors,
                       say=(lambda _: None) if quiet else (lambda m: err.print(m, markup=False, soft_wrap=True)))
    where = report.target + (f" + Chroma {report.chroma}" if report.chroma else "")
    out.print(f"copied to {where}: {report.articles_written} articles and {report.vectors_written} vectors written",
              markup=False, soft_wrap=True)
    width = max(len(r.name) for r in report.rows)
    out.print(f"{'':8}{'':{width}}  {'source':>9}  {'target':>9}", markup=False)
    for r in report.rows:
        out.print(f"{r.kind:<8}{r.name:<{width}}  {r.source:>9}  {r.target:>9}  {'ok' if r.ok else 'DIFFERENT'}",
                  markup=False)
    for note in report.notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    if not report.ok:
        bad = ", ".join(r.name for r in report.rows if not r.ok)
        err.print(f"error: counts differ for {bad}", markup=False, soft_wrap=True)
        raise typer.Exit(1)


def register(app: typer.Typer, edge: Edge) -> None:
    app.command("upgrade")(edge(upgrade_cmd))
    app.command("copy", help=COPY_HELP)(edge(copy_cmd))
