"""`MemoryEventStore`: the whole protocol in a process's memory, for tests and prototypes.

Payloads are encoded on append and decoded on read, exactly as a database store does, so the
same codec errors, upcasting and immutability apply.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self
from uuid import UUID

from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import EventRegistry
from eventsourcing.serialization import Codec, EventMapper
from eventsourcing.stores.atomic import Refusal, StreamAppend, check_stream_appends, settle_refusal
from eventsourcing.stores.base import (
    AppendResult,
    Expected,
    StoreCapabilities,
    StoredRef,
    StreamInfo,
    admits,
    check_append_args,
    check_event_id,
    check_int_position,
    check_limit,
    check_list_args,
    check_read_args,
    check_stream_type,
    check_stream_types,
    check_text,
    conflict,
    resolve_retry,
    utc_timestamp,
)
from eventsourcing.stores.integrity import verify_read
from eventsourcing.stores.notify import LocalNotices
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
        self._notices = LocalNotices()
        self.subscribe = self._notices.subscribe
        """Call ``callback()`` after this store's appends while the returned context is entered."""

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
        return self._append(stream_id, events, expected_version, stream_type)

    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append to several streams at once: all of them or none (see `AppendsAtomically`)."""
        parts = check_stream_appends(appends)
        await asyncio.sleep(0)
        for index, part in enumerate(parts):  # no await from here on: nobody appends in between
            stream = self._streams.get(part.stream_id, [])
            actual = stream[-1].version if stream else 0
            stored_type = stream[0].stream_type if stream else None
            reused = any(e.event_id in self._by_id for e in part.events)
            if reused or not admits(part.expected_version, actual) or stored_type not in (None, part.stream_type):
                return settle_refusal(parts, index, [self._refusal(p) for p in parts])
        # Encode every part before storing any (encoding is what can still fail).
        position = self._log[-1].position + 1 if self._log else 1
        batches: list[list[_Row]] = []
        for part in parts:
            stream = self._streams.get(part.stream_id, [])
            batches.append(
                self._rows(part.stream_id, part.events, part.stream_type, stream[-1].version if stream else 0, position)
            )
            position += len(part.events)
        results = []
        for part, rows in zip(parts, batches, strict=True):
            if rows:
                results.append(self._store(rows))
            else:
                stream = self._streams.get(part.stream_id, [])
                results.append(
                    AppendResult(
                        part.stream_id, stream[-1].version if stream else 0, stream[-1].position if stream else None
                    )
                )
        return results

    def _refusal(self, part: StreamAppend) -> Refusal:
        stream = self._streams.get(part.stream_id, [])
        found = [self._ref(row) for e in part.events if (row := self._by_id.get(e.event_id)) is not None]
        if not stream:
            return Refusal(0, None, None, found)
        return Refusal(stream[-1].version, stream[0].stream_type, stream[-1].position, found)

    def _append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: Expected, stream_type: str
    ) -> AppendResult:
        stream = self._streams.get(stream_id, [])
        actual = stream[-1].version if stream else 0
        found = [self._ref(row) for e in events if (row := self._by_id.get(e.event_id)) is not None]
        retry = resolve_retry(stream_id, [e.event_id for e in events], found)
        if retry is not None:
            return retry
        check_stream_type(stream_id, stream_type, stream[0].stream_type if stream else None)
        if not admits(expected_version, actual):
            raise conflict(stream_id, expected_version, actual)
        if not events:
            return AppendResult(stream_id, actual, stream[-1].position if stream else None)
        first_position = self._log[-1].position + 1 if self._log else 1
        rows = self._rows(stream_id, events, stream_type, actual, first_position)
        return self._store(rows)  # everything that can fail (encoding) is done: store the whole batch

    def _rows(
        self, stream_id: str, events: Sequence[NewEvent], stream_type: str, actual: int, first_position: int
    ) -> list[_Row]:
        encode, encode_metadata = self._mapper.encode, self._mapper.encode_metadata
        return [
            _Row(
                position=first_position + i,
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

    def _store(self, rows: list[_Row]) -> AppendResult:
        self._log.extend(rows)
        self._streams.setdefault(rows[0].stream_id, []).extend(rows)
        self._by_id.update((row.event_id, row) for row in rows)
        self._notices.appended()
        return AppendResult(rows[0].stream_id, rows[-1].version, rows[-1].position)

    async def read(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> list[RecordedEvent[DomainEvent]]:
        rows = await self._read_rows(stream_id, from_version, to_version, as_of)
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
        rows = await self._read_rows(stream_id, from_version, to_version, as_of)
        if not rows:
            return StreamEvents([], 0, None)
        decode = self._mapper.decode
        events = [
            decode(row.event_type, row.schema_version, row.payload, stream_id=stream_id, version=row.version)
            for row in rows
        ]
        created_on = rows[0].timestamp if rows[0].version == 1 else None
        return StreamEvents(events, rows[-1].version, rows[-1].timestamp, rows[0].stream_type, created_on)

    async def _read_rows(
        self, stream_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[_Row]:
        check_text(stream_id, "stream_id")
        first, last, as_of = check_read_args(from_version, to_version, as_of)
        await asyncio.sleep(0)
        rows = self._between(stream_id, first, last)
        if as_of is not None:
            rows = [row for row in rows if row.timestamp <= as_of]
        await verify_read(
            stream_id,
            first,
            last,
            as_of,
            len(rows),
            rows[-1].version if rows else 0,
            head=functools.partial(self.stream_version, stream_id),
            versions=functools.partial(self._versions, stream_id),
        )
        return rows

    def _between(self, stream_id: str, first: int, last: int | None) -> list[_Row]:
        """The stored rows with versions from ``first`` to ``last`` (by version, not by list index)."""
        stream = self._streams.get(stream_id, [])
        start = bisect.bisect_left(stream, first, key=_version)
        stop = len(stream) if last is None else bisect.bisect_right(stream, last, key=_version)
        return stream[start:stop]

    async def _versions(self, stream_id: str, first: int, last: int) -> list[int]:
        return [row.version for row in self._between(stream_id, first, last)]

    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        limit = check_limit(limit)
        start = bisect.bisect_right(self._log, check_int_position(after), key=_position)
        wanted = check_stream_types(stream_types)
        await asyncio.sleep(0)
        if wanted is None:
            rows = self._log[start : start + limit]
        else:
            types = set(wanted)
            rows = []
            for row in itertools.islice(self._log, start, None):
                if row.stream_type in types:
                    rows.append(row)
                    if len(rows) == limit:
                        break
        return self._decode(rows)

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        wanted = check_stream_types(stream_types)
        await asyncio.sleep(0)
        if wanted is None:
            return self._log[-1].position if self._log else None
        types = set(wanted)
        return next((row.position for row in reversed(self._log) if row.stream_type in types), None)

    def covers(self, checkpoint: Any, position: Any) -> bool:
        if position is None:
            return True
        wanted = check_int_position(position, "position")
        return checkpoint is not None and check_int_position(checkpoint, "checkpoint") >= wanted

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        check_event_id(event_id)
        await asyncio.sleep(0)
        row = self._by_id.get(event_id)
        return None if row is None else self._recorded(row)

    async def stream_version(self, stream_id: str) -> int:
        check_text(stream_id, "stream_id")
        stream = self._streams.get(stream_id)
        return stream[-1].version if stream else 0

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        check_text(stream_id, "stream_id")
        stream = self._streams.get(stream_id)
        return StreamInfo(stream_id, stream[0].stream_type, stream[-1].version) if stream else None

    async def list_streams(
        self, *, stream_type: str | None = None, after: str | None = None, limit: int = 1000
    ) -> list[StreamInfo]:
        limit = check_list_args(stream_type, after, limit)
        await asyncio.sleep(0)
        found = (
            StreamInfo(sid, rows[0].stream_type, rows[-1].version)
            for sid, rows in sorted(self._streams.items())
            if rows and (after is None or sid > after) and (stream_type is None or rows[0].stream_type == stream_type)
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


def _version(row: _Row) -> int:
    return row.version


def _position(row: _Row) -> int:
    return row.position
