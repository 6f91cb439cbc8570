"""`SQLCheckpointStore`: checkpoints, dead letters and view tables in a SQL database, chosen by URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, Self

from sqlalchemy import Table

from eventsourcing import ConfigurationError
from eventsourcing.projections.checkpoints import Checkpoint, DeadLetter
from eventsourcing.projections.view import ViewBatch
from eventsourcing.urls import redact, sql_dialect

__all__ = ["SQLCheckpointStore"]


class _Backend(Protocol):
    dialect: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def load(self, name: str) -> Checkpoint: ...
    async def commit(
        self, expected: Checkpoint, position: Any, view: ViewBatch | None, dead_letter: DeadLetter | None
    ) -> Checkpoint: ...
    async def fetch_in_batch(self, view: ViewBatch, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...
    async def discard(self, view: ViewBatch) -> None: ...
    async def reset(self, name: str, drop: Sequence[Table], create: Sequence[Table]) -> Checkpoint: ...
    async def create_tables(self, tables: Sequence[Table]) -> None: ...
    async def dead_letters(self, name: str) -> list[DeadLetter]: ...
    async def record_error(self, checkpoint: Checkpoint, error: str) -> None: ...
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    async def table_names(self) -> set[str]: ...
    async def forget(self, name: str, drop: Sequence[Table]) -> bool: ...


class SQLCheckpointStore:
    """Views and checkpoints on SQLite (``sqlite:///views.db``) or PostgreSQL (``postgresql://...``).

    The database may be the event store's own or another one: a batch's view change and checkpoint
    share a transaction of *this* database, which is all exactly-once needs. On PostgreSQL,
    ``command_timeout`` (seconds, or None; the URL's ``?command_timeout=`` overrides it) bounds
    the wait for the server's answer (see docs/postgres.md).
    """

    def __init__(
        self, url: str, *, busy_timeout: float = 10.0, pool_size: int = 5, command_timeout: float | None = 30.0
    ) -> None:
        self.url = url
        scheme = sql_dialect(url)
        if scheme == "sqlite":
            from eventsourcing.projections.sql.sqlite import SQLiteCheckpointBackend

            self._backend: _Backend = SQLiteCheckpointBackend(url, busy_timeout=busy_timeout)
        elif scheme == "postgresql":
            from eventsourcing.projections.sql.postgres import PostgresCheckpointBackend

            self._backend = PostgresCheckpointBackend(url, pool_size=pool_size, command_timeout=command_timeout)
        else:
            raise ConfigurationError(
                f"SQLCheckpointStore does not support {redact(url)!r} (use sqlite:///views.db or postgresql://...)"
            )
        self.dialect: str | None = self._backend.dialect

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self._backend.open()

    async def close(self) -> None:
        await self._backend.close()

    async def load(self, name: str) -> Checkpoint:
        return await self._backend.load(name)

    async def commit(
        self,
        expected: Checkpoint,
        position: Any,
        view: ViewBatch | None = None,
        dead_letter: DeadLetter | None = None,
    ) -> Checkpoint:
        return await self._backend.commit(expected, position, view, dead_letter)

    async def fetch_in_batch(self, view: ViewBatch, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._backend.fetch_in_batch(view, sql, params)

    async def discard(self, view: ViewBatch) -> None:
        await self._backend.discard(view)

    async def reset(self, name: str, *, drop: Sequence[Table] = (), create: Sequence[Table] = ()) -> Checkpoint:
        return await self._backend.reset(name, drop, create)

    async def create_tables(self, tables: Sequence[Table]) -> None:
        await self._backend.create_tables(tables)

    async def dead_letters(self, name: str) -> list[DeadLetter]:
        return await self._backend.dead_letters(name)

    async def record_error(self, checkpoint: Checkpoint, error: str) -> None:
        await self._backend.record_error(checkpoint, error)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._backend.fetch(sql, params)

    async def table_names(self) -> set[str]:
        """The names of the tables in the database (its current schema, on PostgreSQL)."""
        return await self._backend.table_names()

    async def forget(self, name: str, *, drop: Sequence[Table] = ()) -> bool:
        """Drop ``drop`` and delete checkpoint ``name`` with its errors and dead letters, in one transaction.

        Returns whether the checkpoint existed. For views no runner follows any more (as-of builds):
        a runner still following ``name`` would start it again from the beginning.
        """
        return await self._backend.forget(name, drop)

    def __repr__(self) -> str:
        return f"SQLCheckpointStore({redact(self.url)!r})"
