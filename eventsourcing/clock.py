"""The application clock: timezone-aware UTC, read at the moment an aggregate emits.

It calls ``datetime.now`` at run time (never caches a reference to it), so freezegun and
similar tools control every timestamp the library records.
"""

from __future__ import annotations

import datetime as _dt

from eventsourcing.errors import InvalidTimestamp

UTC = _dt.UTC


def now() -> _dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return _dt.datetime.now(UTC)


def require_aware(value: object, what: str = "timestamp") -> _dt.datetime:
    """Return ``value`` in UTC, or raise `InvalidTimestamp` if it is naive or not a datetime."""
    if not isinstance(value, _dt.datetime):
        raise InvalidTimestamp(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidTimestamp(
            f"{what} {value.isoformat()} has no timezone; pass an aware datetime (e.g. with tzinfo=UTC)"
        )
    return value.astimezone(UTC)
