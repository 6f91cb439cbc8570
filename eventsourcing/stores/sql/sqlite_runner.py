"""`SQLiteRunner`: how this library talks to a SQLite file from asyncio.

SQLAlchemy (aiosqlite) creates the engine, the pool and the schema, and hands us the driver's
``sqlite3`` connection beneath it. Each operation is one synchronous function over that
connection, run on the event loop with ``busy_timeout = 0``: it either completes at once (an
append costs one fsync; a hop to a worker thread would cost more than the whole statement, ~90 µs
against ~4 µs per row read on the 2-core machines we measure on, see docs/stores.md) or fails
immediately with SQLITE_BUSY because another connection holds the write lock. Then we wait
*asynchronously* — short, jittered, growing sleeps, up to the busy timeout — and run it again.
So the event loop never blocks waiting for a lock, and a waiter retries within a few
milliseconds of the lock's release (SQLite's own busy handler sleeps in steps of up to 100 ms).

Every store on SQLite (events, snapshots, views) uses one of these.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import MetaData, event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from eventsourcing.clock import monotonic
from eventsourcing.errors import ConfigurationError, EventSourcingError, StoreError, StoreUnavailable
from eventsourcing.stores.sql.ddl import create_statements
from eventsourcing.urls import redact

T = TypeVar("T")

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_DIALECT = sqlite_dialect.dialect()
_YIELD_EVERY = 0.001  # seconds of store work on the loop between two turns given to other tasks
MAX_LOCK_WAIT = 0.005  # seconds: the longest of the growing sleeps while another writer holds the lock


class SQLiteRunner:
    """Runs synchronous sqlite3 functions for async callers: inline, waiting asynchronously for locks."""

    def __init__(self, url: str, *, busy_timeout: float = 10.0, pool_size: int = 5, what: str = "SQLite store") -> None:
        database = url.split("///", 1)[1] if "///" in url else ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise ConfigurationError(
                "an in-memory SQLite database is private to one connection; use memory:// for an "
                "in-memory store or a file path (sqlite:///events.db)"
            )
        self.url = url
        self.what = what
        self._database = database.split("?", 1)[0]
        self._busy_timeout = busy_timeout
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._engine: AsyncEngine = create_async_engine(
            url.replace("sqlite://", "sqlite+aiosqlite://", 1),
            pool_size=pool_size,
            max_overflow=pool_size,
            # Autocommit at the driver; every operation opens its own transaction explicitly.
            # check_same_thread=False: aiosqlite opens the connection in its own thread, we use it on the loop.
            connect_args={"isolation_level": None, "check_same_thread": False, "timeout": busy_timeout},
        )
        event.listen(self._engine.sync_engine, "connect", self._on_connect)
        self._pinned: AsyncConnection | None = None
        self._inline: sqlite3.Connection | None = None
        self._last_yield = monotonic()

    def _on_connect(self, dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode = WAL", "synchronous = FULL", f"busy_timeout = {self._busy_timeout_ms}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @property
    def is_open(self) -> bool:
        return self._inline is not None

    async def open(self, metadata: MetaData) -> None:
        """Connect and create ``metadata``'s tables if missing (idempotent)."""
        if self._inline is not None:
            return
        await asyncio.to_thread(self._preflight)  # once per open: may wait for a lock, off the loop
        try:
            self._pinned = await self._engine.connect()
            self._inline = await _sqlite3_connection(self._pinned)
        except SQLAlchemyError as err:
            if self._pinned is not None:
                await self._pinned.close()
                self._pinned = None
            await self._engine.dispose()
            raise StoreUnavailable(f"cannot open {self.what} {redact(self.url)}: {_reason(err)}") from err
        self._inline.execute("PRAGMA busy_timeout = 0")  # inline work never waits: it hands over
        # Several processes may open a new database at once: create what is missing in one write
        # transaction with IF NOT EXISTS (SQLAlchemy's check-then-create would race).
        await self.execute_in_transaction(create_statements(metadata.sorted_tables, _DIALECT))

    def _preflight(self) -> None:
        """Open the file once with the standard library: a missing directory or a file that is not a
        database fails here as one clear error (aiosqlite would leave a worker thread behind)."""
        try:
            probe = sqlite3.connect(self._database, timeout=self._busy_timeout)
            try:
                probe.execute("PRAGMA schema_version").fetchone()
            finally:
                probe.close()
        except sqlite3.Error as err:
            raise StoreUnavailable(f"cannot open {self.what} {redact(self.url)}: {err}") from err

    async def close(self) -> None:
        if self._pinned is not None:
            self._inline.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")  # type: ignore[union-attr]
            await self._pinned.close()
            self._pinned = self._inline = None
        await self._engine.dispose()

    async def execute_in_transaction(self, statements: list[str]) -> None:
        """Run ``statements`` (DDL, typically) in one write transaction: all of them or none."""
        await self.call(_in_one_transaction, statements)

    def call_now(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` at once, without yielding and without waiting for a lock: for what
        must happen even in a task being cancelled (rolling back a transaction it left open)."""
        if self._inline is None:
            raise StoreError(f"the {self.what} is not open: use `async with store:` or `await store.open()`")
        try:
            return fn(self._inline, *args)
        except sqlite3.Error as err:
            raise translate(err) from err

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)``, with sqlite3 errors translated into the library's errors.

        ``fn`` must leave no transaction open when it returns or raises (roll back on failure).
        """
        if self._inline is None:
            raise StoreError(f"the {self.what} is not open: use `async with store:` or `await store.open()`")
        # Operations run on the loop, so yield to the other tasks now and then, as real I/O would:
        # a task looping over the store never holds the loop for more than about a millisecond.
        if monotonic() - self._last_yield >= _YIELD_EVERY:
            await asyncio.sleep(0)
            self._last_yield = monotonic()
        deadline: float | None = None
        pause = 0.0002
        while True:
            try:
                return fn(self._inline, *args)
            except sqlite3.Error as err:
                if not is_busy(err):
                    raise translate(err) from err
                now = monotonic()
                if deadline is None:
                    deadline = now + self._busy_timeout
                elif now >= deadline:
                    raise translate(err) from err
            await asyncio.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, MAX_LOCK_WAIT)


def _in_one_transaction(db: sqlite3.Connection, statements: list[str]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise


async def _sqlite3_connection(conn: AsyncConnection) -> sqlite3.Connection:
    # aiosqlite keeps the stdlib connection in `_conn`; it has for every release we support, and a
    # test checks it. Reaching it lets an operation be one function call instead of one thread hop
    # per statement.
    raw = await conn.get_raw_connection()
    sqlite_connection: sqlite3.Connection = raw.driver_connection._conn  # type: ignore[union-attr]
    return sqlite_connection


def is_busy(err: sqlite3.Error) -> bool:
    # sqlite_errorcode is the extended code (SQLITE_BUSY_SNAPSHOT = 517, ...): compare its primary part.
    return (getattr(err, "sqlite_errorcode", 0) & 0xFF) in _BUSY


def translate(err: sqlite3.Error) -> EventSourcingError:
    message = str(err)
    if isinstance(err, sqlite3.OperationalError) and (
        "unable to open" in message or "readonly" in message or "disk I/O" in message
    ):
        return StoreUnavailable(f"SQLite: {message}")
    if is_busy(err):
        return StoreUnavailable(f"SQLite: {message} (the busy timeout expired waiting for another writer)")
    return StoreError(f"SQLite: {message}")


def _reason(err: SQLAlchemyError) -> str:
    orig = getattr(err, "orig", None)
    return str(orig) if orig is not None else str(err).splitlines()[0]
