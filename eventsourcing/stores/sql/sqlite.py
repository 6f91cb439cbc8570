"""The SQLite binding of `SQLEventStore`.

Durability and ordering: WAL journal, ``synchronous=FULL``, and appends in ``BEGIN IMMEDIATE``
transactions, so writers are serialised by SQLite's write lock and positions (an AUTOINCREMENT
rowid) commit in order: a follower reading ``position > cursor`` never skips an event.

Execution: SQLAlchemy (aiosqlite) creates the engine, the pool and the schema. Each operation
is one synchronous function over the driver's ``sqlite3`` connection. It first runs inline on
the event loop with ``busy_timeout = 0``: an append costs one fsync there, while a hop to a
worker thread costs more than the whole statement (measured in bench/, docs/stores.md). If the
database is locked (another process, or one of our own slow-path writers), the same function
runs again in a worker thread on a pooled connection that waits up to the busy timeout, so the
event loop is never blocked waiting for a lock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from eventsourcing.errors import ConcurrencyError, EventSourcingError, StoreError, StoreUnavailable
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.serialization import EventMapper
from eventsourcing.stores.base import (
    AppendResult,
    Expected,
    StoredRef,
    admits,
    conflict,
    resolve_retry,
    utc_timestamp,
)
from eventsourcing.stores.sql.rows import EVENT_COLUMNS, decode_row, iso_utc

T = TypeVar("T")

metadata = MetaData()
events_table = Table(
    "events",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("stream_id", Text, nullable=False),
    Column("stream_type", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", LargeBinary(16), nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("timestamp", Text, nullable=False),  # ISO 8601 UTC, fixed width: text order is time order
    Column("metadata", LargeBinary),
    Column("payload", LargeBinary, nullable=False),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    Index("ix_events_stream_type_position", "stream_type", "position"),
    sqlite_autoincrement=True,  # positions are never reused, even after the last row is deleted
)

_INSERT = (
    "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, "
    "timestamp, metadata, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_VERSION = "SELECT max(version) FROM events WHERE stream_id = ?"
_READ = f"SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? AND version <= ?"
_READ_ALL = f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ?"
_BY_ID = f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?"
_MAX_VERSION = 2**62
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteBackend:
    def __init__(self, url: str, mapper: EventMapper, *, busy_timeout: float, pool_size: int) -> None:
        database = url.split("///", 1)[1] if "///" in url else ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise StoreUnavailable(
                "an in-memory SQLite database is private to one connection; use memory:// for an "
                "in-memory store or a file path (sqlite:///events.db)"
            )
        self.url = url
        self._mapper = mapper
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._engine: AsyncEngine = create_async_engine(
            url.replace("sqlite://", "sqlite+aiosqlite://", 1),
            pool_size=pool_size,
            max_overflow=pool_size,
            # Autocommit at the driver; every operation opens its own transaction explicitly.
            # check_same_thread=False: the slow path runs a pooled connection in a worker thread.
            connect_args={"isolation_level": None, "check_same_thread": False, "timeout": busy_timeout},
        )
        event.listen(self._engine.sync_engine, "connect", self._on_connect)
        self._pinned: AsyncConnection | None = None
        self._inline: sqlite3.Connection | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def _on_connect(self, dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode = WAL", "synchronous = FULL", f"busy_timeout = {self._busy_timeout_ms}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    async def open(self) -> None:
        if self._inline is not None:
            return
        try:
            async with self._engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            self._pinned = await self._engine.connect()
            self._inline = await _sqlite3_connection(self._pinned)
        except SQLAlchemyError as err:
            raise StoreUnavailable(f"cannot open SQLite store {self.url}: {_reason(err)}") from err
        self._inline.execute("PRAGMA busy_timeout = 0")  # inline work never waits: it hands over

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._pinned is not None:
            self._inline.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")  # type: ignore[union-attr]
            await self._pinned.close()
            self._pinned = self._inline = None
        await self._engine.dispose()

    # -- operations ---------------------------------------------------------------------------

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected: Expected, stream_type: str
    ) -> AppendResult:
        encode, encode_metadata = self._mapper.encode, self._mapper.encode_metadata
        rows = [
            (
                stream_id,
                stream_type,
                0,  # version: filled in under the write lock
                e.event_id.bytes,
                e.event.event_type,
                e.event.schema_version,
                iso_utc(utc_timestamp(e.timestamp)),
                encode_metadata(e.metadata),
                encode(e.event),
            )
            for e in events
        ]
        outcome = await self._call(_append, stream_id, rows, expected)
        if isinstance(outcome, AppendResult):
            return outcome
        actual, refs = outcome
        retry = resolve_retry(stream_id, [e.event_id for e in events], refs)
        if retry is not None:
            return retry
        raise conflict(stream_id, expected, actual)

    async def read(
        self, stream_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent[DomainEvent]]:
        sql, params = _READ, [stream_id, from_version, _MAX_VERSION if to_version is None else to_version]
        if as_of is not None:
            sql += " AND timestamp <= ?"
            params.append(iso_utc(as_of))
        rows = await self._call(_fetch, sql + " ORDER BY version", params)
        return self._decode(rows)

    async def read_all(
        self, after: Any, limit: int, stream_types: Sequence[str] | None
    ) -> list[RecordedEvent[DomainEvent]]:
        params: list[Any]
        sql, params = _READ_ALL, [0 if after is None else int(after)]
        if stream_types is not None:
            sql += f" AND stream_type IN ({', '.join('?' * len(stream_types))})"
            params.extend(stream_types)
        rows = await self._call(_fetch, sql + " ORDER BY position LIMIT ?", [*params, limit])
        return self._decode(rows)

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        rows = await self._call(_fetch, _BY_ID, [event_id.bytes])
        return self._decode(rows)[0] if rows else None

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._call(_fetch, _VERSION, [stream_id])
        return int(rows[0][0] or 0)

    def _decode(self, rows: list[tuple[Any, ...]]) -> list[RecordedEvent[DomainEvent]]:
        mapper, parse = self._mapper, dt.datetime.fromisoformat
        return [decode_row(mapper, row, timestamp=parse(row[6])) for row in rows]

    # -- execution ----------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._inline is None:
            raise StoreError("the SQLite store is not open: use `async with store:` or `await store.open()`")
        # Every operation is a suspension point, as real I/O would be: a task looping over the
        # store cannot starve the other tasks on the loop (costs a loop turn, not a thread hop).
        await asyncio.sleep(0)
        try:
            return fn(self._inline, *args)
        except sqlite3.OperationalError as err:
            if getattr(err, "sqlite_errorcode", None) not in _BUSY:
                raise _translate(err) from err
        except sqlite3.Error as err:
            raise _translate(err) from err
        # Locked: wait for the lock in a worker thread. Shielded so that a cancelled caller never
        # returns a connection to the pool while a thread is still using it.
        task = asyncio.ensure_future(self._call_in_thread(fn, *args))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return await asyncio.shield(task)

    async def _call_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            async with self._engine.connect() as conn:
                connection = await _sqlite3_connection(conn)
                return await asyncio.to_thread(fn, connection, *args)
        except sqlite3.Error as err:
            raise _translate(err) from err
        except SQLAlchemyError as err:
            raise StoreUnavailable(f"SQLite store {self.url}: {_reason(err)}") from err


async def _sqlite3_connection(conn: AsyncConnection) -> sqlite3.Connection:
    # aiosqlite keeps the stdlib connection in `_conn`; it has for every release we support, and a
    # test checks it. Reaching it lets an operation be one function call instead of one thread hop
    # per statement.
    raw = await conn.get_raw_connection()
    sqlite_connection: sqlite3.Connection = raw.driver_connection._conn  # type: ignore[union-attr]
    return sqlite_connection


# -- the synchronous operations (run inline or in a worker thread) -------------------------------


def _fetch(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return db.execute(sql, params).fetchall()


def _append(
    db: sqlite3.Connection, stream_id: str, rows: list[tuple[Any, ...]], expected: Expected
) -> AppendResult | tuple[int, list[StoredRef]]:
    """Append under the write lock. Returns the result, or (actual version, refs of reused ids)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        actual = db.execute(_VERSION, (stream_id,)).fetchone()[0] or 0
        if not admits(expected, actual):
            db.rollback()
            return actual, _refs(db, rows)
        if not rows:
            db.rollback()
            last = db.execute("SELECT max(position) FROM events WHERE stream_id = ?", (stream_id,)).fetchone()
            return AppendResult(stream_id, actual, last[0])
        versioned = [(r[0], r[1], actual + i, *r[3:]) for i, r in enumerate(rows, start=1)]
        try:
            db.executemany(_INSERT, versioned)
        except sqlite3.IntegrityError:
            db.rollback()
            refs = _refs(db, rows)
            if not refs:  # the (stream_id, version) constraint: cannot happen under the lock, but never store
                raise ConcurrencyError(stream_id, expected, actual, "version taken") from None
            return actual, refs
        position = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return AppendResult(stream_id, actual + len(rows), position)


def _refs(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[StoredRef]:
    ids = [r[3] for r in rows]
    found: list[StoredRef] = []
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        marks = ",".join("?" * len(part))
        sql = f"SELECT event_id, stream_id, version, position FROM events WHERE event_id IN ({marks})"
        found.extend(StoredRef(UUID(bytes=e), s, v, p) for e, s, v, p in db.execute(sql, part))
    return found


def _translate(err: sqlite3.Error) -> EventSourcingError:
    message = str(err)
    if isinstance(err, sqlite3.OperationalError) and (
        "unable to open" in message or "readonly" in message or "disk I/O" in message
    ):
        return StoreUnavailable(f"SQLite: {message}")
    if getattr(err, "sqlite_errorcode", None) in _BUSY:
        return StoreUnavailable(f"SQLite: {message} (the busy timeout expired waiting for another writer)")
    return StoreError(f"SQLite: {message}")


def _reason(err: SQLAlchemyError) -> str:
    orig = getattr(err, "orig", None)
    return str(orig) if orig is not None else str(err).splitlines()[0]
