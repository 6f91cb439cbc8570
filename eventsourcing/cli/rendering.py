"""Output: JSON documents and JSON lines for programs, rich tables and plain lines for people.

JSON goes straight to stdout (never through rich, which would wrap long lines). Tables and lines
use rich on stdout; progress and errors use stderr, so stdout stays clean for pipes.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.table import Table
from rich.text import Text

from eventsourcing.cli.stores import UndecodedEvent
from eventsourcing.cli.timeparse import iso
from eventsourcing.events import DomainEvent, RecordedEvent

UNDECODED = "(payload not decoded: unknown event type, pass --app)"


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=False)


def say(message: str) -> None:
    """A plain line on stdout (never wrapped or styled, so scripts can read it)."""
    sys.stdout.write(message + "\n")


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def jsonable(value: Any) -> Any:
    """Any state or payload value as JSON-compatible data (Decimal and other scalars as strings)."""
    return to_jsonable_python(value, fallback=str)


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False)


def write_json(value: Any, *, indent: int | None = None) -> None:
    sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False, indent=indent) + "\n")
    sys.stdout.flush()


def is_decoded(recorded: RecordedEvent[DomainEvent]) -> bool:
    return not isinstance(recorded.event, UndecodedEvent)


def payload(recorded: RecordedEvent[DomainEvent]) -> dict[str, Any]:
    if isinstance(recorded.event, UndecodedEvent):
        return dict(recorded.event.model_extra or {})
    return recorded.event.model_dump(mode="json")


def event_record(recorded: RecordedEvent[DomainEvent]) -> dict[str, Any]:
    """One event as a JSON object (the ``--json`` output of ``events`` and of ``replay``'s event list)."""
    return {
        "position": jsonable(recorded.position),
        "stream_id": recorded.stream_id,
        "version": recorded.version,
        "timestamp": iso(recorded.timestamp),
        "type": recorded.event_type,
        "schema_version": recorded.schema_version,
        "event_id": str(recorded.event_id),
        "metadata": jsonable(dict(recorded.metadata)),
        "decoded": is_decoded(recorded),
        "payload": payload(recorded),
    }


def event_line(recorded: RecordedEvent[DomainEvent]) -> str:
    """One event as one line: position, timestamp, stream and version, type, payload."""
    body = dumps(payload(recorded)) if is_decoded(recorded) else UNDECODED
    return (
        f"{json.dumps(jsonable(recorded.position))}  {iso(recorded.timestamp)}  "
        f"{recorded.stream_id} v{recorded.version}  {recorded.event_type}  {body}"
    )


def compact(value: dt.datetime) -> str:
    """A timestamp for a table cell: UTC, space-separated, microseconds only when there are some."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def state_table(title: str, state: Mapping[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=True)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in state.items():
        plain = jsonable(value)
        table.add_row(name, Text(plain if isinstance(plain, str) else dumps(plain)))
    return table


def events_table(title: str, events: Iterable[RecordedEvent[DomainEvent]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("version", justify="right")
    table.add_column("timestamp (UTC)", no_wrap=True)
    table.add_column("type", overflow="fold")
    table.add_column("payload", overflow="fold", ratio=2)
    for recorded in events:
        body = dumps(payload(recorded)) if is_decoded(recorded) else UNDECODED
        table.add_row(str(recorded.version), compact(recorded.timestamp), recorded.event_type, Text(body))
    return table
