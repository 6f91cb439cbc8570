"""`SchemaStore`s for the SQL event stores: the table ``event_schemas`` in the events' database.

One row per schema, keyed by its id; inserting a schema that is there already does nothing. The
schema's JSON is kept as derived (with defaults and docs), next to the event type and version it
was derived for, so the table reads well on its own (``SELECT event_type, schema_version ...``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import make_url

from eventsourcing.avro.derive import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY
from eventsourcing.errors import StoreError
from eventsourcing.urls import redact

if TYPE_CHECKING:
    import asyncpg

    from eventsourcing.stores.sql.pg_runner import PostgresRunner

T = TypeVar("T")

TABLE = "event_schemas"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (schema_id BIGINT PRIMARY KEY, event_type TEXT, "
    "schema_version INTEGER, schema TEXT NOT NULL, registered_at TEXT NOT NULL)"
)


def _row(schema_id: int, schema: Mapping[str, Any], now: str) -> tuple[int, str | None, int | None, str, str]:
    event_type, version = schema.get(EVENT_TYPE_KEY), schema.get(SCHEMA_VERSION_KEY)
    return (
        schema_id,
        None if event_type is None else str(event_type),
        version if isinstance(version, int) else None,
        json.dumps(schema, sort_keys=True),
        now,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class SQLiteSchemaStore:
    """The schemas table in a SQLite file (``sqlite:///path.db``).

    Its few statements run in a worker thread: ``sqlite3`` blocks (on the file, and up to the busy
    timeout on another writer's lock), which must not stall the event loop.
    """

    def __init__(self, url: str, *, busy_timeout: float = 10.0) -> None:
        database = make_url(url).database
        if not database:
            raise StoreError(f"{redact(url)!r}: no SQLite file to keep the Avro schemas in")
        self.path = database
        self.busy_timeout = busy_timeout

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        db.execute(_CREATE)
        return db

    def _load(self) -> list[Mapping[str, Any]]:
        db = self._connect()
        try:
            return [json.loads(text) for (text,) in db.execute(f"SELECT schema FROM {TABLE} ORDER BY schema_id")]
        finally:
            db.close()

    def _save(self, rows: list[tuple[int, str | None, int | None, str, str]]) -> None:
        db = self._connect()
        try:
            db.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        finally:
            db.close()

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        try:
            return await asyncio.to_thread(self._load)
        except sqlite3.Error as err:
            raise StoreError(f"cannot read the Avro schemas from {self.path}: {err}") from err

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        now = _now()
        rows = [_row(schema_id, schema, now) for schema_id, schema in schemas]
        try:
            await asyncio.to_thread(self._save, rows)
        except sqlite3.Error as err:
            raise StoreError(f"cannot save Avro schemas to {self.path}: {err}") from err


class PostgresSchemaStore:
    """The schemas table in a PostgreSQL database (``postgresql://...``).

    Through the PostgreSQL access layer (`pg_runner`): the event store's own ``runner`` while that
    is open (pool, reconnect, command timeout and error translation shared), else a runner of its
    own for the one call.
    """

    def __init__(self, url: str, *, runner: PostgresRunner | None = None) -> None:
        self.url = url
        self._runner = runner

    async def _run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        from eventsourcing.stores.sql.pg_runner import PostgresRunner

        if self._runner is not None and self._runner.is_open:
            return await self._runner.call(_in_table, work, retry=True)
        runner = PostgresRunner(self.url, what="PostgreSQL Avro schema store", max_size=1)
        await runner.open()
        try:
            return await runner.call(_in_table, work)
        finally:
            await runner.close()

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        return await self._run(_load_schemas)

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        now = _now()
        rows = [_row(schema_id, schema, now) for schema_id, schema in schemas]

        async def work(conn: asyncpg.Connection) -> None:
            await conn.executemany(f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", rows)

        await self._run(work)

    def __repr__(self) -> str:
        return f"PostgresSchemaStore({redact(self.url)!r})"


async def _in_table(conn: asyncpg.Connection, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """``work`` once the table exists (created under a lock: processes may race to create it)."""
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock(hashtext('{TABLE}'))")
        await conn.execute(_CREATE)
    return await work(conn)


async def _load_schemas(conn: asyncpg.Connection) -> list[Mapping[str, Any]]:
    rows = await conn.fetch(f"SELECT schema FROM {TABLE} ORDER BY schema_id")
    return [json.loads(row[0]) for row in rows]
