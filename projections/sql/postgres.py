"""The PostgreSQL binding of `SQLCheckpointStore` (SQLAlchemy creates the engine and schema; asyncpg runs batches).

A batch is one transaction on a pooled asyncpg connection: the checkpoint's compare-and-set
(``UPDATE ... WHERE seq = $n AND position IS NOT DISTINCT FROM $m``) first — it takes the
checkpoint row's lock, so a second runner of the same projector waits there and then finds the
row changed — then each group of recorded statements as one pipelined ``executemany``, then
``COMMIT``: a handful of round trips per batch, whatever its size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from eventsourcing import ConfigurationError, StoreError, StoreUnavailable, clock
from eventsourcing.stores.sql.rows import iso_utc
from projections.checkpoints import Checkpoint, DeadLetter, decode_position, encode_position
from projections.errors import CheckpointConflict
from projections.sql.ddl import CHECKPOINTS, DEAD_LETTERS, ERRORS, create_statements, drop_statements, metadata
from projections.view import Ops, View

try:
    import asyncpg
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "PostgreSQL views need asyncpg: install the extra, `pip install 'async-eventsourcing[postgres]'`"
    ) from err

_DIALECT = pg_dialect.dialect()  # type: ignore[no-untyped-call]
_SCHEMA_LOCK = 0x7072_6F6A_6563_0001  # serialises schema creation between processes (arbitrary, fixed)

_ENSURE = f"INSERT INTO {CHECKPOINTS} (name, position, seq) VALUES ($1, NULL, 0) ON CONFLICT DO NOTHING"
_LOAD = (
    f"SELECT c.position, c.seq, c.updated_at, e.error FROM {CHECKPOINTS} c "
    f"LEFT JOIN {ERRORS} e ON e.name = c.name AND e.seq = c.seq WHERE c.name = $1"
)
_ERROR = (
    f"INSERT INTO {ERRORS} (name, seq, error, recorded_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) "
    "DO UPDATE SET seq = excluded.seq, error = excluded.error, recorded_at = excluded.recorded_at"
)
_ADVANCE = (
    f"UPDATE {CHECKPOINTS} SET position = $1, seq = seq + 1, updated_at = $2 "
    "WHERE name = $3 AND seq = $4 AND position IS NOT DISTINCT FROM $5"
)
_CHECK = f"SELECT seq, position FROM {CHECKPOINTS} WHERE name = $1 FOR UPDATE"
_RESET = f"UPDATE {CHECKPOINTS} SET position = NULL, seq = seq + 1, updated_at = $2 WHERE name = $1"
_DEAD = (
    f"INSERT INTO {DEAD_LETTERS} (name, event_id, stream_id, version, event_type, position, error, recorded_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
_DEAD_LIST = (
    f"SELECT name, event_id, stream_id, version, event_type, position, error, recorded_at FROM {DEAD_LETTERS} "
    "WHERE name = $1 ORDER BY recorded_at"
)


class PostgresCheckpointBackend:
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        _scheme, rest = url.split("://", 1)
        self.url = url
        self._engine: AsyncEngine = create_async_engine(
            f"postgresql+asyncpg://{rest}",
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"server_settings": {"application_name": "eventsourcing-projections"}},
        )

    async def open(self) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})"))
                await conn.run_sync(metadata.create_all)
        except (SQLAlchemyError, OSError) as err:
            raise _translate(err, f"cannot open the PostgreSQL projection store {self._where()}") from err

    async def close(self) -> None:
        await self._engine.dispose()

    async def load(self, name: str) -> Checkpoint:
        async with self._connection() as raw:
            await raw.execute(_ENSURE, name)
            row = await raw.fetchrow(_LOAD, name)
        return _checkpoint(name, row)

    async def commit(
        self, expected: Checkpoint, position: Any, view: View | None, dead_letter: DeadLetter | None
    ) -> Checkpoint:
        if view is not None and view.take_effects():
            raise ConfigurationError("View.call effects need a MemoryCheckpointStore; SQL views use execute")
        ops = view.take_ops() if view is not None else []
        now = clock.now()
        dead = None if dead_letter is None else _dead_row(dead_letter, now)
        old, new = encode_position(expected.position), encode_position(position)
        args = (new, iso_utc(now), expected.name, expected.seq, old)
        if view is not None and view.in_transaction:
            conn, raw, tx = view.tx
            view.in_transaction, view.tx = False, None
            try:
                done = await _finish(raw, tx, args, ops, dead)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
                raise _translate(err, f"PostgreSQL projection store {self._where()}") from err
            finally:
                await conn.close()
        else:
            async with self._connection() as raw:
                tx = raw.transaction()
                await tx.start()
                done = await _finish(raw, tx, args, ops, dead)
        if not done:
            raise CheckpointConflict(expected.name, expected.seq)
        return Checkpoint(expected.name, position, expected.seq + 1, now)

    async def fetch_in_batch(self, view: View, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            if not view.in_transaction:
                assert view.expected is not None
                expected = view.expected
                conn = await self._engine.connect()
                raw: Any = (await conn.get_raw_connection()).driver_connection
                tx = raw.transaction()
                await tx.start()
                view.tx, view.in_transaction = (conn, raw, tx), True
                stored = await raw.fetchrow(_CHECK, expected.name)
                if stored is None or (stored[0], stored[1]) != (expected.seq, encode_position(expected.position)):
                    await self.discard(view)
                    raise CheckpointConflict(expected.name, expected.seq)
            _conn, raw, _tx = view.tx
            for statement, rows in view.take_ops():
                await raw.executemany(statement, rows)
            return [tuple(row) for row in await raw.fetch(view.tables.prepare(sql), *params)]
        except CheckpointConflict:
            raise
        except BaseException as err:
            await self.discard(view)
            if isinstance(err, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
                raise _translate(err, f"PostgreSQL projection store {self._where()}") from err
            raise

    async def discard(self, view: View) -> None:
        view.take_ops()
        if view.in_transaction:
            conn, _raw, tx = view.tx
            view.in_transaction, view.tx = False, None
            try:
                await tx.rollback()
            finally:
                await conn.close()

    async def reset(self, name: str, drop: Sequence[Table], create: Sequence[Table]) -> Checkpoint:
        statements = [*drop_statements(drop, _DIALECT), *create_statements(create, _DIALECT)]
        async with self._connection() as raw, raw.transaction():
            await raw.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            # The checkpoint row first, the tables after: a batch's commit locks them in that order
            # (its compare-and-set, then its writes), so a reset taking the tables first deadlocks.
            await raw.execute(_ENSURE, name)
            await raw.execute(_RESET, name, iso_utc(clock.now()))
            for statement in statements:
                await raw.execute(statement)
            await raw.execute(f"DELETE FROM {DEAD_LETTERS} WHERE name = $1", name)
            await raw.execute(f"DELETE FROM {ERRORS} WHERE name = $1", name)
            row = await raw.fetchrow(_LOAD, name)
        return _checkpoint(name, row)

    async def create_tables(self, tables: Sequence[Table]) -> None:
        async with self._connection() as raw, raw.transaction():
            await raw.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            for statement in create_statements(tables, _DIALECT):
                await raw.execute(statement)

    async def dead_letters(self, name: str) -> list[DeadLetter]:
        async with self._connection() as raw:
            rows = await raw.fetch(_DEAD_LIST, name)
        return [
            DeadLetter(n, UUID(e), s, v, t, decode_position(p), err, dt.datetime.fromisoformat(at))
            for n, e, s, v, t, p, err, at in rows
        ]

    async def record_error(self, checkpoint: Checkpoint, error: str) -> None:
        async with self._connection() as raw:
            await raw.execute(_ERROR, checkpoint.name, checkpoint.seq, error, iso_utc(clock.now()))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        prepared = _numbered(sql)
        async with self._connection() as raw:
            return [tuple(row) for row in await raw.fetch(prepared, *params)]

    def _connection(self) -> _Connection:
        return _Connection(self)

    def _where(self) -> str:
        return self._engine.url.render_as_string(hide_password=True).replace("postgresql+asyncpg://", "postgresql://")


class _Connection:
    """A pooled connection's asyncpg connection, with driver errors translated on the way out."""

    def __init__(self, backend: PostgresCheckpointBackend) -> None:
        self._backend = backend
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Any:
        try:
            self._conn = await self._backend._engine.connect()
            return (await self._conn.get_raw_connection()).driver_connection
        except (SQLAlchemyError, OSError) as err:
            raise _translate(err, f"PostgreSQL projection store {self._backend._where()}") from err

    async def __aexit__(self, exc_type: object, exc: BaseException | None, _tb: object) -> None:
        assert self._conn is not None
        await self._conn.close()
        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
            raise _translate(exc, f"PostgreSQL projection store {self._backend._where()}") from exc


