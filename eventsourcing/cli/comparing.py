"""``replay --diff A B``: an aggregate's state at two points (versions or moments) and what changed between.

Each side is replayed as ``replay --version`` or ``replay --at`` would (from a snapshot with
``--snapshots``), so the same errors apply: a version beyond the stream or a moment before the
first event is "not found" (exit 3).
"""

from __future__ import annotations

import datetime as dt
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from eventsourcing.aggregate import Aggregate
from eventsourcing.cli.diffing import Change, diff
from eventsourcing.cli.failures import UsageError
from eventsourcing.cli.progress import replay_progress
from eventsourcing.cli.rendering import jsonable, say, write_json
from eventsourcing.cli.replaying import Replay, replay
from eventsourcing.cli.stores import open_events, open_snapshots
from eventsourcing.cli.timeparse import iso, parse_timestamp

Point = int | dt.datetime
"""A version number, or a moment (aware, UTC)."""


@dataclass
class Comparison:
    before: Replay
    after: Replay
    changes: list[Change]


def point(text: str, option: str) -> Point:
    """A version (``3``; digits only) or a moment in any form ``--at`` takes."""
    value = text.strip()
    if value.isdigit():
        version = int(value)
        if version < 1:
            raise UsageError(f"{option}: versions start at 1, got {text!r}")
        return version
    return parse_timestamp(text, option)


async def compare(
    aggregate_class: type[Aggregate],
    store: str,
    stream_id: str,
    sides: tuple[Point, Point],
    *,
    snapshots: str | None,
    progress: bool | None,
) -> Comparison:
    async with AsyncExitStack() as stack:
        events = await stack.enter_async_context(open_events(store))
        snapshot_store = None if snapshots is None else await stack.enter_async_context(open_snapshots(snapshots))
        replays = []
        for side in sides:
            replays.append(
                await replay(
                    aggregate_class,
                    events,
                    stream_id,
                    version=side if isinstance(side, int) else None,
                    as_of=side if isinstance(side, dt.datetime) else None,
                    snapshots=snapshot_store,
                    progress=replay_progress(progress, f"replaying {aggregate_class.type_name} {stream_id}"),
                )
            )
        before, after = replays
        changes = diff(jsonable(before.aggregate.state()), jsonable(after.aggregate.state()))
        return Comparison(before, after, changes)
    raise AssertionError("unreachable")  # pragma: no cover - AsyncExitStack does not swallow exceptions


def print_comparison(compared: Comparison, type_name: str, as_json: bool) -> None:
    before, after = compared.before, compared.after
    if as_json:
        write_json(
            {
                "type": type_name,
                "id": after.aggregate.id,
                "stream_version": after.stream_version,
                "from": _side(before),
                "to": _side(after),
                "changes": [change.record() for change in compared.changes],
            },
            indent=2,
        )
        return
    count = len(compared.changes)
    say(
        f"{type_name} {after.aggregate.id!r}: {_label(before)} -> {_label(after)} "
        f"(of {after.stream_version}): {count} change{'' if count == 1 else 's'}"
    )
    for change in compared.changes:
        say("  " + change.line())


def _side(result: Replay) -> dict[str, Any]:
    aggregate = result.aggregate
    return {
        "version": aggregate.version,
        "requested_version": result.requested_version,
        "as_of": None if result.as_of is None else iso(result.as_of),
        "last_event_at": None if aggregate.last_event_at is None else iso(aggregate.last_event_at),
    }


def _label(result: Replay) -> str:
    label = f"version {result.aggregate.version}"
    return label if result.as_of is None else f"{label} (as of {iso(result.as_of)})"
