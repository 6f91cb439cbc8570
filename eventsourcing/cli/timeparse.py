"""Timestamps given on the command line: ISO 8601 with an offset, or a relative time ("2h ago").

The rules are `eventsourcing.timetext`'s, shared with the HTTP API: a time without a timezone is
refused, not read as UTC.
"""

from __future__ import annotations

import datetime as dt

from eventsourcing.cli.failures import UsageError
from eventsourcing.errors import InvalidTimestamp
from eventsourcing.timetext import parse_moment


def parse_timestamp(text: str, option: str) -> dt.datetime:
    """An aware UTC datetime from ``2024-05-01T12:30:00+02:00``, ``...Z``, ``2h ago``, ``yesterday 14:00Z``, ...

    Raises `UsageError` naming ``option`` for anything else, a time without a timezone included.
    """
    try:
        return parse_moment(text, option)
    except InvalidTimestamp as err:
        raise UsageError(str(err)) from None


def iso(value: dt.datetime) -> str:
    """How the CLI prints a timestamp: ISO 8601 in UTC with microseconds."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