async def _finish(raw: Any, tx: Any, args: tuple[Any, ...], ops: Ops, dead: tuple[Any, ...] | None) -> bool:
    try:
        if await raw.execute(_ADVANCE, *args) != "UPDATE 1":
            await raw.execute(_ENSURE, args[2])  # a checkpoint never loaded: create it, then try once more
            if args[3] != 0 or await raw.execute(_ADVANCE, *args) != "UPDATE 1":
                await tx.rollback()
                return False
        for statement, rows in ops:
            await raw.executemany(statement, rows)
        if dead is not None:
            await raw.execute(_DEAD, *dead)
        await tx.commit()
    except BaseException:
        await tx.rollback()
        raise
    return True


def _numbered(sql: str) -> str:
    from projections.view import _numbered as numbered

    return numbered(sql)


def _dead_row(letter: DeadLetter, now: dt.datetime) -> tuple[Any, ...]:
    return (
        letter.name,
        str(letter.event_id),
        letter.stream_id,
        letter.version,
        letter.event_type,
        encode_position(letter.position),
        letter.error,
        iso_utc(now),
    )


def _checkpoint(name: str, row: Any) -> Checkpoint:
    position, seq, updated_at, error = row
    at = None if updated_at is None else dt.datetime.fromisoformat(updated_at)
    return Checkpoint(name, decode_position(position), seq, at, error)


def _translate(err: BaseException, where: str) -> StoreError:
    if isinstance(err, DBAPIError) and err.orig is not None:
        err = err.orig.__cause__ or err.orig
    state = getattr(err, "sqlstate", None) or ""
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, OSError | asyncpg.PostgresConnectionError) or state.startswith(("08", "57P", "53", "3D")):
        return StoreUnavailable(f"{where}: {message}")
    return StoreError(f"{where}: {message} (SQLSTATE {state})" if state else f"{where}: {message}")
