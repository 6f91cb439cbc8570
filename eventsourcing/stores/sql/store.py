"""`SQLEventStore`: the event store on a SQL database, chosen by URL.

One façade with the protocol's argument checks; a backend per dialect that differs only in
statements, execution and the classification of driver errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from eventsourcing.errors import ConfigurationError
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import EventRegistry
from eventsourcing.serialization import Codec, EventMapper
from eventsourcing.stores.atomic import StreamAppend, check_stream_appends
from eventsourcing.stores.base import (
    AppendResult,
    Expected,
    StoreCapabilities,
    StreamInfo,
    check_append_args,
    check_event_id,
    check_limit,
    check_list_args,
    check_read_args,
    check_stream_types,
    check_text,
)
from eventsourcing.stores.codecs import make_codec, schema_sync
from eventsourcing.stores.integrity import verify_read
from eventsourcing.stores.replay import StreamEvents, stream_events
from eventsourcing.urls import redact, sql_dialect

if TYPE_CHECKING:
    from eventsourcing.avro.persistence import SchemaStore


class _Backend(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected: Expected, stream_type: str
    ) -> AppendResult: ...
    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]: ...
    async def read(
        self, stream_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent[DomainEvent]]: ...
    async def read_all(
        self, after: Any, limit: int, stream_types: Sequence[str] | None
    ) -> list[RecordedEvent[DomainEvent]]: ...
    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None: ...
    async def head(self, stream_types: Sequence[str] | None) -> Any: ...
    def covers(self, checkpoint: Any, position: Any) -> bool: ...
    async def stream_version(self, stream_id: str) -> int: ...
    def subscribe(self, callback: Callable[[], None]) -> AbstractAsyncContextManager[None]: ...
    async def stream_info(self, stream_id: str) -> StreamInfo | None: ...
    async def list_streams(self, stream_type: str | None, after: str | None, limit: int) -> list[StreamInfo]: ...


class SQLEventStore:
    """Event store on SQLite (``sqlite:///path.db``) or PostgreSQL (``postgresql://...``).

    Entering the store (``async with``) connects and creates the schema if it is missing.
    ``isolation_level`` (PostgreSQL only): ``"READ COMMITTED"`` (default), ``"REPEATABLE READ"`` or
    ``"SERIALIZABLE"``; serialization failures surface as the retryable `ConcurrencyError`.
    ``strict_order`` (PostgreSQL): serialise appends with a table lock (waiting up to ``busy_timeout``
    seconds) for dense, commit-ordered integer positions; by default writers do not wait for one
    another and positions are ``[xid, position]`` pairs (see docs/postgres.md).
    ``codec``: ``"json"`` (default), ``"avro"`` (schemas kept in the table ``event_schemas``; see
    docs/schema-evolution.md) or a `Codec`.
    ``notify`` (PostgreSQL): after appends commit, send a NOTIFY that wakes followers in every
    process (`subscribe`; see docs/postgres.md); False to send none (followers then poll).
    ``command_timeout`` (PostgreSQL): seconds to wait for the server's answer before
    `StoreUnavailable` (`AppendOutcomeUnknown` for an append already sent); the URL parameter
    ``?command_timeout=`` overrides it; None for no limit. See docs/postgres.md.
    """

    capabilities = StoreCapabilities(total_order=True)

    def __init__(
        self,
        url: str,
        *,
        codec: Codec | str | None = None,
        registry: EventRegistry | None = None,
        busy_timeout: float = 10.0,
        pool_size: int = 5,
        isolation_level: str | None = None,
        strict_order: bool = False,
        command_timeout: float | None = 30.0,
        notify: bool = True,
    ) -> None:
        self.url = url
        mapper = EventMapper(make_codec(codec), registry)
        self.codec = mapper.codec
        scheme = sql_dialect(url)
        if scheme == "sqlite":
            from eventsourcing.stores.sql.sqlite import SQLiteBackend

            if isolation_level not in (None, "SERIALIZABLE"):
                raise ConfigurationError(
                    "SQLite transactions are always SERIALIZABLE; isolation_level is for PostgreSQL"
                )
            self._backend: _Backend = SQLiteBackend(url, mapper, busy_timeout=busy_timeout, pool_size=pool_size)
        elif scheme == "postgresql":
            from eventsourcing.stores.sql.postgres import PostgresBackend

            self._backend = PostgresBackend(
                url,
                mapper,
                pool_size=pool_size,
                isolation_level=isolation_level,
                strict_order=strict_order,
                busy_timeout=busy_timeout,
                command_timeout=command_timeout,
                notify=notify,
            )
        else:
            raise ConfigurationError(
                f"SQLEventStore does not support {redact(url)!r} (use sqlite:///path.db or postgresql://user@host/db)"
            )
        self._schemas = schema_sync(mapper.codec, self.schema_store)

    def schema_store(self) -> SchemaStore:
        """Where this database keeps Avro schemas (the table ``event_schemas``)."""
        from eventsourcing.avro.sql import PostgresSchemaStore, SQLiteSchemaStore

        if sql_dialect(self.url) == "sqlite":
            return SQLiteSchemaStore(self.url)
        # The event store's own access layer (pool, reconnect, timeout) while it is open.
        return PostgresSchemaStore(self.url, runner=getattr(self._backend, "runner", None))

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self._backend.open()
        if self._schemas is not None:
            try:
                await self._schemas.load()
            except BaseException:
                await self._backend.close()
                raise

    async def close(self) -> None:
        await self._backend.close()

    def subscribe(self, callback: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """Call ``callback()`` after appends while the returned context is entered (see
        `eventsourcing.stores.notify`): on PostgreSQL, appends of every process whose store notifies
        (LISTEN/NOTIFY); on SQLite, this store's own appends. A `ProjectionRunner` subscribes while it runs."""
        return self._backend.subscribe(callback)

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: Expected, *, stream_type: str
    ) -> AppendResult:
        check_append_args(stream_id, events, expected_version, stream_type)
        if self._schemas is not None:
            await self._schemas.before_append(events)
        return await self._backend.append(stream_id, events, expected_version, stream_type)

    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append to several streams in one transaction: all of them or none (see `AppendsAtomically`)."""
        parts = check_stream_appends(appends)
        if self._schemas is not None:
            await self._schemas.before_append([e for part in parts for e in part.events])
        return await self._backend.append_streams(parts)

    async def read(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> list[RecordedEvent[DomainEvent]]:
        check_text(stream_id, "stream_id")
        first, last, as_of = check_read_args(from_version, to_version, as_of)
        records = await self._read(stream_id, first, last, as_of)
        end = records[-1].version if records else 0
        await verify_read(stream_id, first, last, as_of, len(records), end, **self._checks(stream_id))
        return records

    async def read_events(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> StreamEvents:
        """What `read` returns, as `StreamEvents` (`Repository.get` rebuilds aggregates from these)."""
        check_text(stream_id, "stream_id")
        first, last, as_of = check_read_args(from_version, to_version, as_of)
        narrow = getattr(self._backend, "read_events", None)

        async def read() -> StreamEvents:
            if narrow is None:  # a backend without a narrower read: the records' events
                return stream_events(await self._backend.read(stream_id, first, last, as_of))
            result: StreamEvents = await narrow(stream_id, first, last, as_of)
            return result

        found = await (read() if self._schemas is None else self._schemas.reading(read))
        await verify_read(stream_id, first, last, as_of, len(found.events), found.version, **self._checks(stream_id))
        return found

    async def _read(
        self, stream_id: str, first: int, last: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent[DomainEvent]]:
        if self._schemas is not None:
            return await self._schemas.reading(lambda: self._backend.read(stream_id, first, last, as_of))
        return await self._backend.read(stream_id, first, last, as_of)

    def _checks(self, stream_id: str) -> dict[str, Any]:
        """`verify_read`'s look-ups for one stream (called only when a read stops short or has a hole)."""

        async def head() -> int:
            return await self._backend.stream_version(stream_id)

        async def versions(first: int, last: int) -> list[int]:
            return [record.version for record in await self._read(stream_id, first, last, None)]

        return {"head": head, "versions": versions}

    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        limit = check_limit(limit)
        wanted = check_stream_types(stream_types)
        if self._schemas is not None:
            return await self._schemas.reading(lambda: self._backend.read_all(after, limit, wanted))
        return await self._backend.read_all(after, limit, wanted)

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        check_event_id(event_id)
        if self._schemas is not None:
            return await self._schemas.reading(lambda: self._backend.get_event(event_id))
        return await self._backend.get_event(event_id)

    async def stored_schemas(self) -> list[Mapping[str, Any]]:
        """The Avro schemas this database holds (none if it never stored Avro payloads)."""
        return await self.schema_store().load_schemas()

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        return await self._backend.head(check_stream_types(stream_types))

    def covers(self, checkpoint: Any, position: Any) -> bool:
        return self._backend.covers(checkpoint, position)

    async def stream_version(self, stream_id: str) -> int:
        return await self._backend.stream_version(check_text(stream_id, "stream_id"))

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        return await self._backend.stream_info(check_text(stream_id, "stream_id"))

    async def list_streams(
        self, *, stream_type: str | None = None, after: str | None = None, limit: int = 1000
    ) -> list[StreamInfo]:
        limit = check_list_args(stream_type, after, limit)
        return await self._backend.list_streams(stream_type, after, limit)

    def __repr__(self) -> str:
        return f"SQLEventStore({redact(self.url)!r})"
