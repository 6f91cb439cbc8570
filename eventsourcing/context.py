"""Per-task context that the aggregate reads when it emits: event ids and metadata.

Outside a command, every event gets a random id (uuid4). Inside one (`command_context`), ids are
derived from the command id and a counter (uuid5), so running the same command again produces
the same ids and the store recognises the retry instead of storing the events twice. The counter
is rewound when a repository retries after a conflict (`mark` / `rewind`), so the ids of a
command do not depend on how many attempts it took.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.events import EMPTY_METADATA


@dataclass
class CommandContext:
    command_id: UUID
    metadata: Mapping[str, Any]
    counter: int = field(default=0)
    appended: list[Any] = field(default_factory=list)
    """The `AppendResult` of every save made while the command ran (for read-your-writes)."""


_current: ContextVar[CommandContext | None] = ContextVar("eventsourcing_command", default=None)


def next_event_id() -> UUID:
    ctx = _current.get()
    if ctx is None:
        return uuid4()
    index = ctx.counter
    ctx.counter += 1
    return uuid5(ctx.command_id, str(index))


def first_event_id(command_id: UUID) -> UUID:
    """The id of the first event a command emits: its presence in a store means the command ran."""
    return uuid5(command_id, "0")


def current_metadata() -> Mapping[str, Any]:
    ctx = _current.get()
    return EMPTY_METADATA if ctx is None else ctx.metadata


def record_append(result: Any) -> None:
    """Called by the repository after each successful append inside a command."""
    ctx = _current.get()
    if ctx is not None:
        ctx.appended.append(result)


def mark() -> int:
    ctx = _current.get()
    return 0 if ctx is None else ctx.counter


def rewind(position: int) -> None:
    ctx = _current.get()
    if ctx is not None:
        ctx.counter = position


@contextmanager
def command_context(
    command_id: UUID, *, correlation_id: UUID | str | None = None, **extra: Any
) -> Iterator[CommandContext]:
    """Events emitted inside get deterministic ids and ``causation_id = command_id`` metadata."""
    metadata = {
        "correlation_id": str(correlation_id or command_id),
        "causation_id": str(command_id),
        **extra,
    }
    ctx = CommandContext(command_id=command_id, metadata=metadata)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
