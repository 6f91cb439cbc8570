"""Errors of the projections package, in the library's error tree::

EventSourcingError
└── ProjectionError                 a projector cannot go on
    ├── CheckpointConflict          another runner moved the checkpoint first (this batch was rolled back)
    └── PoisonEvent                 a handler failed on an event; the projector stopped before it
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.errors import EventSourcingError


class ProjectionError(EventSourcingError):
    """A projector cannot go on (see the message for what to do)."""


class CheckpointConflict(ProjectionError):
    """The stored checkpoint is no longer the one this batch started from.

    Another runner of the same projector (or a rebuild) moved it first. Nothing of the batch was
    committed; the runner re-reads the checkpoint and carries on from there.
    """

    def __init__(self, name: str, expected_seq: int, detail: str = "") -> None:
        self.name = name
        self.expected_seq = expected_seq
        message = f"projection {name!r}: the checkpoint moved on from commit #{expected_seq} (another runner?)"
        super().__init__(f"{message}: {detail}" if detail else message)


class PoisonEvent(ProjectionError):
    """A handler raised on an event. The projector stopped at the last good checkpoint, just before it.

    The handler's exception is the ``__cause__``. Fix the handler (or the data) and run again, or set
    ``dead_letters = True`` on the projector to record such events in the dead-letter table and skip them.
    """

    def __init__(
        self,
        projector: str,
        *,
        stream_id: str,
        version: int,
        event_type: str,
        event_id: UUID,
        position: Any,
        error: str,
    ) -> None:
        self.projector = projector
        self.stream_id = stream_id
        self.version = version
        self.event_type = event_type
        self.event_id = event_id
        self.position = position
        self.error = error
        super().__init__(
            f"projection {projector!r} stopped at a poison event: {event_type!r} at stream {stream_id!r} "
            f"version {version} (event id {event_id}, position {position!r}) failed: {error}. "
            "The checkpoint stays just before it; fix the handler and run again, or enable dead letters."
        )
