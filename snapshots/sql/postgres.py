"""Snapshots in a PostgreSQL table (SQLAlchemy creates the engine, pool and schema; asyncpg runs the
statements), in the event store's database or another one.

It follows the PostgreSQL event store (`eventsourcing.stores.sql.postgres`): each operation checks a
raw asyncpg connection out of the pool and runs one statement, which is its own transaction; the
schema is created under an advisory lock (processes opening a new database at once would race on
the catalogs); driver errors are translated by the event store's one translator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Column, DateTime, Index, Integer, LargeBinary, MetaData, PrimaryKeyConstraint, Table, Text, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from eventsourcing.clock import require_aware
from eventsourcing.errors import StoreError
from eventsourcing.snapshotting import Snapshot

# Importing the event store's module first says what to install when asyncpg is missing.
from eventsourcing.stores.sql.postgres import _driver_error, _lost, _translate  # isort: skip

import asyncpg  # isort: skip

T = TypeVar("T")

metadata = MetaData()
snapshots_table = Table(
    "snapshots",
    metadata,
    Column("stream_id", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("stream_type", Text, nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("state", LargeBinary, nullable=False),
    # Loads ask for one stream's newest snapshot with one fingerprint: a backward scan of this key.
    PrimaryKeyConstraint("stream_id", "fingerprint", "version", name="pk_snapshots"),
    Index("ix_snapshots_stream_type", "stream_type"),
)

# Not the event store's key: opening both stores at once must not wait on each other's DDL.
_SCHEMA_LOCK = 0x6576_656E_7473_0002
_MAX_VERSION = 2**31 - 1
_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)

_COLUMNS = "stream_id, stream_type, version, timestamp, fingerprint, state"
_SAVE = (
    "INSERT INTO snapshots (stream_id, stream_type, version, timestamp, fingerprint, state) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
)
# One statement for every bound: a missing bound is the largest value, so the plan is cached once.
_LATEST = (
    f"SELECT {_COLUMNS} FROM snapshots WHERE stream_id = $1 AND fingerprint = $2 AND version <= $3 "
    "AND timestamp <= $4 ORDER BY version DESC LIMIT 1"
)
_LIST = (
    f"SELECT {_COLUMNS} FROM snapshots WHERE ($1::text IS NULL OR stream_id = $1) "
    "AND ($2::text IS NULL OR stream_type = $2) ORDER BY stream_id, version, fingerprint"
)
_PRUNE = "DELETE FROM snapshots WHERE stream_type = $1 AND fingerprint <> $2"


class PostgresSnapshots:
    """The PostgreSQL side of `SQLSnapshotStore`."""

    def __init__(self, url: str, *, pool_size: int = 2) -> None:
        rest = url.split("://", 1)[1]
        self.url = url
        self._engine: AsyncEngine = create_async_engine(
            f"postgresql+asyncpg://{rest}",
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"server_settings": {"application_name": "eventsourcing-snapshots"}},
        )
        self._open = False

    async def open(self) -> None:
        if self._open:
            return
        try:
            async with self._engine.begin() as conn:
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})"))
                await conn.run_sync(metadata.create_all)
        except SQLAlchemyError as err:
            raise _translate(_driver_error(err), f"cannot open the PostgreSQL snapshot store {self._where()}") from err
        except OSError as err:
            raise _translate(err, f"cannot open the PostgreSQL snapshot store {self._where()}") from err
        self._open = True

    async def close(self) -> None:
        self._open = False
        await self._engine.dispose()

    async def save(self, snapshot: Snapshot) -> None:
        row = (
            snapshot.stream_id,
            snapshot.stream_type,
            snapshot.version,
            require_aware(snapshot.timestamp, "snapshot timestamp"),
            snapshot.fingerprint,
            snapshot.state,
        )
        await self._call(_execute, _SAVE, *row)

    async def latest(
        self, stream_id: str, *, fingerprint: str, max_version: int | None, as_of: dt.datetime | None
    ) -> Snapshot | None:
        upto = _MAX_VERSION if max_version is None else min(max_version, _MAX_VERSION)
        until = _FAR_FUTURE if as_of is None else require_aware(as_of, "as_of")
        rows = await self._call(_fetch, _LATEST, stream_id, fingerprint, upto, until)
        return Snapshot(*rows[0]) if rows else None

    async def list(self, *, stream_id: str | None, stream_type: str | None) -> list[Snapshot]:
        rows = await self._call(_fetch, _LIST, stream_id, stream_type)
        return [Snapshot(*row) for row in rows]

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int:
        status = await self._call(_execute, _PRUNE, stream_type, keep_fingerprint)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <n>"

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One statement on a pooled driver connection, with driver errors translated."""
        if not self._open:
            raise StoreError(
                "the PostgreSQL snapshot store is not open: use `async with store:` or `await store.open()`"
            )
        where = f"PostgreSQL snapshot store {self._where()}"
        try:
            raw = await self._engine.raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            if driver.is_closed():  # dropped by the server while idle in the pool: connect afresh
                raw.invalidate()
                await self._engine.dispose(close=False)
                raw = await self._engine.raw_connection()
                driver = raw.driver_connection
            try:
                result = await fn(driver, *args)
            except Exception as err:
                if _lost(driver, err):
                    raw.invalidate(err)
                    await self._engine.dispose(close=False)
                else:
                    raw.close()
                raise
            except BaseException:
                raw.invalidate()  # cancelled mid-statement: this connection must not serve anyone again
                raise
            raw.close()
            return result
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as err:
            raise _translate(err, where) from err
        except SQLAlchemyError as err:  # checking a connection out of the pool
            raise _translate(_driver_error(err), where) from err

    def _where(self) -> str:
        return self._engine.url.render_as_string(hide_password=True).replace("postgresql+asyncpg://", "postgresql://")


async def _fetch(connection: asyncpg.Connection, sql: str, *args: Any) -> list[Any]:
    rows: list[Any] = await connection.fetch(sql, *args)
    return rows


async def _execute(connection: asyncpg.Connection, sql: str, *args: Any) -> str:
    status: str = await connection.execute(sql, *args)
    return status
