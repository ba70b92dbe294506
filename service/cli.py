"""The ``newsdesk`` command. It calls the same pipeline functions as the HTTP API."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.config import REPO_ROOT, get_settings
from service.errors import FieldError, NewsdeskError, NotFound
from service.ingest.parse import RawItem, expand_paths, json_lines, parse_jsonl, read_path
from service.ingest.pipeline import ItemOutcome, ingest_batch
from service.runtime import Services, build_services
from service.store.catalog import Filters
from service.timeutil import parse_as_of, parse_bound

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Newsdesk: cited news answers, summaries and briefings.")
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def fail_on_domain_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Translate domain errors into a clear message and exit code (the CLI's edge)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except NewsdeskError as exc:
            err.print(f"[bold red]error:[/] {rich_escape(exc.detail)}", soft_wrap=True)  # no line breaks inside
            for fe in exc.errors:
                err.print(f"  {rich_escape(fe.field)}: {rich_escape(fe.message)}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from exc

    return wrapper


@contextmanager
def services() -> Iterator[Services]:
    svc = build_services(get_settings())
    try:
        yield svc
    finally:
        svc.close()


def gather(paths: list[str]) -> list[RawItem]:
    items: list[RawItem] = []
    for arg in paths:
        if arg == "-":
            items.extend(parse_jsonl(json_lines(sys.stdin.read()), "<stdin>"))
            continue
        for path in expand_paths([arg]):
            if not path.exists():
                items.append(RawItem(str(path), None, "no such file or directory"))
            else:
                items.extend(read_path(path))
    return items


def run_ingest(svc: Services, raw: list[RawItem], *, show_progress: bool) -> list[ItemOutcome]:
    """Ingest parsed files; unreadable ones are reported as failures and the rest go on."""
    readable = [(r.origin, r.data) for r in raw if r.error is None]
    unreadable = [ItemOutcome(-1, r.origin, errors=[FieldError(r.origin, r.error)])
                  for r in raw if r.error is not None]
    with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=not show_progress, transient=True) as bar:
        task = bar.add_task("ingest", total=len(readable))
        outcomes = ingest_batch(svc.store, readable, max_chars=svc.settings.max_article_chars,
                                prefix=lambda i: "", on_progress=lambda n: bar.advance(task, n))
    return outcomes + unreadable


@app.command()
@fail_on_domain_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders, globs, or - for JSONL on stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print per-item results as JSON.")] = False,
) -> None:
    """Ingest articles from .txt, .md, .html, .json and .jsonl files."""
    raw = gather(paths)
    with services() as svc:
        outcomes = run_ingest(svc, raw, show_progress=sys.stderr.isatty())
    counts = {s: sum(o.status == s for o in outcomes) for s in ("created", "updated", "unchanged", "failed")}
    if as_json:
        out.print_json(json.dumps({"results": [asdict(o) for o in outcomes], **counts}))
    else:
        out.print(" ".join(f"{k}: {v}" for k, v in counts.items()))
        for o in outcomes:
            if o.status == "failed":
                reasons = "; ".join(f"{e.field}: {e.message}" if e.field not in ("", o.origin) else e.message
                                    for e in o.errors)
                out.print(f"  failed {o.origin}: {reasons}")
    if counts["failed"]:
        raise typer.Exit(1)


@app.command()
@fail_on_domain_errors
def search(
    query: str,
    k: int = 8,
    since: str | None = None,
    until: str | None = None,
    source: Annotated[list[str] | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Retrieval only: the best matching sentences with their ids and scores."""
    from service.api.search import to_response

    filters = Filters(sources=tuple(source or ()), since=parse_bound(since, "since"),
                      until=parse_bound(until, "until", upper=True))
    with services() as svc:
        result = svc.retriever.search(query, k=k, filters=filters)
    if as_json:
        out.print_json(to_response(result).model_dump_json())
        return
    for h in result.sentences:
        out.print(f"[bold]{h.score:.3f}[/] [cyan]{h.id}[/] {h.text}")
        out.print(f"       [dim]{h.title} · {h.source} · {h.published_at or 'undated'}[/]")


