"""``eventsourcing events``: the global event log (or one stream), optionally followed as it grows."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any

import typer

from eventsourcing.cli.failures import NotFound, UsageError
from eventsourcing.cli.loading import load_apps
from eventsourcing.cli.options import OptionalAppModules, StoreURL
from eventsourcing.cli.rendering import dumps, event_line, event_record
from eventsourcing.cli.stores import open_events
from eventsourcing.cli.timeparse import parse_timestamp
from eventsourcing.events import DomainEvent, RecordedEvent
from eventsourcing.stores.base import EventStore

PAGE = 500

Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="T",
        help="Only events with a timestamp at or after T: ISO 8601 with an offset (2024-05-01T10:30Z) "
        "or relative ('2h ago', 'yesterday 14:00Z').",
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="T",
        help="Only events with a timestamp at or before T (same forms as --since).",
    ),
]


def command(
    store: StoreURL,
    app: OptionalAppModules = None,
    stream: Annotated[str | None, typer.Option("--stream", metavar="ID", help="Only this stream's events.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", metavar="AGGREGATE_TYPE", help="Only streams of this aggregate type.")
    ] = None,
    since: Since = None,
    until: Until = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep polling for new events until interrupted (Ctrl-C exits 0).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per line.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", metavar="N", min=1, help="Stop after printing N events.")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", min=0.01, help="How often --follow polls.")
    ] = 0.5,
) -> None:
    """List events from the global log, or from one stream.

    Events come in the order of the global log (with --stream: by version). Each line shows the
    position, timestamp, stream and version, type and payload. Events of types that no --app module
    declares are listed too, with their payload marked as not decoded.
    """
    if stream is not None and type_ is not None:
        raise UsageError("pass either --stream or --type, not both")
    if follow and until is not None:
        raise UsageError("--follow never ends, so it cannot be combined with --until")
    since_at = None if since is None else parse_timestamp(since, "--since")
    until_at = None if until is None else parse_timestamp(until, "--until")
    load_apps(app or [])
    try:
        asyncio.run(_list(store, stream, type_, since_at, until_at, follow, as_json, limit, interval))
    except KeyboardInterrupt:
        if not follow:
            raise
        # Ctrl-C is how --follow is meant to end.


async def _list(
    url: str,
    stream: str | None,
    type_: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    follow: bool,
    as_json: bool,
    limit: int | None,
    interval: float,
) -> None:
    printed = 0
    async with open_events(url, lenient=True) as store:
        pages = _stream_pages(store, stream, until) if stream is not None else _log_pages(store, type_)
        async for page in _followed(pages, follow, interval):
            if not page and stream is not None and printed == 0 and await store.stream_version(stream) == 0:
                raise NotFound(f"stream {stream!r} has no events")
            for recorded in page:
                if (since is not None and recorded.timestamp < since) or (
                    until is not None and recorded.timestamp > until
                ):
                    continue
                _print(recorded, as_json)
                printed += 1
                if limit is not None and printed >= limit:
                    break
            sys.stdout.flush()
            if limit is not None and printed >= limit:
                return


Pages = AsyncIterator[list[RecordedEvent[DomainEvent]]]


async def _followed(pages: Pages, follow: bool, interval: float) -> Pages:
    """Pages until the end of the log; with ``follow``, wait at the end for more, forever."""
    async for page in pages:
        if page:
            yield page
        elif not follow:
            yield page  # one empty page, so the caller can tell an empty stream from the end
            return
        else:
            await asyncio.sleep(interval)


async def _log_pages(store: EventStore, type_: str | None) -> Pages:
    after: Any = None
    types = None if type_ is None else [type_]
    while True:
        page = await store.read_all(after=after, limit=PAGE, stream_types=types)
        if page:
            after = page[-1].position
        yield page


async def _stream_pages(store: EventStore, stream_id: str, until: dt.datetime | None) -> Pages:
    last = 0
    while True:
        page = await store.read(stream_id, from_version=last + 1, to_version=last + PAGE, as_of=until)
        if page:
            last = page[-1].version
        yield page


def _print(recorded: RecordedEvent[DomainEvent], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(dumps(event_record(recorded)) + "\n")
    else:
        sys.stdout.write(event_line(recorded) + "\n")
