"""Snapshots in a PostgreSQL table, in the event store's database or another one.

It runs on the shared PostgreSQL access layer (`eventsourcing.stores.sql.pg_runner`: pool,
reconnect, command timeout, the one translator of driver errors), as the event store does: each
operation is one statement on a pooled connection, its own transaction; the schema is created
under an advisory lock (processes opening a new database at once would race on the catalogs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import Column, DateTime, Index, Integer, LargeBinary, MetaData, PrimaryKeyConstraint, Table, Text

from eventsourcing.clock import require_aware
from eventsourcing.snapshotting import Snapshot

# Importing the event store's module first says what to install when asyncpg is missing.
from eventsourcing.stores.sql.postgres import DIALECT  # isort: skip

import asyncpg  # isort: skip

from eventsourcing.stores.sql.ddl import create_statements  # isort: skip
from eventsourcing.stores.sql.pg_runner import PostgresRunner  # isort: skip
from eventsourcing.stores.sql.pg_url import DEFAULT_COMMAND_TIMEOUT  # isort: skip

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
# Rank each stream's snapshots newest first and delete beyond the n-th, in one statement (one transaction);
# fingerprints in code-point order, as Python and SQLite compare them.
# Only the filters given are in the statement (cached per combination), so one stream's trim (after each
# snapshot a policy with keep= writes) reads that stream's rows through the primary key, not the table.
_KEEP_NEWEST = (
    "DELETE FROM snapshots s USING (SELECT stream_id, fingerprint, version, row_number() OVER "
    '(PARTITION BY stream_id ORDER BY version DESC, fingerprint COLLATE "C" DESC) AS rank FROM snapshots '
    "WHERE {where}) r "
    "WHERE r.rank > $1 AND s.stream_id = r.stream_id AND s.fingerprint = r.fingerprint AND s.version = r.version"
)


class PostgresSnapshots:
    """The PostgreSQL side of `SQLSnapshotStore`."""

    def __init__(
        self, url: str, *, pool_size: int = 2, command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT
    ) -> None:
        self.url = url
        self.runner = PostgresRunner(
            url,
            what="PostgreSQL snapshot store",
            max_size=2 * pool_size,
            command_timeout=command_timeout,
            settings={"application_name": "eventsourcing-snapshots"},
        )

    async def open(self) -> None:
        await self.runner.open(_create_schema)

    async def close(self) -> None:
        await self.runner.close()

    async def save(self, snapshot: Snapshot) -> None:
        row = (
            snapshot.stream_id,
            snapshot.stream_type,
            snapshot.version,
            require_aware(snapshot.timestamp, "snapshot timestamp"),
            snapshot.fingerprint,
            snapshot.state,
        )
        await self.runner.call(_execute, _SAVE, *row, retry=True)

    async def latest(
        self, stream_id: str, *, fingerprint: str, max_version: int | None, as_of: dt.datetime | None
    ) -> Snapshot | None:
        upto = _MAX_VERSION if max_version is None else min(max_version, _MAX_VERSION)
        until = _FAR_FUTURE if as_of is None else require_aware(as_of, "as_of")
        rows = await self.runner.call(_fetch, _LATEST, stream_id, fingerprint, upto, until, retry=True)
        return Snapshot(*rows[0]) if rows else None

    async def list(self, *, stream_id: str | None, stream_type: str | None) -> list[Snapshot]:
        rows = await self.runner.call(_fetch, _LIST, stream_id, stream_type, retry=True)
        return [Snapshot(*row) for row in rows]

    async def keep_newest(self, n: int, *, stream_id: str | None, stream_type: str | None) -> int:
        where: list[str] = ["TRUE"]
        params: list[object] = [n]
        for column, value in (("stream_id", stream_id), ("stream_type", stream_type)):
            if value is not None:
                params.append(value)
                where.append(f"{column} = ${len(params)}")
        sql = _KEEP_NEWEST.format(where=" AND ".join(where))
        status = await self.runner.call(_execute, sql, *params, retry=True)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <n>"

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int:
        status = await self.runner.call(_execute, _PRUNE, stream_type, keep_fingerprint, retry=True)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <n>"


async def _create_schema(connection: asyncpg.Connection) -> None:
    async with connection.transaction():
        await connection.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        for statement in create_statements(metadata.sorted_tables, DIALECT):
            await connection.execute(statement)


async def _fetch(connection: asyncpg.Connection, sql: str, *args: Any) -> list[Any]:
    rows: list[Any] = await connection.fetch(sql, *args)
    return rows


async def _execute(connection: asyncpg.Connection, sql: str, *args: Any) -> str:
    status: str = await connection.execute(sql, *args)
    return status
