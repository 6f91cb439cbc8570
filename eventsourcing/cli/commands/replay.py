"""``eventsourcing replay``: an aggregate's state now, after event N, or as it was at a moment."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from contextlib import AsyncExitStack
from typing import Annotated, Any

import typer

from eventsourcing.cli.comparing import compare, point, print_comparison
from eventsourcing.cli.failures import UsageError
from eventsourcing.cli.loading import load_apps, resolve_aggregate
from eventsourcing.cli.options import AggregateType, AppModules, AsJSON, StoreURL, StreamID
from eventsourcing.cli.progress import replay_progress
from eventsourcing.cli.rendering import dumps, event_record, jsonable, say, state_table, stdout
from eventsourcing.cli.replaying import Replay, replay
from eventsourcing.cli.spool import EventSpool, Render
from eventsourcing.cli.stores import open_events, open_snapshots
from eventsourcing.cli.tables import EventRows, write_events_table
from eventsourcing.cli.timeparse import iso, parse_timestamp
from eventsourcing.events import DomainEvent, RecordedEvent

TABLE_EVENTS = 50


def command(
    aggregate_type: AggregateType,
    stream_id: StreamID,
    store: StoreURL,
    app: AppModules,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="T",
            help="Replay only the events with a timestamp at or before T: ISO 8601 with an offset "
            "(2024-05-01T12:30:00+02:00 or ...Z; a time without one is refused), 'now', '2h ago', "
            "'90 minutes ago', 'yesterday' (24 hours ago), 'yesterday 14:00Z', 'today 09:30+01:00'.",
        ),
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", metavar="N", min=1, help="Replay up to and including event N.")
    ] = None,
    as_json: AsJSON = False,
    snapshots: Annotated[
        str | None,
        typer.Option(
            "--snapshots",
            metavar="URL",
            help="Start from the newest valid snapshot in this snapshot store (e.g. the --store URL), "
            "then apply the later events.",
        ),
    ] = None,
    events: Annotated[
        str | None,
        typer.Option(
            "--events",
            metavar="N|all",
            help=f"How many of the events applied to list, the last ones (default: {TABLE_EVENTS} in the table, "
            "all with --json; 0 for none).",
        ),
    ] = None,
    diff: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--diff",
            metavar="A B",
            help="Print what changed in the state from A to B instead: each a version number (3) or a "
            "moment in --at's forms ('2024-05-01T10:00Z', '2h ago', now); fields added, removed and "
            "changed, nested values followed into.",
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show a progress bar on stderr (default: when stderr is a terminal and more than 10,000 "
            "events are replayed).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print an aggregate's state, now or at any past point.

    Rebuilds the aggregate from its events (from a snapshot with --snapshots) and prints its state
    and the events applied. Without --at or --version: the latest state. Exit code 3 if the
    aggregate type, the stream, the version, or any event at or before --at does not exist.
    """
    if at is not None and version is not None:
        raise UsageError("pass either --at or --version, not both")
    if diff is not None:
        if at is not None or version is not None or events is not None:
            raise UsageError("--diff A B names both states: pass it without --at, --version and --events")
        sides = (point(diff[0], "--diff"), point(diff[1], "--diff"))
        load_apps(app)
        aggregate_class = resolve_aggregate(aggregate_type)
        compared = asyncio.run(
            compare(aggregate_class, store, stream_id, sides, snapshots=snapshots, progress=progress)
        )
        print_comparison(compared, aggregate_type, as_json)
        return
    as_of = None if at is None else parse_timestamp(at, "--at")
    keep = _events_to_keep(events, as_json)
    load_apps(app)
    aggregate_class = resolve_aggregate(aggregate_type)
    rows = EventRows()
    render: Render = _json_line if as_json else rows
    spool = EventSpool(keep, render)
    try:
        result = asyncio.run(
            _replay(
                aggregate_class,
                store,
                stream_id,
                version=version,
                as_of=as_of,
                snapshots=snapshots,
                keep=spool,
                progress=progress,
            )
        )
        _print(result, aggregate_type, as_json, rows)
    finally:
        spool.close()


async def _replay(
    aggregate_class: Any,
    store: str,
    stream_id: str,
    *,
    version: int | None,
    as_of: dt.datetime | None,
    snapshots: str | None,
    keep: EventSpool,
    progress: bool | None,
) -> Replay:
    async with AsyncExitStack() as stack:
        events = await stack.enter_async_context(open_events(store))
        snapshot_store = None if snapshots is None else await stack.enter_async_context(open_snapshots(snapshots))
        return await replay(
            aggregate_class,
            events,
            stream_id,
            version=version,
            as_of=as_of,
            snapshots=snapshot_store,
            keep=keep,
            progress=replay_progress(progress, f"replaying {aggregate_class.type_name} {stream_id}"),
        )
    raise AssertionError("unreachable")  # pragma: no cover - AsyncExitStack does not swallow exceptions


def _events_to_keep(text: str | None, as_json: bool) -> int | None:
    if text is None:
        return None if as_json else TABLE_EVENTS
    if text == "all":
        return None
    if not text.isdigit():
        raise UsageError(f"--events: expected a number or 'all', got {text!r}")
    return int(text)


def _json_line(recorded: RecordedEvent[DomainEvent]) -> str:
    return dumps(event_record(recorded))


def _print(result: Replay, type_name: str, as_json: bool, rows: EventRows) -> None:
    aggregate = result.aggregate
    if as_json:
        head = {
            "type": type_name,
            "id": aggregate.id,
            "version": aggregate.version,
            "as_of": None if result.as_of is None else iso(result.as_of),
            "requested_version": result.requested_version,
            "stream_version": result.stream_version,
            "snapshot_version": result.snapshot_version,
            "last_event_at": None if aggregate.last_event_at is None else iso(aggregate.last_event_at),
            "state": aggregate.state(),
            "events_applied": result.applied,
        }
        _write_document(head, result.events)
        return
    console = stdout()
    when = f" as of {iso(result.as_of)}" if result.as_of is not None else ""
    say(f"{type_name} {aggregate.id!r}: version {aggregate.version} of {result.stream_version}{when}")
    console.print(state_table("state", aggregate.state()))
    source = f"after snapshot at version {result.snapshot_version}" if result.snapshot_version else "from the start"
    shown = len(result.events)
    if shown:
        sys.stdout.flush()
        title = f"events applied ({result.applied}, {source})"
        write_events_table(title, result.events.lines(), rows.widths, console.width)
    if shown < result.applied:
        say(f"{result.applied - shown} earlier events applied, not listed (--events all lists them)")


def _write_document(head: dict[str, Any], events: EventSpool) -> None:
    """``head`` with an ``events`` list, written as the events are read back: one event per line."""
    text = json.dumps(jsonable(head), ensure_ascii=False, indent=2)
    out = sys.stdout.write
    out(text[: text.rindex("}")].rstrip() + ',\n  "events": [')
    separator = "\n    "
    for line in events.lines():
        out(separator + line)
        separator = ",\n    "
    out("\n  ]\n}\n" if separator != "\n    " else "]\n}\n")
    sys.stdout.flush()
