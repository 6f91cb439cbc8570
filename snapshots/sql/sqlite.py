"""Snapshots in a SQLite table, through the same `SQLiteRunner` as the event store (inline unless it
has to wait for another writer). Timestamps are fixed-width ISO 8601 UTC text, so text order is time
order.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, PrimaryKeyConstraint, Table, Text

from eventsourcing.clock import require_aware
from eventsourcing.snapshotting import Snapshot
from eventsourcing.stores.sql.rows import iso_utc
from eventsourcing.stores.sql.sqlite_runner import SQLiteRunner

metadata = MetaData()
snapshots_table = Table(
    "snapshots",
    metadata,
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("stream_type", Text, nullable=False),
    Column("timestamp", Text, nullable=False),  # ISO 8601 UTC, fixed width: text order is time order
    Column("state", LargeBinary, nullable=False),
    PrimaryKeyConstraint("stream_id", "version", "fingerprint", name="pk_snapshots"),
    Index("ix_snapshots_stream_type", "stream_type"),
)

_COLUMNS = "stream_id, stream_type, version, timestamp, fingerprint, state"
_SAVE = (
    "INSERT INTO snapshots (stream_id, stream_type, version, timestamp, fingerprint, state) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)

# Rank each stream's snapshots newest first and delete beyond the n-th, in one statement (one transaction).
# Only the filters given are in the statement, so one stream's trim (after each snapshot a policy
# with keep= writes) is a range of the primary key, not a scan of the table.
_KEEP_NEWEST = (
    "DELETE FROM snapshots WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER "
    "(PARTITION BY stream_id ORDER BY version DESC, fingerprint DESC) AS rank FROM snapshots "
    "WHERE {where}) WHERE rank > ?)"
)


class SQLiteSnapshots:
    """The SQLite side of `SQLSnapshotStore` (the event store's file is fine, or another)."""

    def __init__(self, url: str, *, busy_timeout: float = 10.0) -> None:
        self.url = url
        self._runner = SQLiteRunner(url, busy_timeout=busy_timeout, pool_size=2, what="SQLite snapshot store")

    async def open(self) -> None:
        await self._runner.open(metadata)

    async def close(self) -> None:
        await self._runner.close()

    async def save(self, snapshot: Snapshot) -> None:
        row = (
            snapshot.stream_id,
            snapshot.stream_type,
            snapshot.version,
            iso_utc(snapshot.timestamp),
            snapshot.fingerprint,
            snapshot.state,
        )
        await self._runner.call(_execute, _SAVE, row)

    async def latest(
        self,
        stream_id: str,
        *,
        fingerprint: str,
        max_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> Snapshot | None:
        sql = f"SELECT {_COLUMNS} FROM snapshots WHERE stream_id = ? AND fingerprint = ?"
        params: list[Any] = [stream_id, fingerprint]
        if max_version is not None:
            sql += " AND version <= ?"
            params.append(max_version)
        if as_of is not None:
            sql += " AND timestamp <= ?"
            params.append(iso_utc(require_aware(as_of, "as_of")))
        rows = await self._runner.call(_fetch, sql + " ORDER BY version DESC LIMIT 1", params)
        return _snapshot(rows[0]) if rows else None

    async def list(self, *, stream_id: str | None = None, stream_type: str | None = None) -> list[Snapshot]:
        sql, params = f"SELECT {_COLUMNS} FROM snapshots WHERE 1 = 1", []
        if stream_id is not None:
            sql += " AND stream_id = ?"
            params.append(stream_id)
        if stream_type is not None:
            sql += " AND stream_type = ?"
            params.append(stream_type)
        rows = await self._runner.call(_fetch, sql + " ORDER BY stream_id, version", params)
        return [_snapshot(row) for row in rows]

    async def keep_newest(self, n: int, *, stream_id: str | None, stream_type: str | None) -> int:
        where, params = ["1 = 1"], []
        for column, value in (("stream_id", stream_id), ("stream_type", stream_type)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = _KEEP_NEWEST.format(where=" AND ".join(where))
        return await self._runner.call(_execute, sql, (*params, n))

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int:
        sql = "DELETE FROM snapshots WHERE stream_type = ? AND fingerprint != ?"
        return await self._runner.call(_execute, sql, (stream_type, keep_fingerprint))


def _snapshot(row: tuple[Any, ...]) -> Snapshot:
    stream_id, stream_type, version, timestamp, fingerprint, state = row
    return Snapshot(stream_id, stream_type, version, dt.datetime.fromisoformat(timestamp), fingerprint, state)


def _fetch(db: sqlite3.Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    return db.execute(sql, params).fetchall()


def _execute(db: sqlite3.Connection, sql: str, params: Any) -> int:
    return db.execute(sql, params).rowcount
