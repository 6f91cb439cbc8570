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
from eventsourcing.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InvalidArgument,
    InvalidTimestamp,
    StreamTypeMismatch,
)
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
    atomic_streams: bool = True
    """``append_streams`` stores several streams' appends atomically (False: one stream only, more are
    refused with `UnsupportedOperation`)."""


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


MAX_VERSION = 2**31 - 1
"""The highest version a stream can reach (the narrowest backend column, PostgreSQL's ``integer``);
larger ``to_version``/``from_version`` arguments are read as this."""
MAX_POSITION = 2**63 - 1
"""The highest integer position token (SQL ``bigint``)."""
MAX_LIMIT = 2**31 - 1
"""Larger page sizes are read as this."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_text(value: object, what: str) -> str:
    """A stream id or type: a non-empty str every backend can store (no NUL, no lone surrogate)."""
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{what} must be a non-empty string, not {value!r}"[:300])
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidArgument(f"{what} {value!r} is not valid Unicode text (a lone surrogate)"[:300]) from None
    if "\x00" in value:
        raise InvalidArgument(f"{what} {value!r} contains a NUL character, which PostgreSQL cannot store"[:300])
    return value


def check_append_args(stream_id: str, events: Sequence[NewEvent], expected: Expected, stream_type: str) -> None:
    """Refuse, before anything is stored, what no backend could store or read back as given."""
    check_text(stream_id, "stream_id")
    check_text(stream_type, "stream_type (the aggregate type's name)")
    if not isinstance(expected, ExpectedVersion) and (not _is_int(expected) or not 0 <= expected <= MAX_VERSION):
        raise InvalidArgument(
            f"expected_version must be an int from 0 to {MAX_VERSION}, ANY or EXISTS, not {expected!r}"[:300]
        )
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise InvalidArgument(f"events must be a sequence of NewEvent, not {type(events).__name__}")
    if len(events) <= 4:
        _name_bad_event(events)
        ids = [e.event_id for e in events]
    else:  # big batches in C-speed passes: one type for the ids, a few for the events
        try:
            ids = [e.event_id for e in events]
            kinds = set(map(type, [e.event for e in events]))
        except AttributeError:
            ids, kinds = [], {object}
        if set(map(type, ids)) - {UUID} or not all(issubclass(kind, DomainEvent) for kind in kinds):
            _name_bad_event(events)
    if len(ids) > 1 and len(set(ids)) != len(ids):
        raise DuplicateEventId(f"stream {stream_id!r}: the batch contains the same event id twice")


def _name_bad_event(events: Sequence[NewEvent]) -> None:
    for i, e in enumerate(events):
        event_id = getattr(e, "event_id", None)
        if not isinstance(event_id, UUID):
            raise InvalidArgument(f"events[{i}].event_id must be a UUID, not {event_id!r}"[:300])
        event = getattr(e, "event", None)
        if not isinstance(event, DomainEvent):
            raise InvalidArgument(f"events[{i}].event must be a DomainEvent, not {type(event).__name__}")


def check_version(value: object, what: str) -> int:
    if not _is_int(value) or value < 1:  # type: ignore[operator]
        raise InvalidArgument(f"{what} must be an int >= 1 (versions start at 1), not {value!r}"[:300])
    return min(value, MAX_VERSION)  # type: ignore[call-overload,no-any-return]


def check_read_args(
    from_version: int, to_version: int | None, as_of: dt.datetime | None
) -> tuple[int, int | None, dt.datetime | None]:
    """The read's arguments, checked: versions as ints within `MAX_VERSION`, ``as_of`` in UTC."""
    first = check_version(from_version, "from_version")
    last = None if to_version is None else check_version(to_version, "to_version")
    if to_version is not None and to_version < from_version:  # compared unclamped
        raise InvalidArgument(f"to_version {to_version} is before from_version {from_version}")
    return first, last, None if as_of is None else require_aware(as_of, "as_of")


def check_limit(limit: object) -> int:
    if not _is_int(limit) or limit < 1:  # type: ignore[operator]
        raise InvalidArgument(f"limit must be an int of at least 1, not {limit!r}"[:300])
    return min(limit, MAX_LIMIT)  # type: ignore[call-overload,no-any-return]


def check_int_position(value: object, what: str = "after") -> int:
    """An integer position token (memory, SQLite, strict-order PostgreSQL); None is the start (0)."""
    if value is None:
        return 0
    if not _is_int(value) or not 0 <= value <= MAX_POSITION:  # type: ignore[operator]
        raise InvalidArgument(
            f"{what} must be a position this store returned (an int from 0 to {MAX_POSITION}) or None, not {value!r}"[
                :300
            ]
        )
    return value  # type: ignore[return-value]


def check_stream_types(stream_types: object) -> list[str] | None:
    """``read_all``/``head``'s filter: None, or a sequence of type names (a bare str is refused, not
    read as its characters)."""
    if stream_types is None:
        return None
    if isinstance(stream_types, str | bytes) or not isinstance(stream_types, Sequence | set | frozenset):
        raise InvalidArgument(f"stream_types must be a list of type names or None, not {stream_types!r}"[:300])
    return [check_text(t, "stream_types[]") for t in stream_types]


def check_list_args(stream_type: object, after: object, limit: object) -> int:
    if stream_type is not None:
        check_text(stream_type, "stream_type")
    if after is not None and not isinstance(after, str):
        raise InvalidArgument(f"after must be a stream id (str) or None, not {after!r}"[:300])
    if isinstance(after, str) and after:
        check_text(after, "after")
    return check_limit(limit)


def check_event_id(event_id: object) -> UUID:
    if not isinstance(event_id, UUID):
        raise InvalidArgument(f"event_id must be a UUID, not {event_id!r}"[:300])
    return event_id


_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


def utc_timestamp(value: dt.datetime) -> dt.datetime:
    """An event's timestamp in UTC; naive, non-datetime and unrepresentable ones are refused.

    The calendar's first and last instants (0001-01-01 00:00 and 9999-12-31 23:59:59.999999 UTC)
    are refused too: PostgreSQL's driver stores them as -infinity and infinity, which read back as
    no datetime at all, and every store keeps the same rule."""
    try:
        if value.tzinfo is not dt.UTC:
            if value.tzinfo is None or value.utcoffset() is None:
                raise InvalidTimestamp(
                    f"event timestamp {value.isoformat()} has no timezone: timestamps must be timezone-aware "
                    "(Aggregate.emit uses UTC)"
                )
            value = value.astimezone(dt.UTC)
        if not _EARLIEST < value < _LATEST:
            raise InvalidTimestamp(
                f"event timestamp {value.isoformat()} is the first or last instant of the calendar, "
                "which PostgreSQL stores as -infinity/infinity: use a time after 0001-01-01 00:00 and "
                "before 9999-12-31 23:59:59.999999 UTC"
            )
        return value
    except AttributeError:
        raise InvalidTimestamp(f"an event timestamp must be a datetime, not {type(value).__name__}") from None
    except OverflowError:
        raise InvalidTimestamp(f"event timestamp {value.isoformat()} is outside the range of UTC datetimes") from None
    except TypeError:  # a datetime subclass or tzinfo that does not compare
        raise InvalidTimestamp(f"event timestamp {value!r} cannot be compared as an instant") from None


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
