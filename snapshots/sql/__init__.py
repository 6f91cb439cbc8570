"""`SQLSnapshotStore`: snapshots in a SQL table, in the event store's database or another one.

One class for every SQL URL; the dialect's module does the work: `eventsourcing.snapshots.sql.sqlite` (through
the event store's `SQLiteRunner`) and `eventsourcing.snapshots.sql.postgres` (asyncpg, imported only for a
``postgresql://`` URL, so SQLite users need no PostgreSQL driver).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, Self

from eventsourcing.errors import ConfigurationError
from eventsourcing.snapshotting import Snapshot, check_keep
from eventsourcing.urls import redact, sql_dialect


class _Backend(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def save(self, snapshot: Snapshot) -> None: ...

    async def latest(
        self, stream_id: str, *, fingerprint: str, max_version: int | None, as_of: dt.datetime | None
    ) -> Snapshot | None: ...

    async def list(self, *, stream_id: str | None, stream_type: str | None) -> list[Snapshot]: ...

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int: ...

    async def keep_newest(self, n: int, *, stream_id: str | None, stream_type: str | None) -> int: ...


class SQLSnapshotStore:
    """``SQLSnapshotStore("sqlite:///events.db")`` or ``SQLSnapshotStore("postgresql://user@host/db")``.

    The event store's database is fine (the table is ``snapshots``), or another one. ``busy_timeout``
    (seconds) bounds waits for SQLite's write lock; ``pool_size`` is PostgreSQL's connection pool and
    ``command_timeout`` its client-side timeout (seconds, or None; the URL's ``?command_timeout=``
    overrides it).
    """

    def __init__(
        self, url: str, *, busy_timeout: float = 10.0, pool_size: int = 2, command_timeout: float | None = 30.0
    ) -> None:
        self.url = url
        scheme = sql_dialect(url)
        self._backend: _Backend
        if scheme == "sqlite":
            from eventsourcing.snapshots.sql.sqlite import SQLiteSnapshots

            self._backend = SQLiteSnapshots(url, busy_timeout=busy_timeout)
        elif scheme == "postgresql":
            from eventsourcing.snapshots.sql.postgres import PostgresSnapshots

            self._backend = PostgresSnapshots(url, pool_size=pool_size, command_timeout=command_timeout)
        else:
            raise ConfigurationError(
                f"SQLSnapshotStore does not support {redact(url)!r} (use sqlite:///path.db or postgresql://...)"
            )

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and create the ``snapshots`` table if it is missing (idempotent)."""
        await self._backend.open()

    async def close(self) -> None:
        await self._backend.close()

    async def save(self, snapshot: Snapshot) -> None:
        await self._backend.save(snapshot)

    async def latest(
        self,
        stream_id: str,
        *,
        fingerprint: str,
        max_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> Snapshot | None:
        return await self._backend.latest(stream_id, fingerprint=fingerprint, max_version=max_version, as_of=as_of)

    async def list(self, *, stream_id: str | None = None, stream_type: str | None = None) -> list[Snapshot]:
        return await self._backend.list(stream_id=stream_id, stream_type=stream_type)

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int:
        return await self._backend.prune(stream_type=stream_type, keep_fingerprint=keep_fingerprint)

    async def keep_newest(self, n: int, *, stream_id: str | None = None, stream_type: str | None = None) -> int:
        return await self._backend.keep_newest(check_keep(n), stream_id=stream_id, stream_type=stream_type)

    def __repr__(self) -> str:
        return f"SQLSnapshotStore({redact(self.url)!r})"
