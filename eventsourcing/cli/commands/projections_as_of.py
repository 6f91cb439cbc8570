"""``eventsourcing projections as-of {list,drop}``: the views ``projections rebuild --until T`` built.

The work is `eventsourcing.projections.as_of`'s (imported only when a command runs).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from eventsourcing.cli.failures import NotFound, UsageError
from eventsourcing.cli.options import AppModules, StoreURL
from eventsourcing.cli.rendering import say, write_json
from eventsourcing.cli.timeparse import iso, parse_timestamp
from eventsourcing.errors import InvalidArgument

if TYPE_CHECKING:
    from eventsourcing.projections import AsOfView, Projector

app = typer.Typer(
    name="as-of",
    help="List and drop the views built as of a time (projections rebuild --until T).\n\n"
    "Only as-of tables are ever dropped: never a projector's live tables or checkpoint.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Names = Annotated[
    list[str] | None,
    typer.Argument(metavar="NAME", help="Projector names (their `name`); default: every projector found."),
]
ViewsURL = Annotated[
    str | None,
    typer.Option(
        "--views",
        metavar="URL",
        help="Database of the views: sqlite:///views.db or postgresql://... (default: --store).",
    ),
]


@app.command("list")
def list_(
    store: StoreURL,
    app_: AppModules,
    names: Names = None,
    views: ViewsURL = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per build, per line.")] = False,
) -> None:
    """List the as-of builds of the projectors: suffix, time, tables, checkpoint.

    The time is known when the build has the default suffix (_asof_YYYYMMDD_HHMMSS); a build
    missing some of its tables (interrupted, or made by an older class) lists them as missing.
    """
    views_url, projectors = _setup(store, views, app_, names)
    from eventsourcing.projections import SQLCheckpointStore, list_as_of_views

    async def listed() -> list[AsOfView]:
        async with SQLCheckpointStore(views_url) as opened:
            return await list_as_of_views(opened, projectors)

    builds = [b for b in asyncio.run(listed()) if not names or b.projector in names]
    if as_json:
        for build in builds:
            write_json(_record(build))
        return
    if not builds:
        say("no as-of builds")
        return
    from rich.table import Table

    from eventsourcing.cli.rendering import compact, stdout

    table = Table(title=f"{len(builds)} as-of build{'' if len(builds) == 1 else 's'}", title_justify="left")
    for column in ("projector", "suffix", "as of (UTC)", "tables", "built (UTC)"):
        table.add_column(column, overflow="fold")
    for build in builds:
        built = build.checkpoint.updated_at if build.checkpoint is not None else None
        tables = ", ".join(build.tables.values()) + "".join(f" ({name} missing)" for name in build.missing)
        table.add_row(
            build.projector,
            build.suffix,
            "-" if build.as_of is None else compact(build.as_of),
            tables,
            "-" if built is None else compact(built.replace(microsecond=0)),
        )
    stdout().print(table)


@app.command("drop")
def drop(
    store: StoreURL,
    app_: AppModules,
    names: Names = None,
    views: ViewsURL = None,
    suffix: Annotated[
        str | None, typer.Option("--suffix", metavar="SUFFIX", help="The build's suffix (as `as-of list` shows it).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="T", help="The build made with --until T and the default suffix."),
    ] = None,
) -> None:
    """Drop an as-of build's tables and checkpoint, in one transaction.

    Name the build by --suffix or by --until T (the default suffix of T). Without NAME: the build of
    every projector that has it. Exit code 3 when there is none; a suffix that names a live
    projector's table or checkpoint is refused.
    """
    if (suffix is None) == (until is None):
        raise UsageError("name the as-of build to drop: pass --suffix SUFFIX or --until T (one of them)")
    from eventsourcing.projections import AsOfViewNotFound, LiveView, SQLCheckpointStore, drop_as_of_view
    from eventsourcing.projections.as_of import default_suffix

    chosen = suffix if suffix is not None else default_suffix(parse_timestamp(until or "", "--until"))
    views_url, projectors = _setup(store, views, app_, names)
    selected = [p.name for p in projectors if not names or p.name in names]

    async def dropped() -> list[AsOfView]:
        done: list[AsOfView] = []
        async with SQLCheckpointStore(views_url) as opened:
            for name in selected:
                try:
                    done.append(await drop_as_of_view(opened, projectors, name, chosen))
                except AsOfViewNotFound:
                    if names:
                        raise
        return done

    try:
        builds = asyncio.run(dropped())
    except AsOfViewNotFound as err:
        raise NotFound(str(err)) from None
    except (LiveView, InvalidArgument) as err:
        raise UsageError(str(err)) from None
    if not builds:
        raise NotFound(f"no as-of build with suffix {chosen!r} (see `eventsourcing projections as-of list`)")
    for build in builds:
        say(f"dropped {build.projector} as-of build {build.suffix}: {', '.join(build.tables.values()) or 'no tables'}")


def _setup(store: str, views: str | None, apps: list[str], names: list[str] | None) -> tuple[str, list[Projector]]:
    # All the --app modules' projectors count as live (even those not named), so none of theirs is dropped.
    from eventsourcing.cli.commands.projections import _check_urls, _projectors

    views_url = views or store
    _check_urls(store, views_url, views_must_exist=True)
    everything = _projectors(apps, None)
    if names:
        _projectors(apps, names)  # unknown names: the same error as the other projections commands
    return views_url, everything


def _record(build: AsOfView) -> dict[str, Any]:
    checkpoint = build.checkpoint
    return {
        "projector": build.projector,
        "suffix": build.suffix,
        "name": build.name,
        "as_of": None if build.as_of is None else iso(build.as_of),
        "tables": build.tables,
        "missing": list(build.missing),
        "checkpoint": None if checkpoint is None else checkpoint.position,
        "built_at": None if checkpoint is None or checkpoint.updated_at is None else iso(checkpoint.updated_at),
    }
