"""Reading a stream only to rebuild an aggregate: the decoded events and where they end, no records.

Rebuilding needs each event and, of the last one only, its version and timestamp. A store that can
read just that (`ReadsStreamEvents`) saves a `RecordedEvent` per event and, on SQL, the columns
nobody looks at during a replay (position, stream id, event id, metadata): `Repository.get` uses it
when the store offers it and `EventStore.read` otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from eventsourcing.events import DomainEvent, RecordedEvent


class StreamEvents(NamedTuple):
    """Events of one stream, in version order, and the version and timestamp of the last one."""

    events: list[DomainEvent]
    version: int
    """The version of the last event (0 when there are no events)."""
    timestamp: dt.datetime | None
    """The timestamp of the last event (None when there are no events)."""
    stream_type: str | None = None
    """The stream's type, when the store read it with the events (None: not known; the repository
    then asks `EventStore.stream_info`)."""
    created_on: dt.datetime | None = None
    """The timestamp of the stream's first event when these events start with it (else None)."""


@runtime_checkable
class ReadsStreamEvents(Protocol):
    """An optional event-store capability: `EventStore.read`'s selection, as `StreamEvents`."""

    async def read_events(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> StreamEvents:
        """The events ``read`` would return with the same arguments."""
        ...


def stream_events(records: Sequence[RecordedEvent[DomainEvent]]) -> StreamEvents:
    """`StreamEvents` from records already read (for stores without a narrower read)."""
    if not records:
        return StreamEvents([], 0, None)
    first, last = records[0], records[-1]
    created_on = first.timestamp if first.version == 1 else None
    return StreamEvents([record.event for record in records], last.version, last.timestamp, None, created_on)
