"""`SchemaStore`s for the SQL event stores: the table ``event_schemas`` in the events' database.

One row per schema, keyed by its id; inserting a schema that is there already does nothing. The
schema's JSON is kept as derived (with defaults and docs), next to the event type and version it
was derived for, so the table reads well on its own (``SELECT event_type, schema_version ...``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import make_url

from eventsourcing.avro.derive import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY
from eventsourcing.errors import StoreError, StoreUnavailable

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
    """The schemas table in a SQLite file (``sqlite:///path.db``)."""

    def __init__(self, url: str, *, busy_timeout: float = 10.0) -> None:
        database = make_url(url).database
        if not database:
            raise StoreError(f"{url!r}: no SQLite file to keep the Avro schemas in")
        self.path = database
        self.busy_timeout = busy_timeout

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        db.execute(_CREATE)
        return db

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        try:
            db = self._connect()
            try:
                return [json.loads(text) for (text,) in db.execute(f"SELECT schema FROM {TABLE} ORDER BY schema_id")]
            finally:
                db.close()
        except sqlite3.Error as err:
            raise StoreError(f"cannot read the Avro schemas from {self.path}: {err}") from err

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        now = _now()
        try:
            db = self._connect()
            try:
                db.executemany(
                    f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [_row(schema_id, schema, now) for schema_id, schema in schemas],
                )
            finally:
                db.close()
        except sqlite3.Error as err:
            raise StoreError(f"cannot save Avro schemas to {self.path}: {err}") from err


class PostgresSchemaStore:
    """The schemas table in a PostgreSQL database (``postgresql://...``)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _run(self, what: str, work: Any) -> Any:
        import asyncpg

        try:
            conn = await asyncpg.connect(self.dsn)
        except (OSError, asyncpg.PostgresError) as err:
            raise StoreUnavailable(f"cannot connect to PostgreSQL to {what}: {err}") from err
        try:
            await conn.execute(f"SELECT pg_advisory_lock(hashtext('{TABLE}')); {_CREATE}")
            await conn.execute(f"SELECT pg_advisory_unlock(hashtext('{TABLE}'))")
            return await work(conn)
        except asyncpg.PostgresError as err:
            raise StoreError(f"cannot {what}: {err}") from err
        finally:
            await conn.close()

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        async def work(conn: Any) -> list[Mapping[str, Any]]:
            rows = await conn.fetch(f"SELECT schema FROM {TABLE} ORDER BY schema_id")
            return [json.loads(row[0]) for row in rows]

        result: list[Mapping[str, Any]] = await self._run("read the Avro schemas", work)
        return result

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        now = _now()

        async def work(conn: Any) -> None:
            await conn.executemany(
                f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                [_row(schema_id, schema, now) for schema_id, schema in schemas],
            )

        await self._run("save Avro schemas", work)
