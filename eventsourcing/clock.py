"""The application clock: timezone-aware UTC, read at the moment an aggregate emits.

It calls ``datetime.now`` at run time (never caches a reference to it), so freezegun and
similar tools control every timestamp the library records.
"""

from __future__ import annotations

import datetime as _dt
import time as _time

from eventsourcing.errors import InvalidTimestamp

UTC = _dt.UTC

# freezegun replaces time.monotonic (and every module attribute bound to it) while a test is frozen,
# but not clock_gettime: read the system's monotonic clock through it where the platform has it.
_CLOCK: int = getattr(_time, "CLOCK_MONOTONIC", -1)
if _CLOCK != -1:
    _clock_gettime = _time.clock_gettime
else:  # pragma: no cover - Windows: no clock_gettime; perf_counter is what monotonic reads there
    _CLOCK = 0

    def _clock_gettime(_clock: int, _perf: object = _time.perf_counter) -> float:  # bound here: not patched
        return _perf()  # type: ignore[operator,no-any-return]


def now() -> _dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return _dt.datetime.now(UTC)


def require_aware(value: object, what: str = "timestamp") -> _dt.datetime:
    """Return ``value`` in UTC, or raise `InvalidTimestamp` if it is naive or not a datetime."""
    if not isinstance(value, _dt.datetime):
        raise InvalidTimestamp(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidTimestamp(
            f"{what} {value.isoformat()} has no timezone; pass an aware datetime: tzinfo=datetime.UTC for UTC, "
            "or value.astimezone() if it is local time (see docs/time-travel.md#timestamps-without-a-timezone)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp(f"{what} {value.isoformat()} is outside the range of UTC datetimes") from None


def monotonic() -> float:
    """Seconds on a monotonic clock that time-faking tools (freezegun) leave alone.

    Internals that measure durations (connection ages, timeouts, commit intervals) use this, not
    ``time.monotonic``: a test that freezes or moves the application clock must not make a pool
    think its connections are minutes old, nor stop a timeout from expiring.
    """
    return _clock_gettime(_CLOCK)
