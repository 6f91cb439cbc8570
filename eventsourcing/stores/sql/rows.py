"""Row ↔ event conversion shared by the SQL backends (one column order for every dialect)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from eventsourcing.events import DomainEvent, RecordedEvent
from eventsourcing.serialization import EventMapper

# The column order every SELECT of events returns.
EVENT_COLUMNS = "position, stream_id, version, event_id, event_type, schema_version, timestamp, metadata, payload"


def decode_row(mapper: EventMapper, row: tuple[Any, ...], *, timestamp: Any = None) -> RecordedEvent[DomainEvent]:
    position, stream_id, version, event_id, event_type, schema_version, ts, metadata, payload = row
    return RecordedEvent(
        mapper.decode(event_type, schema_version, payload, stream_id=stream_id, version=version),
        stream_id,
        version,
        position,
        ts if timestamp is None else timestamp,
        event_id if isinstance(event_id, UUID) else UUID(bytes=event_id),
        event_type,
        schema_version,
        mapper.decode_metadata(metadata),
    )


def iso_utc(value: dt.datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so text order is time order."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
