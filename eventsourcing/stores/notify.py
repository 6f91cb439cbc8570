"""Push, not poll: a store tells subscribers that events were appended, so followers wake at once.

A `ProjectionRunner` following a store that `NotifiesAppends` wakes its projectors on each notice
and polls only as a fallback (a notice can be lost: a dropped listening connection, another
process's store that does not notify). A notice carries nothing but "look now": the follower reads
the log from its checkpoint as always, so a notice that is late, duplicated or lost costs latency,
never correctness.

What reaches a subscriber: on PostgreSQL, appends committed by any process whose store notifies
(LISTEN/NOTIFY, see `eventsourcing.stores.sql.pg_notify`); on SQLite and in memory, the appends
made through the same store object (other processes' appends to a SQLite file are found by polling).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

_log = logging.getLogger(__name__)

__all__ = ["LocalNotices", "NotifiesAppends"]


@runtime_checkable
class NotifiesAppends(Protocol):
    def subscribe(self, callback: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """Call ``callback()`` (on the event loop, quickly, without awaiting) after appends, while
        the returned context is entered."""
        ...


class LocalNotices:
    """The subscribers of one store object, told after each of its successful appends."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []

    @contextlib.asynccontextmanager
    async def subscribe(self, callback: Callable[[], None]) -> AsyncIterator[None]:
        self._callbacks.append(callback)
        try:
            yield
        finally:
            self._callbacks.remove(callback)

    def appended(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:  # a subscriber's bug must not fail an append that is stored
                _log.exception("an append subscriber failed")
