"""The SQLite binding of `SQLCheckpointStore`: view tables, checkpoints and dead letters in one file.

Everything runs through `SQLiteRunner`, inline on the event loop: a batch is one synchronous
function — ``BEGIN IMMEDIATE``, the checkpoint's compare-and-set, a few ``executemany`` calls,
``COMMIT`` — so a batch of a thousand events costs one call and one fsync, never a round trip per
event. ``BEGIN IMMEDIATE`` takes the write lock first, so two runners of one projector are
serialised and the second one's compare-and-set fails (its batch is never applied).

A batch whose handlers read (``await view.fetch``) opens its transaction at the first read and
keeps the connection to itself (an `asyncio.Lock`) until it commits or is discarded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite as sqlite_dialect

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
from eventsourcing.stores.sql.sqlite_runner import SQLiteRunner

_DIALECT = sqlite_dialect.dialect()

_ENSURE = f"INSERT INTO {CHECKPOINTS} (name, position, seq) VALUES (?, NULL, 0) ON CONFLICT DO NOTHING"
_LOAD = (
    f"SELECT c.position, c.seq, c.updated_at, e.error FROM {CHECKPOINTS} c "
    f"LEFT JOIN {ERRORS} e ON e.name = c.name AND e.seq = c.seq WHERE c.name = ?"
)
_ERROR = (
    f"INSERT INTO {ERRORS} (name, seq, error, recorded_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
    "DO UPDATE SET seq = excluded.seq, error = excluded.error, recorded_at = excluded.recorded_at"
)
_ADVANCE = (
    f"UPDATE {CHECKPOINTS} SET position = ?, seq = seq + 1, updated_at = ? WHERE name = ? AND seq = ? AND position IS ?"
)
_RESET = f"UPDATE {CHECKPOINTS} SET position = NULL, seq = seq + 1, updated_at = ? WHERE name = ?"
_DEAD = (
    f"INSERT INTO {DEAD_LETTERS} (name, event_id, stream_id, version, event_type, position, error, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_DEAD_LIST = (
    f"SELECT name, event_id, stream_id, version, event_type, position, error, recorded_at FROM {DEAD_LETTERS} "
    "WHERE name = ? ORDER BY recorded_at, rowid"
)


class SQLiteCheckpointBackend:
    dialect = "sqlite"

    def __init__(self, url: str, *, busy_timeout: float = 10.0) -> None:
        self.url = url
        self._runner = SQLiteRunner(url, busy_timeout=busy_timeout, pool_size=2, what="SQLite projection store")
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        await self._runner.open(metadata)

    async def close(self) -> None:
        await self._runner.close()

    async def load(self, name: str) -> Checkpoint:
        async with self._lock:
            row = await self._runner.call(_load, name)
        return _checkpoint(name, row)

    async def commit(
        self, expected: Checkpoint, position: Any, view: ViewBatch | None, dead_letter: DeadLetter | None
    ) -> Checkpoint:
        ops = _sql_only(view)
        now = iso_utc(clock.now())
        dead = _dead_row(dead_letter, now)
        args = (expected.name, expected.seq, encode_position(expected.position), encode_position(position), now)
        if view is not None and view.failed is not None:
            raise _batch_failed(view.failed)
        if view is not None and view.in_transaction:
            try:
                done = await self._runner.call(_finish, args, ops, dead)
            except BaseException:
                # Cancelled before _finish ran (at the runner's yield), the transaction is still open
                # on the shared connection, holding the file's write lock: close it now, synchronously.
                self._runner.call_now(_rollback)
                raise
            finally:
                view.in_transaction = False
                self._lock.release()
        else:
            async with self._lock:
                done = await self._runner.call(_commit, args, ops, dead)
        if not done:
            raise CheckpointConflict(expected.name, expected.seq)
        return Checkpoint(expected.name, position, expected.seq + 1, _parse(now))

    async def fetch_in_batch(self, view: ViewBatch, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not view.in_transaction:
            assert view.expected is not None
            await self._lock.acquire()
            expected = view.expected
            try:
                begun = await self._runner.call(_begin, expected.name, expected.seq, encode_position(expected.position))
            except BaseException:
                self._lock.release()
                raise
            if not begun:
                self._lock.release()
                raise CheckpointConflict(expected.name, expected.seq)
            view.in_transaction = True
        try:
            return await self._runner.call(_flush_and_fetch, view.take_ops(), view.tables.prepare(sql), params)
        except BaseException as err:
            view.failed = err  # the batch's writes so far went with the rollback: it must not commit
            await self.discard(view)
            raise

    async def discard(self, view: ViewBatch) -> None:
        view.take_ops()
        if view.in_transaction:
            view.in_transaction = False
            try:
                self._runner.call_now(_rollback)  # no await: a second cancellation cannot leave it open
            finally:
                self._lock.release()

    async def reset(self, name: str, drop: Sequence[Table], create: Sequence[Table]) -> Checkpoint:
        statements = [*drop_statements(drop, _DIALECT), *create_statements(create, _DIALECT)]
        async with self._lock:
            row = await self._runner.call(_reset, name, statements, iso_utc(clock.now()))
        return _checkpoint(name, row)

    async def create_tables(self, tables: Sequence[Table]) -> None:
        statements = create_statements(tables, _DIALECT)
        async with self._lock:
            await self._runner.execute_in_transaction(statements)

    async def dead_letters(self, name: str) -> list[DeadLetter]:
        async with self._lock:
            rows = await self._runner.call(_fetch, _DEAD_LIST, (name,))
        return [
            DeadLetter(n, _uuid(e), s, v, t, decode_position(p), err, _parse(at)) for n, e, s, v, t, p, err, at in rows
        ]

    async def record_error(self, checkpoint: Checkpoint, error: str) -> None:
        row = (checkpoint.name, checkpoint.seq, error, iso_utc(clock.now()))
        async with self._lock:
            await self._runner.call(_execute, _ERROR, row)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._lock:
            return await self._runner.call(_fetch, sql, params)

    async def table_names(self) -> set[str]:
        async with self._lock:
            rows = await self._runner.call(_fetch, "SELECT name FROM sqlite_master WHERE type = 'table'", ())
        return {name for (name,) in rows}

    async def forget(self, name: str, drop: Sequence[Table]) -> bool:
        async with self._lock:
            return await self._runner.call(_forget, name, drop_statements(drop, _DIALECT))


def _sql_only(view: ViewBatch | None) -> Ops:
    if view is None:
        return []
    if view.take_effects():
        raise ConfigurationError(
            "ViewBatch.call effects need a MemoryCheckpointStore; a SQL view is written with execute"
        )
    return view.take_ops()


def _dead_row(letter: DeadLetter | None, now: str) -> tuple[Any, ...] | None:
    if letter is None:
        return None
    return (
        letter.name,
        str(letter.event_id),
        letter.stream_id,
        letter.version,
        letter.event_type,
        encode_position(letter.position),
        letter.error,
        now,
    )


def _checkpoint(name: str, row: tuple[Any, ...]) -> Checkpoint:
    position, seq, updated_at, error = row
    return Checkpoint(name, decode_position(position), seq, None if updated_at is None else _parse(updated_at), error)


def _uuid(text: str) -> UUID:
    return UUID(text)


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# -- the synchronous operations (inline on the loop, through SQLiteRunner) -------------------------


def _load(db: sqlite3.Connection, name: str) -> tuple[Any, ...]:
    db.execute(_ENSURE, (name,))
    row: tuple[Any, ...] = db.execute(_LOAD, (name,)).fetchone()
    return row


def _run(db: sqlite3.Connection, ops: Ops, dead: tuple[Any, ...] | None) -> None:
    for sql, params in ops:
        db.executemany(sql, params)
    if dead is not None:
        db.execute(_DEAD, dead)


def _advance(db: sqlite3.Connection, args: tuple[str, int, str | None, str | None, str]) -> bool:
    name, seq, old, new, now = args
    return bool(db.execute(_ADVANCE, (new, now, name, seq, old)).rowcount == 1)


def _commit(
    db: sqlite3.Connection, args: tuple[str, int, str | None, str | None, str], ops: Ops, dead: tuple[Any, ...] | None
) -> bool:
    _rollback(db)  # under the store's lock, a transaction still open is one a cancelled caller left
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_ENSURE, (args[0],))
        if not _advance(db, args):  # compare-and-set first: a loser applies nothing
            db.rollback()
            return False
        _run(db, ops, dead)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return True


def _begin(db: sqlite3.Connection, name: str, seq: int, position: str | None) -> bool:
    _rollback(db)  # as in _commit
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_ENSURE, (name,))
        stored = db.execute("SELECT seq, position FROM projection_checkpoints WHERE name = ?", (name,)).fetchone()
        if tuple(stored) != (seq, position):
            db.rollback()
            return False
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return True


def _flush_and_fetch(db: sqlite3.Connection, ops: Ops, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    _run(db, ops, None)
    return db.execute(sql, params).fetchall()


def _finish(
    db: sqlite3.Connection, args: tuple[str, int, str | None, str | None, str], ops: Ops, dead: tuple[Any, ...] | None
) -> bool:
    try:
        if not _advance(db, args):  # cannot happen while we hold the write lock, but never assume
            db.rollback()
            return False
        _run(db, ops, dead)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return True


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.rollback()


def _reset(db: sqlite3.Connection, name: str, statements: list[str], now: str) -> tuple[Any, ...]:
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            db.execute(statement)
        db.execute(_ENSURE, (name,))
        db.execute(_RESET, (now, name))
        db.execute(f"DELETE FROM {DEAD_LETTERS} WHERE name = ?", (name,))
        db.execute(f"DELETE FROM {ERRORS} WHERE name = ?", (name,))
        row: tuple[Any, ...] = db.execute(_LOAD, (name,)).fetchone()
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return row


def _forget(db: sqlite3.Connection, name: str, statements: list[str]) -> bool:
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            db.execute(statement)
        existed = db.execute(f"DELETE FROM {CHECKPOINTS} WHERE name = ?", (name,)).rowcount > 0
        db.execute(f"DELETE FROM {DEAD_LETTERS} WHERE name = ?", (name,))
        db.execute(f"DELETE FROM {ERRORS} WHERE name = ?", (name,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return existed


def _execute(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> None:
    db.execute(sql, params)  # one statement outside a transaction: committed on its own


def _fetch(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return db.execute(sql, params).fetchall()
