"""A lean pool of asyncpg connections for the PostgreSQL stores.

Why not asyncpg's own pool: its release runs through ``asyncio.shield`` (a new task, so one more
turn of the event loop with its ``epoll`` call) plus reset bookkeeping. On a machine where a system
call is expensive that measured ~110-200 µs of CPU per operation, as much as the statement's own
round trip, and every command costs two operations (read the stream, append).

Here a free connection is taken and given back without awaiting anything: ``acquire`` returns at
once when one is idle, ``release`` is synchronous. Connections are opened on demand up to
``max_size``; beyond that callers wait in arrival order. A connection that comes back closed,
inside a transaction, or from before `expire` is discarded (closed), and its slot is handed to the
next waiter. Idle connections older than ``max_idle`` seconds are closed when next met.

Ages are measured on `eventsourcing.clock.monotonic`, which freezegun does not move: a test that
moves the application clock by minutes between commands must not make every connection look stale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg

from eventsourcing.clock import monotonic

_CLOSE_TIMEOUT = 2.0


def _closed() -> Exception:
    error: Exception = asyncpg.InterfaceError("the connection pool is closed")
    return error


class ConnectionPool:
    """Connections to one server, opened on demand by ``connect``, at most ``max_size`` at a time."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        max_size: int,
        max_idle: float = 300.0,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect = connect
        self._max_size = max_size
        self._max_idle = max_idle
        self._idle: list[tuple[asyncpg.Connection, float]] = []  # a stack: the warmest connection first
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._generation: dict[asyncpg.Connection, int] = {}  # every open connection -> its generation
        self._current = 0
        self._size = 0  # connections open or being opened, idle or in use
        self._closed = False

    @property
    def size(self) -> int:
        """Connections open (or being opened) now, idle or in use."""
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    async def acquire(self, within: float | None = None) -> asyncpg.Connection:
        """A connection for the caller alone until it `release`s it.

        ``within`` (seconds) bounds the wait for a free slot (opening a connection is bounded by
        the ``connect`` function's own timeout): `TimeoutError` when it expires.
        """
        if self._closed:
            raise _closed()
        now = monotonic()
        while self._idle:
            conn, since = self._idle.pop()
            if conn.is_closed() or now - since > self._max_idle:
                self._discard(conn)
                continue
            return conn
        if self._size < self._max_size:
            return await self._open()
        if within is None:
            return await self._wait()
        async with asyncio.timeout(within):
            return await self._wait()

    async def _wait(self) -> asyncpg.Connection:
        waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection (or a free slot) just as the caller gave up: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._size -= 1  # the slot reserved for this caller
                    self._hand_slot()
                else:
                    self.release(handed)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        if conn is None:  # a slot was freed (and reserved for this caller): open a connection in it
            return await self._open(reserved=True)
        return conn

    def release(self, conn: asyncpg.Connection) -> None:
        """Give ``conn`` back (to the first waiter, else to the idle stack); never waits."""
        if self._closed or conn.is_closed() or conn.is_in_transaction() or self._generation.get(conn) != self._current:
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append((conn, monotonic()))

    def expire(self) -> None:
        """Close every idle connection now, and every connection in use when it comes back
        (the server restarted or went away: they are all as dead as the one that noticed)."""
        self._current += 1
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._discard(conn)

    async def close(self) -> None:
        """Close the idle connections; those in use close when released. Waiters get ``InterfaceError``."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._forget(conn)
            with contextlib.suppress(Exception):
                await conn.close(timeout=_CLOSE_TIMEOUT)
            if not conn.is_closed():
                conn.terminate()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(_closed())

    # -- internals --------------------------------------------------------------------------------

    async def _open(self, *, reserved: bool = False) -> asyncpg.Connection:
        if not reserved:
            self._size += 1
        try:
            conn = await self._connect()
        except BaseException:
            self._size -= 1
            self._hand_slot()  # a waiter may try (and report its own error)
            raise
        if self._closed:
            self._size -= 1
            conn.terminate()
            raise _closed()
        self._generation[conn] = self._current
        return conn

    def _forget(self, conn: asyncpg.Connection) -> None:
        if self._generation.pop(conn, None) is not None:
            self._size -= 1

    def _discard(self, conn: asyncpg.Connection) -> None:
        """Close ``conn`` at once (no goodbye round trip) and free its slot for a waiter."""
        self._forget(conn)
        if not conn.is_closed():
            conn.terminate()
        self._hand_slot()

    def _hand_slot(self) -> None:
        if self._closed or self._size >= self._max_size:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._size += 1  # reserved for the waiter, which opens the connection
                waiter.set_result(None)
                return
