"""`MemoryEventStore`: the whole protocol in a process's memory, for tests and prototypes.

Payloads are encoded on append and decoded on read, exactly as a database store does, so the
same codec errors, upcasting and immutability apply.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self
from uuid import UUID

from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import EventRegistry
from eventsourcing.serialization import Codec, EventMapper
from eventsourcing.stores.base import (
    AppendResult,
    Expected,
    StoreCapabilities,
    StoredRef,
    StreamInfo,
    admits,
    check_append_args,
    check_limit,
    check_read_args,
    check_stream_type,
    conflict,
    resolve_retry,
    utc_timestamp,
)
from eventsourcing.stores.replay import StreamEvents


@dataclass(frozen=True, slots=True)
class _Row:
    position: int
    stream_id: str
    stream_type: str
    version: int
    event_id: UUID
    event_type: str
    schema_version: int
    timestamp: dt.datetime
    metadata: bytes | None
    payload: bytes


class MemoryEventStore:
    capabilities = StoreCapabilities(total_order=True)

    def __init__(self, *, codec: Codec | None = None, registry: EventRegistry | None = None) -> None:
        self._mapper = EventMapper(codec, registry)
        self._log: list[_Row] = []
        self._streams: dict[str, list[_Row]] = {}
        self._by_id: dict[UUID, _Row] = {}

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: Expected, *, stream_type: str
    ) -> AppendResult:
        check_append_args(stream_id, events, expected_version, stream_type)
        await asyncio.sleep(0)  # a suspension point, like any real store's I/O
        stream = self._streams.get(stream_id, [])
        actual = len(stream)
        found = [self._ref(row) for e in events if (row := self._by_id.get(e.event_id)) is not None]
        retry = resolve_retry(stream_id, [e.event_id for e in events], found)
        if retry is not None:
            return retry
        check_stream_type(stream_id, stream_type, stream[0].stream_type if stream else None)
        if not admits(expected_version, actual):
            raise conflict(stream_id, expected_version, actual)
        if not events:
            return AppendResult(stream_id, actual, stream[-1].position if stream else None)
        encode, encode_metadata = self._mapper.encode, self._mapper.encode_metadata
        rows = [
            _Row(
                position=len(self._log) + i + 1,
                stream_id=stream_id,
                stream_type=stream_type,
                version=actual + i + 1,
                event_id=e.event_id,
                event_type=e.event.event_type,
                schema_version=e.event.schema_version,
                timestamp=utc_timestamp(e.timestamp),
                metadata=encode_metadata(e.metadata),
                payload=encode(e.event),
            )
            for i, e in enumerate(events)
        ]
        # Everything that can fail (encoding) is done; now store the whole batch.
        self._log.extend(rows)
        self._streams.setdefault(stream_id, []).extend(rows)
        self._by_id.update((row.event_id, row) for row in rows)
        return AppendResult(stream_id, rows[-1].version, rows[-1].position)

    async def read(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> list[RecordedEvent[DomainEvent]]:
        as_of = check_read_args(from_version, to_version, as_of)
        await asyncio.sleep(0)
        rows = self._streams.get(stream_id, [])[from_version - 1 : to_version]
        if as_of is not None:
            rows = [row for row in rows if row.timestamp <= as_of]
        return self._decode(rows)

    async def read_events(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> StreamEvents:
        """What `read` returns, as `StreamEvents` (for rebuilding aggregates: no records)."""
        as_of = check_read_args(from_version, to_version, as_of)
        await asyncio.sleep(0)
        rows = self._streams.get(stream_id, [])[from_version - 1 : to_version]
        if as_of is not None:
            rows = [row for row in rows if row.timestamp <= as_of]
        if not rows:
            return StreamEvents([], 0, None)
        decode = self._mapper.decode
        events = [
            decode(row.event_type, row.schema_version, row.payload, stream_id=stream_id, version=row.version)
            for row in rows
        ]
        return StreamEvents(events, rows[-1].version, rows[-1].timestamp)

    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        check_limit(limit)
        await asyncio.sleep(0)
        start = 0 if after is None else int(after)
        if stream_types is None:
            rows = self._log[start : start + limit]
        else:
            wanted = set(stream_types)
            rows = []
            for row in self._log[start:]:
                if row.stream_type in wanted:
                    rows.append(row)
                    if len(rows) == limit:
                        break
        return self._decode(rows)

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        await asyncio.sleep(0)
        if stream_types is None:
            return len(self._log) or None
        wanted = set(stream_types)
        return next((row.position for row in reversed(self._log) if row.stream_type in wanted), None)

    def covers(self, checkpoint: Any, position: Any) -> bool:
        return position is None or (checkpoint is not None and int(checkpoint) >= int(position))

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        await asyncio.sleep(0)
        row = self._by_id.get(event_id)
        return None if row is None else self._recorded(row)

    async def stream_version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, ()))

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        stream = self._streams.get(stream_id)
        return StreamInfo(stream_id, stream[0].stream_type, len(stream)) if stream else None

    async def list_streams(
        self, *, stream_type: str | None = None, after: str | None = None, limit: int = 1000
    ) -> list[StreamInfo]:
        check_limit(limit)
        await asyncio.sleep(0)
        found = (
            StreamInfo(sid, rows[0].stream_type, len(rows))
            for sid, rows in sorted(self._streams.items())
            if (after is None or sid > after) and (stream_type is None or rows[0].stream_type == stream_type)
        )
        return list(itertools.islice(found, limit))

    def _decode(self, rows: Iterable[_Row]) -> list[RecordedEvent[DomainEvent]]:
        out: list[RecordedEvent[DomainEvent]] = []
        for row in rows:
            out.append(self._recorded(row, out))
        return out

    def _recorded(self, row: _Row, preceding: list[Any] | None = None) -> RecordedEvent[DomainEvent]:
        event = self._mapper.decode_stored(
            row.event_type,
            row.schema_version,
            row.payload,
            stream_id=row.stream_id,
            version=row.version,
            position=row.position,
            event_id=row.event_id,
            preceding=[] if preceding is None else preceding,
        )
        return RecordedEvent(
            event,
            row.stream_id,
            row.version,
            row.position,
            row.timestamp,
            row.event_id,
            row.event_type,
            row.schema_version,
            self._mapper.decode_metadata(row.metadata),
        )

    @staticmethod
    def _ref(row: _Row) -> StoredRef:
        return StoredRef(row.event_id, row.stream_id, row.version, row.position)
