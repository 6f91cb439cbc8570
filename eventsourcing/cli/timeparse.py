"""Timestamps given on the command line: ISO 8601, with or without an offset; naive means UTC."""

from __future__ import annotations

import datetime as dt

from eventsourcing.cli.failures import UsageError

EXAMPLE = "2024-05-01T12:30:00+02:00"


def parse_timestamp(text: str, option: str) -> dt.datetime:
    """An aware UTC datetime from ``2024-05-01T12:30:00+02:00``, ``...Z``, ``2024-05-01 12:30`` (UTC) or a date.

    A date alone means its midnight, UTC. Raises `UsageError` naming ``option`` for anything else.
    """
    value = text.strip()
    try:
        # Python 3.11's fromisoformat reads most of ISO 8601, including a trailing "Z".
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not an ISO 8601 timestamp (for example {EXAMPLE})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def iso(value: dt.datetime) -> str:
    """How the CLI prints a timestamp: ISO 8601 in UTC with microseconds."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
