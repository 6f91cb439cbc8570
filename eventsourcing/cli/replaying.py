"""Rebuild one aggregate from its events, page by page, with progress for long streams.

The same semantics as `Repository.get` (the newest valid snapshot at or before the target, then the
later events; `AggregateNotFound` when nothing is left), but reading bounded pages through
``store.read(from_version=..., to_version=...)`` so that a stream of millions of events neither
loads into memory at once nor replays without a sign of life, and handing the events it applied to
an `EventSpool` (which keeps what the CLI will list in bounded memory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from eventsourcing.aggregate import Aggregate
from eventsourcing.cli.spool import EventSpool
from eventsourcing.errors import AggregateNotFound
from eventsourcing.snapshotting import SnapshotStore, StateCodec
from eventsourcing.stores.base import EventStore

PAGE_SIZE = 5_000
LONG_REPLAY = 10_000
"""Replays of more events than this show a progress bar (when stderr is a terminal)."""

Advance = Callable[[int], None]
Progress = Callable[[int], AbstractContextManager[Advance]]
"""Given the number of events to replay (an upper bound with ``as_of``), a context yielding ``advance(n)``."""


@dataclass
class Replay:
    aggregate: Aggregate
    applied: int
    """How many events were applied (after the snapshot, if one was used)."""
    events: EventSpool
    """The last events applied (as many as were asked to be kept), rendered."""
    snapshot_version: int | None = None
    as_of: dt.datetime | None = None
    requested_version: int | None = None
    stream_version: int = 0


@contextmanager
def no_progress(total: int) -> Iterator[Advance]:
    yield lambda n: None


async def replay(
    aggregate_type: type[Aggregate],
    store: EventStore,
    stream_id: str,
    *,
    version: int | None = None,
    as_of: dt.datetime | None = None,
    snapshots: SnapshotStore | None = None,
    keep: EventSpool | None = None,
    progress: Progress = no_progress,
    page_size: int = PAGE_SIZE,
) -> Replay:
    """The aggregate after event ``version``, as of ``as_of``, or now; the events applied go to ``keep``."""
    name = aggregate_type.type_name
    aggregate: Aggregate | None = None
    snapshot_version = 0
    if snapshots is not None:
        codec = StateCodec.of(aggregate_type)
        snapshot = await snapshots.latest(stream_id, fingerprint=codec.fingerprint, max_version=version, as_of=as_of)
        if snapshot is not None:
            aggregate, snapshot_version = codec.restore(snapshot), snapshot.version
    info = await store.stream_info(stream_id)
    if info is not None and info.stream_type != name:
        raise AggregateNotFound(f"stream {stream_id!r} holds a {info.stream_type} aggregate, not a {name}")
    current = 0 if info is None else info.version
    target = current if version is None else min(version, current)
    historic = version is not None or as_of is not None
    kept = keep if keep is not None else EventSpool(0, str)
    applied = 0
    next_version = snapshot_version + 1
    with progress(max(0, target - snapshot_version)) as advance:
        while next_version <= target:
            last = min(next_version + page_size - 1, target)
            page = await store.read(stream_id, from_version=next_version, to_version=last, as_of=as_of)
            if page:
                aggregate = aggregate_type._rebuild(stream_id, page, start=aggregate, read_only=historic)
                applied += len(page)
                kept.extend(page)
                advance(len(page))
            if len(page) < last - next_version + 1:
                break  # as_of cut the stream here (timestamps never decrease within a stream)
            next_version = last + 1
    reached = aggregate.version if aggregate is not None else 0
    if aggregate is None or reached == 0:
        when = f" at or before {as_of.isoformat()}" if as_of is not None else ""
        raise AggregateNotFound(f"{name} {stream_id!r} has no events{when}")
    if version is not None and reached < version:
        raise AggregateNotFound(f"{name} {stream_id!r} has {current} events; version {version} does not exist")
    if historic:
        aggregate._read_only = True
    return Replay(
        aggregate=aggregate,
        applied=applied,
        events=kept,
        snapshot_version=snapshot_version or None,
        as_of=as_of,
        requested_version=version,
        stream_version=current,
    )
