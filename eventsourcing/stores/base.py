"""The event store port: one protocol, one set of rules every backend keeps.

The rules that do not depend on storage (what an expected version admits, when a re-append is an
idempotent retry, argument checks) live here as plain functions so that backends cannot drift.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable
from uuid import UUID

from eventsourcing.clock import require_aware
from eventsourcing.errors import ConcurrencyError, DuplicateEventId, StreamTypeMismatch
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent


class ExpectedVersion(enum.Enum):
    ANY = "any"
    """Append whatever the stream's version (creating it if absent)."""
    EXISTS = "exists"
    """The stream must already have at least one event."""

    def __repr__(self) -> str:
        return self.name


ANY = ExpectedVersion.ANY
EXISTS = ExpectedVersion.EXISTS
NO_STREAM = 0
"""Expected version 0: the stream must not exist yet."""

Expected = int | ExpectedVersion


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append left the stream: its new version and the position of its last event."""

    stream_id: str
    version: int
    position: Any


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream's identity, its type (the aggregate type's name) and its current version."""

    stream_id: str
    stream_type: str
    version: int


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """What a backend guarantees beyond the protocol, so shared tests adapt instead of naming backends."""

    total_order: bool = True
    """``read_all`` returns one stable total order, consistent with each stream's versions and with the
    real-time order of appends that do not overlap (False: ordered per partition only)."""


@runtime_checkable
class EventStore(Protocol):
    """Append-only storage of event streams with a global log. Use as an async context manager."""

    capabilities: StoreCapabilities

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def open(self) -> None:
        """Connect and create the schema (idempotent)."""

    async def close(self) -> None: ...

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: Expected,
        *,
        stream_type: str,
    ) -> AppendResult:
        """Append all of ``events`` or none. Raises `ConcurrencyError` on a version mismatch and
        `DuplicateEventId` for a batch that partly reuses stored ids; an exact re-append of stored
        events returns the original result."""
        ...

    async def read(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> list[RecordedEvent[DomainEvent]]:
        """Events of one stream, by version; ``as_of`` keeps those with timestamp <= as_of."""
        ...

    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        """The next page of the global log after position ``after`` (None: from the start)."""
        ...

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None: ...

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        """The position of the last event `read_all` would return now (None for an empty log).

        A follower that has read up to ``head()`` and then finds nothing new with the same
        ``stream_types`` filter has seen every matching event appended before the call.
        """
        ...

    def covers(self, checkpoint: Any, position: Any) -> bool:
        """Whether a follower whose cursor is at ``checkpoint`` has read the event at ``position``.

        Position tokens are opaque: compare them only through the store that issued them. A None
        checkpoint covers nothing; a None position (the start of the log) is covered by anything.
        """
        ...

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 if it has no events)."""
        ...

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        """The stream's type and version, or None if it has no events."""
        ...

    async def list_streams(
        self, *, stream_type: str | None = None, after: str | None = None, limit: int = 1000
    ) -> list[StreamInfo]:
        """Streams ordered by id (of one type if given), the page after stream id ``after``."""
        ...


def check_append_args(stream_id: str, events: Sequence[NewEvent], expected: Expected, stream_type: str) -> None:
    if not isinstance(stream_id, str) or not stream_id:
        raise ValueError("stream_id must be a non-empty string")
    if not isinstance(stream_type, str) or not stream_type:
        raise ValueError("stream_type must be a non-empty string (the aggregate type's name)")
    if not isinstance(expected, ExpectedVersion) and (
        not isinstance(expected, int) or isinstance(expected, bool) or expected < 0
    ):
        raise ValueError(f"expected_version must be an int >= 0, ANY or EXISTS, not {expected!r}")
    ids = [e.event_id for e in events]
    if len(set(ids)) != len(ids):
        raise DuplicateEventId(f"stream {stream_id!r}: the batch contains the same event id twice")


def check_read_args(from_version: int, to_version: int | None, as_of: dt.datetime | None) -> dt.datetime | None:
    if from_version < 1:
        raise ValueError("from_version starts at 1")
    if to_version is not None and to_version < from_version:
        raise ValueError(f"to_version {to_version} is before from_version {from_version}")
    return None if as_of is None else require_aware(as_of, "as_of")


def utc_timestamp(value: dt.datetime) -> dt.datetime:
    """An event's timestamp in UTC; naive timestamps are refused rather than guessed."""
    if value.tzinfo is None:
        raise ValueError("event timestamps must be timezone-aware (Aggregate.emit uses UTC)")
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")


def admits(expected: Expected, actual: int) -> bool:
    """Whether a stream at version ``actual`` satisfies the expectation."""
    if expected is ANY:
        return True
    if expected is EXISTS:
        return actual > 0
    return expected == actual


@dataclass(frozen=True, slots=True)
class StoredRef:
    """Where an already stored event id lives (looked up when an append collides on ids)."""

    event_id: UUID
    stream_id: str
    version: int
    position: Any


def resolve_retry(stream_id: str, event_ids: Sequence[UUID], found: Sequence[StoredRef]) -> AppendResult | None:
    """Decide what an append whose ids (partly) exist already means.

    - none of the ids stored: None (the caller reports its own error, e.g. a version conflict);
    - all stored, in this stream, at consecutive versions in batch order: an exact retry, so the
      original result is returned and nothing is stored twice;
    - anything else: `DuplicateEventId`, and nothing of the batch is stored.
    """
    if not found:
        return None
    by_id = {ref.event_id: ref for ref in found}
    refs = [by_id.get(event_id) for event_id in event_ids]
    if all(refs):
        stored = [ref for ref in refs if ref is not None]
        same_stream = all(ref.stream_id == stream_id for ref in stored)
        consecutive = all(b.version == a.version + 1 for a, b in itertools.pairwise(stored))
        if same_stream and consecutive:
            return AppendResult(stream_id, stored[-1].version, stored[-1].position)
    elsewhere = sorted({ref.stream_id for ref in found if ref.stream_id != stream_id})
    where = f" (some are stored in stream(s) {', '.join(map(repr, elsewhere))})" if elsewhere else ""
    raise DuplicateEventId(
        f"stream {stream_id!r}: {len(found)} of {len(event_ids)} event ids in the batch are already stored"
        f"{where}; an exact retry must resend the same events, so nothing of this batch was stored"
    )


def check_stream_type(stream_id: str, given: str, stored: str | None) -> None:
    if stored is not None and stored != given:
        raise StreamTypeMismatch(stream_id, given, stored)


def conflict(stream_id: str, expected: Expected, actual: int) -> ConcurrencyError:
    return ConcurrencyError(stream_id, expected, actual)
