"""The options several commands share, declared once so that their names and help read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

StoreURL = Annotated[
    str,
    typer.Option(
        "--store",
        metavar="URL",
        envvar="EVENTSOURCING_STORE",
        help="Event store URL: sqlite:///relative/path.db, sqlite:////absolute/path.db, postgresql://user@host:port/db "
        "or kafka://host:port?prefix=events[&index=/path/index.db].",
        show_envvar=True,
    ),
]
AppModules = Annotated[
    list[str],
    typer.Option(
        "--app",
        metavar="MODULE",
        help="Module that declares your aggregates and events (imported with the current directory on sys.path), "
        "or a path to a .py file. Repeat for several.",
    ),
]
OptionalAppModules = Annotated[
    list[str] | None,
    typer.Option(
        "--app",
        metavar="MODULE",
        help="Module that declares your aggregates and events (imported with the current directory on sys.path), "
        "or a path to a .py file. Repeat for several.",
    ),
]
SnapshotsURL = Annotated[
    str | None,
    typer.Option(
        "--snapshots",
        metavar="URL",
        help="Snapshot store URL (default: the --store URL; required with a kafka:// store).",
    ),
]
AsJSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AggregateType = Annotated[
    str,
    typer.Argument(
        metavar="AGGREGATE_TYPE", help="The aggregate's stable type name (its `type_name`, e.g. ShoppingCart)."
    ),
]
StreamID = Annotated[str, typer.Argument(metavar="STREAM_ID", help="The aggregate's id (its stream id).")]
