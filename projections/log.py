"""`GlobalLog`: what a `ProjectionRunner` reads — the read side of an event store's global log.

Every `EventStore` is one. So is a `KafkaTopic` (a topic of integration events published by
another service): a runner follows either in the same way, with its checkpoint (here a map of
partition offsets) committed in the view database together with the view change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing import DomainEvent, RecordedEvent

__all__ = ["GlobalLog"]


class GlobalLog(Protocol):
    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        """The next page of the log after position ``after`` (None: from the start)."""
        ...

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        """The position of the last event `read_all` would return now (None for an empty log)."""
        ...

    def covers(self, checkpoint: Any, position: Any) -> bool:
        """Whether a follower whose cursor is at ``checkpoint`` has read the event at ``position``."""
        ...
