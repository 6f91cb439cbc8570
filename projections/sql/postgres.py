"""The PostgreSQL binding of `SQLCheckpointStore`, on the shared PostgreSQL access layer.

Every operation runs through a `PostgresRunner` (`eventsourcing.stores.sql.pg_runner`), as the
event and snapshot stores do: a lean pool that drops dead connections and reconnects (after
``pg_terminate_backend`` or a server restart the next call works, without reopening), the command
timeout, and the one translator of driver errors (a lock timeout is `StoreUnavailable` here too).

A batch is one transaction on a pooled connection: the checkpoint's compare-and-set
(``UPDATE ... WHERE seq = $n AND position IS NOT DISTINCT FROM $m``) first — it takes the
checkpoint row's lock, so a second runner of the same projector waits there and then finds the
row changed — then each group of recorded statements as one pipelined ``executemany``, then
``COMMIT``: a handful of round trips per batch, whatever its size. A batch whose handlers read
(``await view.fetch``) holds its connection (a `Lease`) from the first read to the commit. If the
connection is lost during the COMMIT, the batch may or may not be applied: the checkpoint and the
view change are one transaction, so a runner that reloads the checkpoint resumes exactly after
whatever was committed (nothing lost or applied twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Table

from eventsourcing import ConfigurationError, clock
from eventsourcing.projections.checkpoints import Checkpoint, DeadLetter, decode_position, encode_position
from eventsourcing.projections.checkpoints import batch_failed as _batch_failed
from eventsourcing.projections.errors import CheckpointConflict
from eventsourcing.projections.sql.ddl import (
    CHECKPOINTS,
    DEAD_LETTERS,
    ERRORS,
    create_statements,
    drop_statements,
    metadata,
)
from eventsourcing.projections.view import Ops, ViewBatch
from eventsourcing.stores.sql.rows import iso_utc

try:
    import asyncpg
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "PostgreSQL views need asyncpg: install the extra, `pip install 'async-eventsourcing[postgres]'`"
    ) from err

from eventsourcing.stores.sql.pg_runner import Lease, PostgresRunner  # isort: skip
from eventsourcing.stores.sql.pg_url import DEFAULT_COMMAND_TIMEOUT  # isort: skip
from eventsourcing.stores.sql.postgres import DIALECT as _DIALECT  # isort: skip

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

    def __init__(
        self, url: str, *, pool_size: int = 5, command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT
    ) -> None:
        self.url = url
        self.runner = PostgresRunner(
            url,
            what="PostgreSQL projection store",
            max_size=2 * pool_size,
            command_timeout=command_timeout,
            settings={"application_name": "eventsourcing-projections"},
        )

    async def open(self) -> None:
        await self.runner.open(_create_schema)

    async def close(self) -> None:
        await self.runner.close()

    async def load(self, name: str) -> Checkpoint:
        return _checkpoint(name, await self.runner.call(_load, name, retry=True))

    async def commit(
        self, expected: Checkpoint, position: Any, view: ViewBatch | None, dead_letter: DeadLetter | None
    ) -> Checkpoint:
        if view is not None and view.take_effects():
            raise ConfigurationError("ViewBatch.call effects need a MemoryCheckpointStore; SQL views use execute")
        if view is not None and view.failed is not None:
            raise _batch_failed(view.failed)
        ops = view.take_ops() if view is not None else []
        now = clock.now()
        dead = None if dead_letter is None else _dead_row(dead_letter, now)
        old, new = encode_position(expected.position), encode_position(position)
        args = (new, iso_utc(now), expected.name, expected.seq, old)
        if view is not None and view.in_transaction:
            lease: Lease = view.tx
            view.in_transaction, view.tx = False, None
            try:
                done = await lease.run(_finish, args, ops, dead)
            finally:
                lease.release()
        else:
            done = await self.runner.call(_commit, args, ops, dead)
        if not done:
            raise CheckpointConflict(expected.name, expected.seq)
        return Checkpoint(expected.name, position, expected.seq + 1, now)

    async def fetch_in_batch(self, view: ViewBatch, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            if not view.in_transaction:
                assert view.expected is not None
                expected = view.expected
                lease = await self.runner.lease()
                view.tx, view.in_transaction = lease, True
                stored = await lease.run(_begin_and_check, expected.name)
                if stored is None or (stored[0], stored[1]) != (expected.seq, encode_position(expected.position)):
                    await self.discard(view)
                    raise CheckpointConflict(expected.name, expected.seq)
            held: Lease = view.tx
            return await held.run(_fetch_in, view.take_ops(), view.tables.prepare(sql), params)
        except CheckpointConflict:
            raise
        except BaseException as err:
            view.failed = err  # the batch's writes so far went with the rollback: it must not commit
            await self.discard(view)
            raise

    async def discard(self, view: ViewBatch) -> None:
        view.take_ops()
        if view.in_transaction:
            lease: Lease = view.tx
            view.in_transaction, view.tx = False, None
            # Given back inside its transaction, the connection is closed (the server rolls back).
            lease.release()

    async def reset(self, name: str, drop: Sequence[Table], create: Sequence[Table]) -> Checkpoint:
        statements = [*drop_statements(drop, _DIALECT), *create_statements(create, _DIALECT)]
        return _checkpoint(name, await self.runner.call(_reset, name, statements, retry=True))

    async def create_tables(self, tables: Sequence[Table]) -> None:
        await self.runner.call(_in_schema_lock, create_statements(tables, _DIALECT), retry=True)

    async def dead_letters(self, name: str) -> list[DeadLetter]:
        rows = await self.runner.call(_fetch, _DEAD_LIST, (name,), retry=True)
        return [
            DeadLetter(n, UUID(e), s, v, t, decode_position(p), err, dt.datetime.fromisoformat(at))
            for n, e, s, v, t, p, err, at in rows
        ]

    async def record_error(self, checkpoint: Checkpoint, error: str) -> None:
        await self.runner.call(
            _execute, _ERROR, (checkpoint.name, checkpoint.seq, error, iso_utc(clock.now())), retry=True
        )

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self.runner.call(_fetch, _numbered(sql), params, retry=True)

    async def table_names(self) -> set[str]:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return {name for (name,) in await self.runner.call(_fetch, sql, (), retry=True)}

    async def forget(self, name: str, drop: Sequence[Table]) -> bool:
        return bool(await self.runner.call(_forget, name, drop_statements(drop, _DIALECT), retry=True))


# -- the operations, each one function over an asyncpg connection ---------------------------------


async def _create_schema(conn: asyncpg.Connection) -> None:
    await _in_schema_lock(conn, create_statements(metadata.sorted_tables, _DIALECT))


async def _in_schema_lock(conn: asyncpg.Connection, statements: Sequence[str]) -> None:
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        for statement in statements:
            await conn.execute(statement)


async def _load(conn: asyncpg.Connection, name: str) -> Any:
    await conn.execute(_ENSURE, name)
    return await conn.fetchrow(_LOAD, name)


async def _reset(conn: asyncpg.Connection, name: str, statements: Sequence[str]) -> Any:
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        # The checkpoint row first, the tables after: a batch's commit locks them in that order
        # (its compare-and-set, then its writes), so a reset taking the tables first deadlocks.
        await conn.execute(_ENSURE, name)
        await conn.execute(_RESET, name, iso_utc(clock.now()))
        for statement in statements:
            await conn.execute(statement)
        await conn.execute(f"DELETE FROM {DEAD_LETTERS} WHERE name = $1", name)
        await conn.execute(f"DELETE FROM {ERRORS} WHERE name = $1", name)
        return await conn.fetchrow(_LOAD, name)


async def _forget(conn: asyncpg.Connection, name: str, statements: Sequence[str]) -> bool:
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        # The checkpoint row first, the tables after: the lock order of a batch's commit (see _reset).
        existed: bool = await conn.execute(f"DELETE FROM {CHECKPOINTS} WHERE name = $1", name) != "DELETE 0"
        for statement in statements:
            await conn.execute(statement)
        await conn.execute(f"DELETE FROM {DEAD_LETTERS} WHERE name = $1", name)
        await conn.execute(f"DELETE FROM {ERRORS} WHERE name = $1", name)
        return existed


async def _fetch(conn: asyncpg.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await conn.fetch(sql, *params)]


async def _execute(conn: asyncpg.Connection, sql: str, params: Sequence[Any]) -> None:
    await conn.execute(sql, *params)


async def _begin_and_check(conn: asyncpg.Connection, name: str) -> Any:
    await conn.execute("BEGIN")
    return await conn.fetchrow(_CHECK, name)


async def _fetch_in(conn: asyncpg.Connection, ops: Ops, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    for statement, rows in ops:
        await conn.executemany(statement, rows)
    return [tuple(row) for row in await conn.fetch(sql, *params)]


async def _commit(conn: asyncpg.Connection, args: tuple[Any, ...], ops: Ops, dead: tuple[Any, ...] | None) -> bool:
    await conn.execute("BEGIN")
    return await _finish(conn, args, ops, dead)


async def _finish(conn: asyncpg.Connection, args: tuple[Any, ...], ops: Ops, dead: tuple[Any, ...] | None) -> bool:
    """The rest of a batch's transaction (opened by the caller): compare-and-set, view changes, COMMIT.

    On an error the transaction is left open: the connection goes back to the pool in it and is
    closed there, which rolls it back (no extra round trip, and nothing to fail on a dead connection).
    """
    if await conn.execute(_ADVANCE, *args) != "UPDATE 1":
        await conn.execute(_ENSURE, args[2])  # a checkpoint never loaded: create it, then try once more
        if args[3] != 0 or await conn.execute(_ADVANCE, *args) != "UPDATE 1":
            await conn.execute("ROLLBACK")
            return False
    for statement, rows in ops:
        await conn.executemany(statement, rows)
    if dead is not None:
        await conn.execute(_DEAD, *dead)
    await conn.execute("COMMIT")
    return True


def _numbered(sql: str) -> str:
    from eventsourcing.projections.view import _numbered as numbered

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
