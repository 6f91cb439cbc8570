"""Moments written as text: one rule for every surface (CLI, HTTP API) that reads a timestamp.

The rule is the Python API's: a time without a timezone is refused, never guessed. A naive
``datetime`` in Python is usually local time and ``2024-05-01T10:30`` typed by a person usually
means their wall clock, so reading either as UTC would silently give a wrong answer; one line saying
how to write the time (``...Z`` or ``...+01:00``) costs less. See docs/time-travel.md, "Timestamps
without a timezone".

`parse_instant` reads ISO 8601 only (the HTTP API); `parse_moment` also reads the relative forms
people type at a shell (``2h ago``, ``yesterday 14:00Z``), against the application clock
(`eventsourcing.clock.now`, so freezegun drives them in tests).
"""

from __future__ import annotations

import datetime as dt
import re

from eventsourcing import clock
from eventsourcing.errors import InvalidTimestamp

EXAMPLE = "2024-05-01T12:30:00+02:00"
RULE = "docs/time-travel.md#timestamps-without-a-timezone"
FORMS = (
    "ISO 8601 with an offset (2024-05-01T10:30Z, 2024-05-01T12:30+02:00), 'now', "
    "'N UNIT ago' (UNIT: s, min, h, d, w or their names: '2h ago', '90 minutes ago'), "
    "'yesterday' (24 hours ago), or 'today'/'yesterday' with a time and its offset "
    "('yesterday 14:00Z', 'today 09:30+01:00')"
)

_UNITS: dict[str, dt.timedelta] = {}
for _names, _step in (
    (("s", "sec", "secs", "second", "seconds"), dt.timedelta(seconds=1)),
    (("m", "min", "mins", "minute", "minutes"), dt.timedelta(minutes=1)),
    (("h", "hr", "hrs", "hour", "hours"), dt.timedelta(hours=1)),
    (("d", "day", "days"), dt.timedelta(days=1)),
    (("w", "week", "weeks"), dt.timedelta(weeks=1)),
):
    for _name in _names:
        _UNITS[_name] = _step

_AGO = re.compile(r"(\d{1,9})\s*([a-z]+)\s+ago")
_DAY = re.compile(r"(today|yesterday)(?:\s+(\S+))?")


def parse_instant(text: str, what: str) -> dt.datetime:
    """An aware UTC datetime from ISO 8601 text with an offset; `InvalidTimestamp` naming ``what`` otherwise."""
    value = text.strip()
    try:
        # Python 3.11's fromisoformat reads most of ISO 8601, including a trailing "Z".
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTimestamp(f"{what}: {text!r} is not an ISO 8601 timestamp (for example {EXAMPLE})") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidTimestamp(f"{what}: {text!r} has no timezone; {_how_to_write(value)}")
    return _in_utc(parsed, text, what)


def parse_moment(text: str, what: str) -> dt.datetime:
    """Like `parse_instant`, and also ``now``, ``N UNIT ago``, ``yesterday`` and ``today|yesterday HH:MM±HH:MM``.

    Relative forms are read against `eventsourcing.clock.now`. Anything else raises `InvalidTimestamp`
    listing the accepted forms.
    """
    value = " ".join(text.strip().lower().split())
    if value == "now":
        return clock.now()
    if value == "yesterday":
        return clock.now() - dt.timedelta(days=1)
    if ago := _AGO.fullmatch(value):
        step = _UNITS.get(ago.group(2))
        if step is None:
            raise InvalidTimestamp(f"{what}: {text!r}: unknown unit {ago.group(2)!r}; accepted: {FORMS}")
        try:
            return clock.now() - int(ago.group(1)) * step
        except OverflowError:
            raise InvalidTimestamp(f"{what}: {text!r} is before the year 1") from None
    if day := _DAY.fullmatch(value):
        if day.group(2) is None:
            raise InvalidTimestamp(f"{what}: {text!r} needs a time with its offset, e.g. 'today 09:30Z'")
        return _on_day(day.group(1), day.group(2), text, what)
    if value[:1].isdigit() and _is_iso(text):
        return parse_instant(text, what)
    raise InvalidTimestamp(f"{what}: {text!r} is not a time; accepted: {FORMS}")


def _on_day(day: str, time_text: str, text: str, what: str) -> dt.datetime:
    try:
        at = dt.time.fromisoformat(time_text.upper())
    except ValueError:
        raise InvalidTimestamp(f"{what}: {text!r}: {time_text!r} is not a time such as 14:00Z or 09:30+01:00") from None
    if at.tzinfo is None:
        raise InvalidTimestamp(
            f"{what}: {text!r} has no timezone; write '{day} {time_text}Z' for UTC or '{day} {time_text}+01:00' "
            f"with your offset (see {RULE})"
        )
    zone = at.tzinfo
    today = clock.now().astimezone(zone).date()  # "today" is the date where that offset's clocks are
    date = today - dt.timedelta(days=1) if day == "yesterday" else today
    try:
        return dt.datetime.combine(date, at).astimezone(dt.UTC)
    except OverflowError:  # pragma: no cover - needs a clock frozen at the calendar's edge
        raise InvalidTimestamp(f"{what}: {text!r} is outside the range of UTC datetimes") from None


def _is_iso(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _how_to_write(value: str) -> str:
    if "T" not in value.upper() and " " not in value:
        value = f"{value}T00:00"  # a date alone: its midnight, in which zone is the question
    return f"write it with its offset: {value}Z for UTC or {value}+01:00 (see {RULE})"


def _in_utc(parsed: dt.datetime, text: str, what: str) -> dt.datetime:
    try:  # a moment at the calendar's edges may have no UTC equivalent
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidTimestamp(f"{what}: {text!r} is outside the range of dates (years 1 to 9999, in UTC)") from None