@app.command()
@fail_on_domain_errors
def ask(
    question: str,
    model: Annotated[str | None, typer.Option(help="Backend[:model], e.g. local, openai:gpt-4o-mini.")] = None,
    prompt_version: Annotated[str | None, typer.Option("--prompt-version")] = None,
    top_k: int = 8,
    since: str | None = None,
    until: str | None = None,
    source: Annotated[list[str] | None, typer.Option()] = None,
    article: Annotated[list[str] | None, typer.Option("--article", help="Restrict to these article ids.")] = None,
    flag_unsupported: Annotated[bool, typer.Option("--flag-unsupported")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Answer as of this ISO date: nothing later is used, "
                                              "and 'this week' counts back from it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API response shape.")] = False,
) -> None:
    """Answer a question with verified, numbered citations."""
    from service.api.ask import to_response
    from service.generation.answer import EMPTY_DESK, AskParams, answer

    filters = Filters(sources=tuple(source or ()), article_ids=tuple(article or ()),
                      since=parse_bound(since, "since"), until=parse_bound(until, "until", upper=True))
    params = AskParams(question, filters, top_k, prompt_version, model, flag_unsupported,
                       as_of=parse_as_of(as_of))
    with services() as svc:
        res = answer(svc, params)
    if as_json:
        out.print_json(to_response(res).model_dump_json())
        return
    short = res.short_answer
    if short is not None and not res.abstained:
        out.print(f"[bold]{rich_escape(short.text)}[/]")
    out.print(res.answer if not res.abstained else f"[yellow]{res.answer}[/] ({res.abstain_reason})")
    if res.abstain_reason == EMPTY_DESK:
        out.print(f"[dim]the desk in {rich_escape(str(get_settings().data_dir))} is empty: ingest articles "
                  "(newsdesk ingest seeds/), or set NEWSDESK_DATA_DIR to the desk the server uses[/]")
    shown = res.citations if not res.abstained else res.evidence[:3]
    if shown:
        out.print("\n[bold]Sources[/]" if not res.abstained else "\n[bold]Nearest sentences (not an answer)[/]")
    for c in shown:
        date = (c.hit.published_at or "undated")[:10]
        support = f" · support {c.support:.2f}" if c.support is not None else ""
        out.print(f"[{c.marker}] “{c.quote}”")
        out.print(f"    [dim]{c.hit.title} · {c.hit.source} · {date} · {c.hit.id}{support}[/]")
    took = res.timings.get("total_ms", 0)
    p = res.period
    window = f" · searched {p.first_day or 'up'} to {p.last_day}" if p is not None else ""
    out.print(f"[dim]{res.mode} · {res.backend}/{res.model} · {res.prompt} · {took:.0f} ms{window}[/]")


