"""LISTEN/NOTIFY for the PostgreSQL event store: appends notify, followers listen.

Sending: a NOTIFY inside the append's own transaction would be simplest, but PostgreSQL serialises
the commits of notifying transactions on one lock held through the commit's WAL flush: measured
here with 8 concurrent writers, appends that notify in their transaction ran at 0.15x the rate of
those that do not. So the store notifies *after* its appends commit, from a connection of its own
whose session does not wait for the flush (``synchronous_commit = off``: a notice lost in a server
crash costs a poll, nothing else), and coalesces: one notice in flight at a time, and one more after
it if appends committed meanwhile. The append never waits for it, and a failure to notify is logged
at debug level and dropped (followers still poll).

Listening: one connection per subscription, ``LISTEN`` on the channel; when it is lost the listener
reconnects with backoff and calls back once on reconnecting (appends committed while it was away
were not announced to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from eventsourcing.errors import EventSourcingError
from eventsourcing.stores.sql.pg_errors import DRIVER_ERRORS

CHANNEL = "eventsourcing_events"

_log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
"""Opens a connection of the caller's own (its session named apart from the pool's)."""


class AppendNotifier:
    """Sends one NOTIFY per burst of appends (see the module doc); `poke` after each commit."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._connection: asyncpg.Connection | None = None
        self._wanted = False
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def poke(self) -> None:
        self._wanted = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._wanted:
            self._wanted = False
            try:
                if self._connection is None or self._connection.is_closed():
                    self._connection = await self._connect()
                    await self._connection.execute("SET synchronous_commit = off")
                await self._connection.execute("SELECT pg_notify($1, '')", CHANNEL)
                self.sent += 1
            except (*DRIVER_ERRORS, EventSourcingError) as err:  # followers poll: never fail an append
                _log.debug("could not notify appends on %r: %s", CHANNEL, err)
                await self._drop()
                return

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop()


@contextlib.asynccontextmanager
async def listen(
    connect: Connect, callback: Callable[[], None], *, retry_interval: float = 0.1, max_retry_interval: float = 5.0
) -> AsyncIterator[None]:
    """Call ``callback()`` on each notice of the channel while the context is entered (reconnecting
    with backoff when the connection is lost; the first connection is made before entering, so an
    unreachable server fails here)."""
    lost = asyncio.Event()

    def on_notice(*_args: Any) -> None:
        callback()

    def on_lost(*_args: Any) -> None:
        lost.set()

    async def attach() -> asyncpg.Connection:
        connection = await connect()
        connection.add_termination_listener(on_lost)
        await connection.add_listener(CHANNEL, on_notice)
        return connection

    connection = await attach()

    async def keep() -> None:
        nonlocal connection
        delay = retry_interval
        while True:
            await lost.wait()
            lost.clear()
            while True:
                await asyncio.sleep(delay)
                try:
                    connection = await attach()
                except (*DRIVER_ERRORS, EventSourcingError) as err:
                    _log.debug("could not listen on %r again: %s", CHANNEL, err)
                    delay = min(delay * 2, max_retry_interval)
                    continue
                delay = retry_interval
                callback()  # appends committed while nobody listened were not announced
                break

    keeper = asyncio.create_task(keep())
    try:
        yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        with contextlib.suppress(Exception):
            connection.remove_termination_listener(on_lost)
            await asyncio.wait_for(connection.close(), 5)
        if not connection.is_closed():
            connection.terminate()
