"""``eventsourcing projections {status,run,rebuild}``. The ``projections`` package is imported only when one runs.

The work itself is in `eventsourcing.cli.projecting`; this module declares the commands and prints.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from eventsourcing.cli.commands import projections_as_of
from eventsourcing.cli.failures import UsageError
from eventsourcing.cli.loading import load_apps
from eventsourcing.cli.options import AppModules, StoreURL
from eventsourcing.cli.rendering import say, write_json
from eventsourcing.cli.timeparse import iso, parse_timestamp

if TYPE_CHECKING:
    from eventsourcing.projections import ProjectionStatus, Projector

app = typer.Typer(
    name="projections",
    help="Run, inspect and rebuild the projectors (query views) your --app modules declare.\n\n"
    "Projectors are the Projector subclasses and instances at the top level of the --app modules. "
    "--views (the database of the views and their checkpoints) defaults to the --store URL.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(projections_as_of.app, name="as-of")

Names = Annotated[
    list[str] | None,
    typer.Argument(metavar="NAME", help="Projector names (their `name`); default: every projector found."),
]
ViewsURL = Annotated[
    str | None,
    typer.Option(
        "--views",
        metavar="URL",
        help="Database of the views, their checkpoints and dead letters: sqlite:///views.db or "
        "postgresql://... (default: the --store URL; required with a kafka:// store).",
    ),
]
ShowProgress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show progress on stderr (default: when stderr is a terminal and the work is long).",
        show_default=False,
    ),
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", metavar="N", min=1, help="Events per transaction of the view database.")
]


def _projectors(apps: Sequence[str], names: Sequence[str] | None) -> list[Projector]:
    from eventsourcing.cli import projecting

    load_apps(apps)
    found = projecting.discover(projecting.app_module(name) for name in apps)
    return projecting.select(found, names or [], apps)


def _check_urls(store: str, views: str, *, views_must_exist: bool) -> None:
    from eventsourcing.cli import projecting
    from eventsourcing.cli.stores import check_url

    check_url(store, must_exist=True)
    projecting.check_views(views, must_exist=views_must_exist)


# -- status -------------------------------------------------------------------------------------------------


@app.command("status")
def status(
    store: StoreURL,
    app_: AppModules,
    names: Names = None,
    views: ViewsURL = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per projector, per line.")] = False,
) -> None:
    """Show each projector's checkpoint, the head of the log, lag and dead letters.

    Lag is the number of events after the checkpoint (counted up to 100,000) and the age of the
    oldest of them. State is "never run", "behind" or "caught up". It creates no view
    tables (only the checkpoint tables, if missing); a missing SQLite views file is an error.
    """
    views_url = views or store
    _check_urls(store, views_url, views_must_exist=True)
    projectors = _projectors(app_, names)
    found = asyncio.run(_status(store, views_url, projectors))
    _print_status(found, as_json)


async def _status(store: str, views: str, projectors: list[Projector]) -> list[ProjectionStatus]:
    from eventsourcing.cli import projecting

    async with projecting.session(store, views, projectors, open_runners=False) as session:
        return await session.status()
    raise AssertionError("unreachable")  # pragma: no cover


def _print_status(found: list[ProjectionStatus], as_json: bool) -> None:
    from eventsourcing.cli import projecting

    if as_json:
        for item in found:
            write_json(projecting.status_record(item))
        return
    from rich.table import Table

    from eventsourcing.cli.rendering import compact, stdout

    table = Table(title=f"{len(found)} projector{'' if len(found) == 1 else 's'}", title_justify="left")
    for column in ("projector", "checkpoint", "head", "lag", "age", "last commit (UTC)", "state", "dead"):
        number = column in ("lag", "age", "dead")
        table.add_column(
            column,
            justify="right" if number else "left",
            overflow="fold",  # positions can be long (PostgreSQL's pairs), terminals narrow
            no_wrap=number,
            min_width=len(column) if column in ("checkpoint", "state") else None,
        )
    for item in found:
        table.add_row(
            item.name,
            projecting.position_text(item.checkpoint),
            projecting.position_text(item.head),
            projecting.lag_text(item),
            projecting.duration_text(item.lag_seconds),
            "-" if item.updated_at is None else compact(item.updated_at.replace(microsecond=0)),
            projecting.state_of(item),
            str(item.dead_letters),
        )
    stdout().print(table)


# -- run ----------------------------------------------------------------------------------------------------


@app.command("run")
def run(
    store: StoreURL,
    app_: AppModules,
    names: Names = None,
    views: ViewsURL = None,
    until_caught_up: Annotated[
        bool,
        typer.Option("--until-caught-up", help="Stop once every event now in the log is applied (do not follow)."),
    ] = False,
    batch_size: BatchSize = 1000,
    progress: ShowProgress = None,
) -> None:
    """Catch the projectors up, then follow the log live until Ctrl-C (exit 0).

    Creates the view tables if missing. With --until-caught-up, stops once caught up (Ctrl-C is
    then exit 130). A projector that stops on an event its handler fails on (a poison event)
    stops the command: exit 1, the error names the event, and the checkpoint stays just before
    it (projectors with dead_letters record such events and go on). SIGTERM stops like Ctrl-C.
    """
    views_url = views or store
    _check_urls(store, views_url, views_must_exist=False)
    projectors = _projectors(app_, names)
    asyncio.run(_run(store, views_url, projectors, until_caught_up, batch_size, progress))


async def _run(
    store: str,
    views: str,
    projectors: list[Projector],
    until_caught_up: bool,
    batch_size: int,
    progress: bool | None,
) -> None:
    from eventsourcing.cli import projecting
    from eventsourcing.cli.replaying import LONG_REPLAY

    async with projecting.session(store, views, projectors, batch_size=batch_size) as session:
        total: int | None = None
        if progress or (progress is None and sys.stderr.isatty()):
            behind = await session.status(max_scan=LONG_REPLAY + 1)
            total = sum(s.lag_events for s in behind) if all(s.lag_exact for s in behind) else None
        show = projecting.wants_progress(progress, total)
        read = 0
        start = time.monotonic()
        with projecting.progress_bar(show, "catching up", total) as advance:

            def count(n: int) -> None:
                nonlocal read
                read += n
                advance(n)

            session.store.on_read = count
            catch_up = projecting.all_of([runner.catch_up() for runner in session.runners])
            if until_caught_up:
                await catch_up  # Ctrl-C here is an interruption: exit 130
                finished = True
            else:
                finished = await projecting.interruptible(catch_up)  # Ctrl-C: stop, exit 0

        def counted(n: int) -> None:
            nonlocal read
            read += n

        session.store.on_read = counted
        if finished and not until_caught_up:
            sys.stderr.write(
                f"caught up ({_events(read)} read in {projecting.since(start):.2f}s); "
                "following the log (Ctrl-C to stop)\n"
            )
            sys.stderr.flush()

            def stop() -> None:
                for runner in session.runners:
                    runner.stop()

            # Returns after a signal (the batches in progress committed); raises a projector's error.
            await projecting.interruptible(projecting.all_of([r.run() for r in session.runners]), on_signal=stop)
        for item in await session.status(max_scan=1000):
            where = projecting.position_text(item.checkpoint)
            lag = "caught up" if item.lag_events == 0 else f"{projecting.lag_text(item)} events behind"
            say(f"{item.name}: checkpoint {where} ({lag})")
        verb = "caught up" if until_caught_up else "stopped"
        took = projecting.since(start)
        say(f"{verb}: {_events(read)} read by {len(projectors)} projector{_s(projectors)} in {took:.2f}s")


def _events(n: int) -> str:
    return f"{n:,} event{'' if n == 1 else 's'}"


def _s(items: Sequence[Any]) -> str:
    return "" if len(items) == 1 else "s"


# -- rebuild ------------------------------------------------------------------------------------------------


@app.command("rebuild")
def rebuild(
    store: StoreURL,
    app_: AppModules,
    names: Names = None,
    views: ViewsURL = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="T",
            help="Build the view as it stood at T (ISO 8601 with an offset, or relative: '2h ago') into "
            "separate tables, named with "
            "--suffix; the live view is left alone.",
        ),
    ] = None,
    suffix: Annotated[
        str | None,
        typer.Option(
            "--suffix",
            metavar="SUFFIX",
            help="With --until: appended to each table's name (letters, digits, underscores; default: "
            "_asof_YYYYMMDD_HHMMSS of T in UTC).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per projector, per line.")] = False,
    batch_size: BatchSize = 1000,
    progress: ShowProgress = None,
) -> None:
    """Reset the projectors' views and replay the whole log into them.

    Drops and re-creates the view tables, forgets dead letters and moves the checkpoint back to
    the start, in one transaction, then catches up (a runner following the projector elsewhere
    starts over with it). With --until T: builds the view as of T into separate tables instead,
    and prints their names.
    """
    if suffix is not None and until is None:
        raise UsageError("--suffix names the tables of a view as of a time: pass --until T too")
    if suffix is not None and not (suffix and suffix.replace("_", "").isalnum() and suffix.isascii()):
        raise UsageError(f"--suffix {suffix!r}: use letters, digits and underscores")
    as_of = None if until is None else parse_timestamp(until, "--until")
    views_url = views or store
    _check_urls(store, views_url, views_must_exist=False)
    projectors = _projectors(app_, names)
    results = asyncio.run(_rebuild(store, views_url, projectors, as_of, suffix, batch_size, progress))
    from eventsourcing.cli import projecting

    for result in results:
        if as_json:
            write_json(result)
        elif as_of is None:
            checkpoint = projecting.position_text(result["checkpoint"])
            say(f"{result['name']}: rebuilt from {_events(result['events'])}, checkpoint {checkpoint}")
        else:
            say(f"{result['name']} as of {result['as_of']} ({_events(result['events'])} read):")
            for table, copy in result["tables"].items():
                say(f"  {table} -> {copy}")


async def _rebuild(
    store: str,
    views: str,
    projectors: list[Projector],
    as_of: dt.datetime | None,
    suffix: str | None,
    batch_size: int,
    progress: bool | None,
) -> list[dict[str, Any]]:
    from eventsourcing.cli import projecting

    results: list[dict[str, Any]] = []
    async with projecting.session(store, views, projectors, batch_size=batch_size) as session:
        show = projecting.wants_progress(progress, None)
        for runner, projector in zip(session.runners, projectors, strict=True):
            read = 0
            what = "rebuilding" if as_of is None else "rebuilding as of"
            with projecting.progress_bar(show, f"{what} {projector.name}", None) as advance:

                def count(n: int) -> None:
                    nonlocal read
                    read += n
                    advance(n)

                session.store.on_read = count
                if as_of is None:
                    await runner.rebuild(projector.name)
                    session.store.on_read = None
                    (item,) = await runner.status(projector.name, max_scan=1)
                    results.append({"name": projector.name, "events": read, "checkpoint": item.checkpoint})
                else:
                    tables = await runner.rebuild_as_of(projector.name, as_of, suffix=suffix)
                    results.append({"name": projector.name, "as_of": iso(as_of), "events": read, "tables": tables})
            session.store.on_read = None
    return results