@app.command()
@fail_on_domain_errors
def logs(
    call_id: Annotated[int | None, typer.Argument(help="Show one call in full.")] = None,
    limit: int = 20,
    offset: int = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List logged model calls, or show one."""
    from service.store.engine import open_call_log

    log = open_call_log(get_settings())
    try:
        row = log.get(call_id) if call_id is not None else None
        rows = log.list(limit=limit, offset=offset) if call_id is None else []
    finally:
        log.close()
    if call_id is not None:
        if row is None:
            raise NotFound(f"no logged call with id {call_id}")
        out.print_json(json.dumps(row, default=str))
        return
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    for r in rows:
        status = "[red]error[/]" if r.get("error") else "ok"
        prompt = f"{r.get('prompt_name')}@{r.get('prompt_version')}"
        out.print(f"{r['id']:>5} {r['ts']} {r['backend']}/{r['model']} {prompt} "
                  f"{r.get('latency_ms') or 0:.0f} ms {status}")


@app.command()
@fail_on_domain_errors
def summarize(
    article: Annotated[list[str] | None, typer.Option("--article", help="Article id(s) to summarise.")] = None,
    query: Annotated[str | None, typer.Option("--query", help="Summarise what the articles say on this topic.")] = None,
    since: str | None = None,
    until: str | None = None,
    source: Annotated[list[str] | None, typer.Option()] = None,
    length: Annotated[str, typer.Option(help="short | medium | long")] = "medium",
    style: Annotated[str, typer.Option(help="paragraph | bullets")] = "paragraph",
    model: Annotated[str | None, typer.Option(help="Backend[:model], e.g. local, fake.")] = None,
    prompt_version: Annotated[str | None, typer.Option("--prompt-version")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API response shape.")] = False,
) -> None:
    """A neutral summary of articles, a topic or a date range; every sentence cited and verified."""
    from pydantic import ValidationError

    from service.api.summaries import to_params, to_response
    from service.errors import InvalidInput
    from service.generation.summarize import summarize as run_summary
    from service.schemas import SummaryRequest

    try:
        req = SummaryRequest(article_ids=article or [], query=query, since=since, until=until, sources=source or [],
                             length=length, style=style, model=model, prompt_version=prompt_version)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [FieldError(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise InvalidInput("invalid summary request", errors=problems) from exc
    with services() as svc:
        res = run_summary(svc, to_params(req))
    if as_json:
        out.print_json(to_response(res).model_dump_json())
        return
    out.print(res.summary, markup=False)
    out.print("\n[bold]Sources[/]")
    for c in res.citations:
        out.print(f"[{c.marker}] “{c.quote}”", markup=False)
        out.print(f"    [dim]{c.hit.title} · {c.hit.source} · {c.hit.id}[/]")
    n = res.neutrality
    out.print(f"[dim]neutrality: loaded words added {len(n.loaded_introduced)} · attribution "
              f"{n.attribution_kept}/{n.attributed_in_sources} · contested pairs complete "
              f"{n.contested_complete}/{n.contested_touched} · fixes {n.fixes}[/]")
    out.print(f"[dim]{res.backend}/{res.model} · {res.prompt} · {res.calls} call(s) · "
              f"{res.timings.get('total_ms', 0):.0f} ms[/]")


@app.command()
@fail_on_domain_errors
def briefing(
    date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
    fmt: Annotated[str, typer.Option("--format", help="md | html | json")] = "md",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA timezone; default NEWSDESK_BRIEFING_TIMEZONE.")] = None,
    source: Annotated[list[str] | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option(help="Backend[:model], e.g. local, fake.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Build again even when one is stored.")] = False,
) -> None:
    """Build (or load the stored) daily briefing and print or write it."""
    from service.errors import InvalidInput
    from service.generation.briefing import BriefingParams, build_briefing, get_briefing, parse_day
    from service.generation.briefing_render import render

    if fmt not in ("md", "html", "json"):
        raise InvalidInput.for_field("format", "choose md, html or json")
    with services() as svc:
        params = BriefingParams(parse_day(date), timezone or svc.settings.briefing_timezone, tuple(source or ()),
                                model)
        try:
            found = None if rebuild else get_briefing(svc, params.day, params.timezone, params.sources)
        except NotFound:
            found = None
        payload = found or build_briefing(svc, params)
    text = json.dumps(payload, ensure_ascii=False, indent=2) if fmt == "json" else render(payload, fmt)
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {out_file} ({len(payload['stories'])} stories)")


@app.command()
@fail_on_domain_errors
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    seed: Annotated[bool, typer.Option(help="Ingest the seeds/ folder at start-up.")] = True,
    workers: Annotated[int, typer.Option(help="API processes. More than 1 shares one Chroma server "
                                              "(started here unless NEWSDESK_CHROMA_HOST is set).")] = 1,
    insecure: Annotated[bool, typer.Option(help="Allow a non-loopback bind without NEWSDESK_AUTH=required.")] = False,
) -> None:
    """Run the HTTP API and the reader's desk at / (OpenAPI docs at /docs)."""
    from service.briefing_runs import article_days, start_day_briefings
    from service.serve import run

    settings = get_settings()
    seeds_dir = settings.seeds_dir or REPO_ROOT / "seeds"

    def ingest_seeds(svc: Services) -> None:
        if not seed or not seeds_dir.is_dir():
            return
        outcomes = run_ingest(svc, gather([str(seeds_dir)]), show_progress=False)
        logging.getLogger("newsdesk").info("seeds: %s", {o.origin: o.status for o in outcomes})
        # the seeded days' briefings are built in the background, so the server answers at once
        days = article_days(svc, [o.id for o in outcomes if o.id and o.status != "failed"],
                            svc.settings.briefing_timezone)
        if workers == 1:
            start_day_briefings(svc, days)
        elif days:  # several workers: this runs in the parent; each worker starts the (claimed) build
            os.environ["NEWSDESK_SEED_BRIEFING_DAYS"] = ",".join(d.isoformat() for d in days)

    run(settings, host=host, port=port, workers=workers, insecure=insecure, on_startup=ingest_seeds)


@app.command()
@fail_on_domain_errors
def doctor(
    model: Annotated[bool, typer.Option(help="Run a short completion in a child process.")] = True,
    verify: Annotated[bool, typer.Option(help="Hash the 1.1 GB model file again.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check this machine: Python, CPU features, the llama.cpp build, the model, stores, disk, browser."""
    from service.doctor import as_json as checks_json
    from service.doctor import run_checks

    marks = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}

    def show(c: Any) -> None:
        if as_json:
            return
        out.print(f"{marks[c.status]} [bold]{c.name:<16}[/] {rich_escape(c.summary)}", soft_wrap=True)
        for line in c.details:
            out.print(f"     {'':<16} [dim]{rich_escape(line)}[/]", soft_wrap=True)
        if c.fix:
            out.print(f"     {'':<16} fix: {rich_escape(c.fix)}", soft_wrap=True)

    checks = run_checks(get_settings(), model=model, verify=verify, on_check=show)
    if as_json:
        sys.stdout.write(json.dumps(checks_json(checks), indent=2) + "\n")
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        err.print(f"[bold red]doctor:[/] {len(failed)} check(s) failed: {', '.join(failed)}")
        raise typer.Exit(1)


keys_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="API keys (NEWSDESK_AUTH=required): create, list, revoke.")
app.add_typer(keys_app, name="keys")


@contextmanager
def _key_store() -> Iterator[Any]:
    from service.store.engine import open_keys

    keys = open_keys(get_settings())
    try:
        yield keys
    finally:
        keys.close()


@keys_app.command("create")
@fail_on_domain_errors
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    scope: Annotated[str, typer.Option("--scope", help="read | write | admin")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"id", "name", "scope", "key"}.')] = False,
) -> None:
    """Create a key. It is printed once; only its hash is stored."""
    with _key_store() as store:
        new = store.create(name, scope)
    if as_json:
        sys.stdout.write(json.dumps({"id": new.id, "name": new.name, "scope": new.scope, "key": new.key}) + "\n")
        return
    out.print(f"created key [bold]{new.id}[/] ({new.name}, scope {new.scope}). It is shown once; store it now:")
    sys.stdout.write(new.key + "\n")


@keys_app.command("list")
@fail_on_domain_errors
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key with its scope and state (never the key itself)."""
    with _key_store() as store:
        keys = store.list()
    if as_json:
        sys.stdout.write(json.dumps([k.as_dict() for k in keys]) + "\n")
        return
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else f"last used {k.last_used_at or 'never'}"
        out.print(f"{k.id}  {k.scope:<5}  {k.name}  created {k.created_at}  {state}", markup=False)


@keys_app.command("revoke")
@fail_on_domain_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (the 8 characters after ndk_).")]) -> None:
    """Revoke a key: every worker refuses it from its next request on."""
    with _key_store() as store:
        info = store.revoke(key_id)
    out.print(f"revoked key {info.id} ({info.name})", markup=False)


db_app = typer.Typer(add_completion=False, no_args_is_help=True,
                     help="PostgreSQL (NEWSDESK_DATABASE_URL): upgrade its schema, copy a SQLite desk into it.")


def _register_db_commands() -> None:
    from service.db_cli import register

    register(db_app, fail_on_domain_errors)


_register_db_commands()
app.add_typer(db_app, name="db")


eval_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluation suites: run, compare, gate.")


def _register_eval_commands() -> None:
    from evals.cli import register

    register(eval_app, fail_on_domain_errors)


_register_eval_commands()
app.add_typer(eval_app, name="eval")

feeds_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Followed RSS/Atom feeds: add, list, remove, poll.")


def _register_feed_commands() -> None:
    from service.feeds.cli import register

    register(feeds_app, fail_on_domain_errors)


_register_feed_commands()
app.add_typer(feeds_app, name="feeds")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
