"""The PostgreSQL binding of `SQLEventStore` (SQLAlchemy 2 asyncio + asyncpg).

Ordering without serialising writers. Positions come from an identity sequence, and sequence
values are handed out when rows are inserted, not when transactions commit: a follower that reads
``position > cursor`` can pass an event whose transaction commits later with a lower number, and
never see it. So every event also stores the id of the transaction that wrote it
(``pg_current_xact_id()``), and ``read_all`` returns only rows written by transactions older than
the oldest transaction still running (``pg_snapshot_xmin(pg_current_snapshot())``), ordered by the
``(xid, position)`` pair. Below that horizon every transaction has finished, so no row can ever
appear before a cursor once a follower has passed it. Writers never wait for one another (only
appends to the same stream conflict); the cost is that a long-running writing transaction anywhere
in the cluster holds the horizon back, delaying followers (never skipping). There is no "gap"
timeout: skipping after a wall-clock delay is exactly the bug this avoids.

The position token is the JSON-friendly pair ``[xid, position]`` (a list of two ints); a tuple is
accepted back as well.

Strict order (``strict_order=True``) is the other trade: appends take an EXCLUSIVE lock on the
table (waiting at most the busy timeout) and number their events ``max(position) + 1, ...`` under
it, so positions are dense and commit-ordered and the token is a plain int; writers to different
streams then wait for one another. Every writer of one table must use the same mode.

Execution: the shared PostgreSQL access layer (`pg_runner`: lean pool, reconnect, command timeout,
error translation) runs each operation on a pooled connection outside any transaction, so a
statement is its own transaction: an append of a few events is one round trip (one statement that
reads the stream's version, checks the expectation and inserts the whole batch from arrays); a big
batch goes in through COPY (`pg_copy`). An append whose connection is lost or times out after it
was sent raises `AppendOutcomeUnknown`: re-sending the same event ids settles it (an exact retry
returns the original result). SQLAlchemy only describes the schema (its DDL is compiled once).
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.types import UserDefinedType

from eventsourcing.errors import (
    AppendOutcomeUnknown,
    ConcurrencyError,
    ConfigurationError,
    InvalidArgument,
    StreamTypeMismatch,
)
from eventsourcing.events import EMPTY_METADATA, DomainEvent, NewEvent, RecordedEvent
from eventsourcing.serialization import EventMapper
from eventsourcing.stores.atomic import Refusal, StreamAppend, settle_refusal
from eventsourcing.stores.base import (
    ANY,
    MAX_POSITION,
    AppendResult,
    Expected,
    StoredRef,
    StreamInfo,
    admits,
    conflict,
    resolve_retry,
    utc_timestamp,
)
from eventsourcing.stores.sql.ddl import create_statements
from eventsourcing.stores.sql.rows import decode_rows

try:
    import asyncpg
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "the PostgreSQL event store needs asyncpg: install the extra, `pip install 'async-eventsourcing[postgres]'`"
    ) from err

from eventsourcing.stores.sql.pg_copy import copy_rows, micros
from eventsourcing.stores.sql.pg_errors import translate
from eventsourcing.stores.sql.pg_notify import AppendNotifier, listen
from eventsourcing.stores.sql.pg_runner import PostgresRunner
from eventsourcing.stores.sql.pg_url import DEFAULT_COMMAND_TIMEOUT

T = TypeVar("T")

DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit, never-wrapping transaction id (asyncpg reads it as an int)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "xid8"


metadata = MetaData()
events_table = Table(
    "events",
    metadata,
    Column("position", BigInteger, Identity(), nullable=False),
    Column("xid", XID8(), nullable=False, server_default=text("pg_current_xact_id()")),
    Column("stream_id", Text, nullable=False),
    Column("stream_type", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("metadata", LargeBinary),
    Column("payload", LargeBinary, nullable=False),
    # Three indexes, each one written per event, so each one paid by every append (an append of
    # 1,000 events spends most of its time maintaining them): the global log's order and cursor
    # (also the key: identity positions are unique, so the pair is), a stream's events in order
    # (and the optimistic-concurrency check), and the idempotency key. read_all filtered by stream
    # type walks the log's order and skips other types' rows rather than keep an index of its own.
    PrimaryKeyConstraint("xid", "position", name="pk_events_xid_position"),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    UniqueConstraint("event_id", name="uq_events_event_id"),
)
# Strict order reads and numbers by position alone: tables used in that mode also get this index
# (created when a strict-order store opens).
STRICT_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS ix_events_position ON events (position)"

# Serialises schema creation between processes opening the store at once (CREATE ... IF NOT
# EXISTS alone races on the catalogs). An arbitrary, fixed advisory lock key.
_SCHEMA_LOCK = 0x6576_656E_7473_0001

# ANY / EXISTS travel as negative numbers so that the whole check is one statement.
_ANY, _EXISTS = -1, -2

# One round trip: read the stream's version, check the expectation, insert the batch (unnest of
# arrays). When nothing is inserted, also say whether some of the ids are stored already, so the
# caller can tell an exact retry from a conflict. Under READ COMMITTED two appends that read the
# same version both try to insert the next one: the unique (stream_id, version) index makes the
# later one fail, and it is reported as a conflict.
APPEND = """
WITH head AS (
    SELECT coalesce(max(version), 0) AS actual,
           (SELECT stream_type FROM events WHERE stream_id = $1 ORDER BY version LIMIT 1) AS stored_type
    FROM events WHERE stream_id = $1
), inserted AS (
    INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version,
                        timestamp, metadata, payload)
    SELECT $1, $2, head.actual + e.n, e.event_id, e.event_type, e.schema_version, e.ts, e.metadata, e.payload
    FROM head,
         unnest($4::uuid[], $5::text[], $6::int[], $7::timestamptz[], $8::bytea[], $9::bytea[])
             WITH ORDINALITY AS e(event_id, event_type, schema_version, ts, metadata, payload, n)
    WHERE ($3::int = -1 OR ($3::int = -2 AND head.actual > 0) OR $3::int = head.actual)
      AND (head.stored_type IS NULL OR head.stored_type = $2)
    RETURNING xid, position
)
SELECT head.actual,
       head.stored_type,
       last.xid::text::bigint AS xid,
       last.position,
       CASE WHEN last.position IS NULL
            THEN EXISTS (SELECT 1 FROM events WHERE event_id = ANY($4::uuid[])) END AS reused
FROM head LEFT JOIN (SELECT xid, position FROM inserted ORDER BY position DESC LIMIT 1) AS last ON true
"""

# Strict order: one round trip too, through a server-side function (a statement cannot take a lock
# before its own snapshot). Under READ COMMITTED each statement in the function sees what committed
# before the lock was granted, so max(position) is the last committed position.
STRICT_FUNCTION = """
CREATE OR REPLACE FUNCTION eventsourcing_append_strict(
    p_stream_id text, p_stream_type text, p_expected int, p_lock_timeout text,
    p_event_ids uuid[], p_event_types text[], p_schema_versions int[], p_timestamps timestamptz[],
    p_metadata bytea[], p_payloads bytea[]
) RETURNS TABLE (actual int, stored_type text, xid bigint, last_position bigint, reused boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_actual int;
    v_type text;
    v_base bigint;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout, true);
    LOCK TABLE events IN EXCLUSIVE MODE;
    SELECT coalesce(max(e.version), 0) INTO v_actual FROM events AS e WHERE e.stream_id = p_stream_id;
    SELECT e.stream_type INTO v_type FROM events AS e WHERE e.stream_id = p_stream_id ORDER BY e.version LIMIT 1;
    IF NOT (p_expected = -1 OR (p_expected = -2 AND v_actual > 0) OR p_expected = v_actual)
       OR (v_type IS NOT NULL AND v_type <> p_stream_type) THEN
        RETURN QUERY SELECT v_actual, v_type, NULL::bigint, NULL::bigint,
            EXISTS (SELECT 1 FROM events AS e WHERE e.event_id = ANY(p_event_ids));
        RETURN;
    END IF;
    SELECT coalesce(max(e.position), 0) INTO v_base FROM events AS e;
    INSERT INTO events (position, stream_id, stream_type, version, event_id, event_type, schema_version,
                        timestamp, metadata, payload)
    SELECT v_base + b.n, p_stream_id, p_stream_type, v_actual + b.n, b.event_id, b.event_type, b.schema_version,
           b.ts, b.metadata, b.payload
    FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_timestamps, p_metadata, p_payloads)
         WITH ORDINALITY AS b(event_id, event_type, schema_version, ts, metadata, payload, n);
    -- Keep the identity sequence ahead, so that nothing numbered by it can collide.
    PERFORM setval(pg_get_serial_sequence('events', 'position'), v_base + cardinality(p_event_ids));
    RETURN QUERY SELECT v_actual, v_type, pg_current_xact_id()::text::bigint, v_base + cardinality(p_event_ids), false;
END
$fn$
"""
APPEND_STRICT = "SELECT * FROM eventsourcing_append_strict($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"

_EVENT_FIELDS = "stream_id, version, event_id, event_type, schema_version, timestamp, metadata, payload"
_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1"
_STREAM_TYPE = "SELECT stream_type FROM events WHERE stream_id = $1 LIMIT 1"
_STREAM_HEAD = "SELECT version, stream_type FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1"
_STREAMS = "SELECT stream_id, min(stream_type), max(version) FROM events WHERE stream_id > $1"
_STREAMS_TAIL = " GROUP BY stream_id ORDER BY stream_id LIMIT $2"
# The horizon is an InitPlan (evaluated once); rows below it belong to finished transactions only.
_BELOW_HORIZON = "xid < (SELECT pg_snapshot_xmin(pg_current_snapshot()))"


# The event columns after the position, in their cheapest wire form (measured: a page of rows
# fetches ~1.6x faster): the event id as its 16 bytes and the timestamp as ISO text (the session
# runs in UTC with DateStyle ISO), both converted by `RecordedEvent` only when someone reads them;
# asyncpg's datetime and UUID decoders cost more per row than the rest of the row together.
_ROW_TAIL = "stream_id, version, uuid_send(event_id), event_type, schema_version, timestamp::text, metadata, payload"


@dataclass(frozen=True)
class Statements:
    """The reads of one ordering mode. Every SELECT of events returns the columns in
    `rows.EVENT_COLUMNS` order, with the mode's position token first: one column (strict order),
    or the two of the ``[xid, position]`` pair (horizon mode, where building the pair in Python
    is cheaper than an SQL array)."""

    position: str  # the SQL expression of the position token
    after: str  # read_all's condition on the cursor ($1, and $2 for the pair)
    order: str  # read_all's order
    cursor_params: int  # how many parameters the cursor takes
    visible: str = "true"  # which rows read_all may return at all
    row_position: str = ""  # the token's column(s) in event rows (default: `position`)

    def columns(self) -> str:
        return f"{self.row_position or self.position}, {_ROW_TAIL}"

    def select(self, where: str) -> str:
        return f"SELECT {self.columns()} FROM events WHERE {where}"

    @property
    def read(self) -> str:
        return self.select("stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY version")

    @property
    def read_as_of(self) -> str:
        return self.select("stream_id = $1 AND version >= $2 AND version <= $3 AND timestamp <= $4 ORDER BY version")

    @property
    def read_all(self) -> str:
        n = self.cursor_params
        return self.select(f"{self.after} ORDER BY {self.order} LIMIT ${n + 1}")

    @property
    def read_all_types(self) -> str:
        n = self.cursor_params
        return self.select(f"{self.after} AND stream_type = ANY(${n + 2}::text[]) ORDER BY {self.order} LIMIT ${n + 1}")

    @property
    def last(self) -> str:
        return f"SELECT {self.position} FROM events WHERE {self.visible} ORDER BY {_desc(self.order)} LIMIT 1"

    @property
    def last_of_types(self) -> str:
        return (
            f"SELECT {self.position} FROM events WHERE {self.visible} AND stream_type = ANY($1::text[]) "
            f"ORDER BY {_desc(self.order)} LIMIT 1"
        )

    @property
    def by_id(self) -> str:
        return self.select("event_id = $1")

    @property
    def refs(self) -> str:
        return f"SELECT event_id, stream_id, version, {self.position} FROM events WHERE event_id = ANY($1::uuid[])"

    @property
    def head(self) -> str:
        return f"SELECT version, {self.position} FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1"


def _desc(order: str) -> str:
    return ", ".join(f"{column.strip()} DESC" for column in order.split(","))


HORIZON = Statements(
    position="ARRAY[xid::text::bigint, position]",
    row_position="xid, position",  # asyncpg reads xid8 as an int
    after=f"{_BELOW_HORIZON} AND (xid, position) > ($1::xid8, $2::bigint)",
    visible=_BELOW_HORIZON,
    order="xid, position",
    cursor_params=2,
)
STRICT = Statements(position="position", after="position > $1", order="position", cursor_params=1)

_MAX_VERSION = 2**31 - 1

# Batches of at least this many events are appended through COPY (`pg_copy`): its three round trips
# cost more than it saves on fewer rows (measured on 2 cores: even at 128 events, ~20% faster at
# 256 and 1,000).
COPY_THRESHOLD = 128


def _copy_micros(timestamp: dt.datetime) -> int:
    return micros(utc_timestamp(timestamp))


_READ_ATTEMPTS = 5  # a read chosen as a serialization victim is run again, up to this many times
# Errors the store resolves itself: a race for a stream's version or for event ids, a serialization failure.
_CONFLICTS = (asyncpg.UniqueViolationError, asyncpg.TransactionRollbackError)
_RETRYABLE = (asyncpg.TransactionRollbackError,)


async def append_rows(
    connection: asyncpg.Connection,
    stream_id: str,
    stream_type: str,
    expected: Expected,
    columns: tuple[list[Any], ...],
    strict_lock_timeout: float | None = None,
) -> tuple[int, Any, bool]:
    """Run the append on an asyncpg connection: (actual version, last event's position, ids reused).

    The position is None when nothing was inserted (the expectation failed). ``columns`` are the
    batch as arrays: event ids, types, schema versions, timestamps, metadata, payloads. Inside an
    explicit transaction the events become visible, to followers too, only when it commits.
    ``strict_lock_timeout`` (seconds) selects the strict-order append.
    """
    code = expected if isinstance(expected, int) else _ANY if expected is ANY else _EXISTS
    if strict_lock_timeout is None:
        row = await connection.fetchrow(APPEND, stream_id, stream_type, code, *columns)
    else:
        timeout = f"{max(1, round(strict_lock_timeout * 1000))}ms"
        row = await connection.fetchrow(APPEND_STRICT, stream_id, stream_type, code, timeout, *columns)
    assert row is not None
    actual, stored_type, xid, position, reused = row
    if position is None:
        if not reused and stored_type is not None and stored_type != stream_type:
            raise StreamTypeMismatch(stream_id, stream_type, stored_type)
        return actual, None, bool(reused)
    return actual, position if strict_lock_timeout is not None else [xid, position], False


def parse_position(after: Any) -> tuple[int, int]:
    """A position token back from a checkpoint: None, or ``[xid, position]`` (list or tuple)."""
    if after is None:
        return 0, 0
    if (
        isinstance(after, list | tuple)
        and len(after) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) and 0 <= part <= MAX_POSITION for part in after)
    ):
        return after[0], after[1]
    raise InvalidArgument(f"not a PostgreSQL store position: {after!r} (expected [xid, position], as read_all returns)")


def parse_strict_position(after: Any) -> int:
    """A strict-order position token: None or a non-negative int."""
    if after is None:
        return 0
    if isinstance(after, int) and not isinstance(after, bool) and 0 <= after <= MAX_POSITION:
        return after
    raise InvalidArgument(
        f"not a strict-order PostgreSQL store position: {after!r} (expected an int, as read_all returns)"
    )


class PostgresBackend:
    def __init__(
        self,
        url: str,
        mapper: EventMapper,
        *,
        pool_size: int,
        isolation_level: str | None = None,
        strict_order: bool = False,
        busy_timeout: float = 10.0,
        command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
        notify: bool = True,
    ) -> None:
        level = (isolation_level or "READ COMMITTED").upper().replace("_", " ")
        if level not in ISOLATION_LEVELS:
            raise ConfigurationError(
                f"isolation_level must be one of {', '.join(ISOLATION_LEVELS)}, not {isolation_level!r}"
            )
        if strict_order and level != "READ COMMITTED":
            # A snapshot taken before the lock is granted would not see the last committed position.
            raise ConfigurationError("strict_order needs isolation_level READ COMMITTED (appends are serialised)")
        self.url = url
        self.isolation_level = level
        self.strict_order = strict_order
        self._lock_timeout = busy_timeout if strict_order else None
        self._sql = STRICT if strict_order else HORIZON
        self._mapper = mapper
        # Every statement the store runs is its own transaction, at this level (so a serializable
        # store needs no BEGIN/COMMIT round trips). Operations run on the shared access layer's lean
        # pool (`pg_runner`): its acquire/release costs a fraction of SQLAlchemy's checkout, and it
        # does not reset connections with a round trip on release.
        self.runner = PostgresRunner(
            url,
            what="PostgreSQL store",
            max_size=2 * pool_size,
            command_timeout=command_timeout,
            settings={"application_name": "eventsourcing", "default_transaction_isolation": level.lower()},
        )
        self._notifier = AppendNotifier(functools.partial(self.runner.connect, "notices")) if notify else None

    async def open(self) -> None:
        await self.runner.open(self._create_schema)

    def subscribe(self, callback: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        return listen(functools.partial(self.runner.connect, "listening"), callback)

    def _appended(self) -> None:
        if self._notifier is not None:
            self._notifier.poke()

    async def _create_schema(self, connection: asyncpg.Connection) -> None:
        version = self.runner.server_version or (connection.get_server_version().major,)
        if version < (13,):
            raise ConfigurationError(f"the PostgreSQL event store needs PostgreSQL 13 or newer (xid8), found {version}")
        async with connection.transaction():
            await connection.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            for statement in create_statements(metadata.sorted_tables, DIALECT):
                await connection.execute(statement)
            if self.strict_order:
                await connection.execute(STRICT_INDEX)
                await connection.execute(STRICT_FUNCTION)

    async def close(self) -> None:
        if self._notifier is not None:
            await self._notifier.close()
        await self.runner.close()

    # -- operations ---------------------------------------------------------------------------

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected: Expected, stream_type: str
    ) -> AppendResult:
        if not events:
            return await self._read(_append_nothing, self._sql.head, stream_id, expected, stream_type)
        encode, encode_metadata = self._mapper.encode, self._mapper.encode_metadata
        ids = [e.event_id for e in events]
        by_copy = len(events) >= COPY_THRESHOLD and not self.strict_order
        stamp = _copy_micros if by_copy else utc_timestamp
        columns = (
            ids,
            [e.event.event_type for e in events],
            [e.event.schema_version for e in events],
            [stamp(e.timestamp) for e in events],
            [encode_metadata(e.metadata) for e in events],
            [encode(e.event) for e in events],
        )

        def unknown(detail: str) -> AppendOutcomeUnknown:
            return AppendOutcomeUnknown(stream_id, detail)

        try:
            if by_copy:
                actual, position, reused = await self.runner.call(
                    copy_rows, stream_id, stream_type, expected, columns, keep=_CONFLICTS, outcome_unknown=unknown
                )
            else:
                actual, position, reused = await self.runner.call(
                    append_rows,
                    stream_id,
                    stream_type,
                    expected,
                    columns,
                    self._lock_timeout,
                    keep=_CONFLICTS,
                    outcome_unknown=unknown,
                )
        except asyncpg.TransactionRollbackError as err:  # serialization failure or deadlock: retryable
            raise ConcurrencyError(stream_id, expected, None, f"{err.__class__.__name__}: retry") from err
        except asyncpg.UniqueViolationError as err:
            # A concurrent writer took the version (or stored these very ids) first.
            refs = await self._read(_refs, self._sql.refs, ids)
            retry = resolve_retry(stream_id, ids, refs)
            if retry is not None:
                return retry
            actual = await self.stream_version(stream_id)
            raise ConcurrencyError(stream_id, expected, actual, "another writer appended concurrently") from err
        if position is not None:
            self._appended()
            return AppendResult(stream_id, actual + len(events), position)
        if reused:
            retry = resolve_retry(stream_id, ids, await self._read(_refs, self._sql.refs, ids))
            if retry is not None:
                return retry
        raise conflict(stream_id, expected, actual)

    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        encode, encode_metadata = self._mapper.encode, self._mapper.encode_metadata
        parts = [
            (
                a.stream_id,
                a.stream_type,
                a.expected_version,
                (
                    [e.event_id for e in a.events],
                    [e.event.event_type for e in a.events],
                    [e.event.schema_version for e in a.events],
                    [utc_timestamp(e.timestamp) for e in a.events],
                    [encode_metadata(e.metadata) for e in a.events],
                    [encode(e.event) for e in a.events],
                ),
            )
            for a in appends
        ]

        def unknown(detail: str) -> AppendOutcomeUnknown:
            return AppendOutcomeUnknown(appends[0].stream_id, f"an atomic append of {len(appends)} streams: {detail}")

        try:
            results = await self.runner.call(
                _append_parts, self._sql.head, parts, self._lock_timeout, keep=_CONFLICTS, outcome_unknown=unknown
            )
        except asyncpg.TransactionRollbackError as err:  # serialization failure or deadlock: retryable
            first = appends[0]
            raise ConcurrencyError(
                first.stream_id, first.expected_version, None, f"{err.__class__.__name__}: retry"
            ) from err
        except _PartRefused as refused:
            found = [await self._refusal(a) for a in appends]
            return settle_refusal(appends, refused.index, found)
        if any(a.events for a in appends):
            self._appended()
        return results

    async def _refusal(self, append: StreamAppend) -> Refusal:
        row = await self._read(_fetchrow, self._sql.head, append.stream_id)
        actual, position = (0, None) if row is None else (row[0], row[1])
        stored_type = None if row is None else await self._read(_fetchval, _STREAM_TYPE, append.stream_id)
        refs = await self._read(_refs, self._sql.refs, [e.event_id for e in append.events])
        return Refusal(actual, stored_type, position, refs)

    async def read(
        self, stream_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent[DomainEvent]]:
        upto = _MAX_VERSION if to_version is None else min(to_version, _MAX_VERSION)
        if as_of is None:
            rows = await self._read(_fetch, self._sql.read, stream_id, from_version, upto)
        else:
            rows = await self._read(_fetch, self._sql.read_as_of, stream_id, from_version, upto, as_of)
        return self._decode(rows)

    async def read_all(
        self, after: Any, limit: int, stream_types: Sequence[str] | None
    ) -> list[RecordedEvent[DomainEvent]]:
        cursor = [parse_strict_position(after)] if self.strict_order else list(parse_position(after))
        if stream_types is None:
            rows = await self._read(_fetch, self._sql.read_all, *cursor, limit)
        else:
            rows = await self._read(_fetch, self._sql.read_all_types, *cursor, limit, list(stream_types))
        return self._decode(rows)

    async def head(self, stream_types: Sequence[str] | None) -> Any:
        # The last event below the horizon, as read_all would return it (its row value is the cursor).
        if stream_types is None:
            rows = await self._read(_fetch, self._sql.last)
        else:
            rows = await self._read(_fetch, self._sql.last_of_types, list(stream_types))
        return rows[0][0] if rows else None

    def covers(self, checkpoint: Any, position: Any) -> bool:
        if position is None:
            return True
        if checkpoint is None:
            return False
        if self.strict_order:
            return parse_strict_position(checkpoint) >= parse_strict_position(position)
        return parse_position(checkpoint) >= parse_position(position)

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        rows = await self._read(_fetch, self._sql.by_id, event_id)
        return self._decode(rows)[0] if rows else None

    async def stream_version(self, stream_id: str) -> int:
        return int(await self._read(_fetchval, _VERSION, stream_id))

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        rows = await self._read(_fetch, _STREAM_HEAD, stream_id)
        return StreamInfo(stream_id, rows[0][1], rows[0][0]) if rows else None

    async def list_streams(self, stream_type: str | None, after: str | None, limit: int) -> list[StreamInfo]:
        if stream_type is None:
            rows = await self._read(_fetch, _STREAMS + _STREAMS_TAIL, after or "", limit)
        else:
            rows = await self._read(
                _fetch, _STREAMS + " AND stream_type = $3" + _STREAMS_TAIL, after or "", limit, stream_type
            )
        return [StreamInfo(*row) for row in rows]

    def _decode(self, rows: list[Any]) -> list[RecordedEvent[DomainEvent]]:
        if self.strict_order:
            return decode_rows(self._mapper, rows)
        return decode_pair_rows(self._mapper, rows)

    # -- execution ----------------------------------------------------------------------------

    async def _read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """A read: under SERIALIZABLE even a one-statement read can be chosen as a serialization
        victim; reads have no effects, so run it again (a few times) rather than bother the caller."""
        for attempt in range(1, _READ_ATTEMPTS + 1):
            try:
                return await self.runner.call(fn, *args, keep=_RETRYABLE, retry=True)
            except asyncpg.TransactionRollbackError as err:
                if attempt == _READ_ATTEMPTS:
                    raise translate(err, self.runner.where) from err
        raise AssertionError("unreachable")


def decode_pair_rows(mapper: EventMapper, rows: list[Any]) -> list[RecordedEvent[DomainEvent]]:
    """`rows.decode_rows` for horizon-mode rows, whose token is two columns (xid, position).

    The same loop (cached decoders, stored forms left for `RecordedEvent` to convert lazily, cyclic
    GC paused for the page) with the ``[xid, position]`` token built here: passing the rows through
    an adapter into `decode_rows` would cost a tuple per row.
    """
    decoders = mapper.decoders()
    out: list[RecordedEvent[DomainEvent]] = []
    append = out.append
    decode_metadata = mapper.decode_metadata
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        for xid, position, stream_id, version, event_id, event_type, schema_version, ts, meta, payload in rows:
            try:
                event = decoders[event_type, schema_version](payload)
            except Exception:  # not cached yet, or bad data: the slow path builds the decoder or names the error
                event = mapper.decode_stored(
                    event_type,
                    schema_version,
                    payload,
                    stream_id=stream_id,
                    version=version,
                    position=[xid, position],
                    event_id=event_id,
                    preceding=out,
                )
            append(
                RecordedEvent(
                    event,
                    stream_id,
                    version,
                    [xid, position],
                    ts,
                    event_id,
                    event_type,
                    schema_version,
                    EMPTY_METADATA if meta is None else decode_metadata(meta),
                )
            )
    finally:
        if collecting:
            gc.enable()
    return out


# -- the operations, each one function over an asyncpg connection ---------------------------------


async def _fetch(connection: asyncpg.Connection, sql: str, *args: Any) -> list[Any]:
    rows: list[Any] = await connection.fetch(sql, *args)
    return rows


async def _fetchval(connection: asyncpg.Connection, sql: str, *args: Any) -> Any:
    return await connection.fetchval(sql, *args)


async def _append_nothing(
    connection: asyncpg.Connection, head: str, stream_id: str, expected: Expected, stream_type: str
) -> AppendResult:
    """An empty batch stores nothing but still checks the expectation and the stream's type."""
    row = await connection.fetchrow(head, stream_id)
    actual, position = (0, None) if row is None else (row[0], row[1])
    if row is not None:
        stored = await connection.fetchval(_STREAM_TYPE, stream_id)
        if stored is not None and stored != stream_type:
            raise StreamTypeMismatch(stream_id, stream_type, stored)
    if not admits(expected, actual):
        raise conflict(stream_id, expected, actual)
    return AppendResult(stream_id, actual, position)


class _PartRefused(Exception):
    """A part of an atomic append was refused: its transaction rolls back (``index``: which part)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


async def _append_parts(
    connection: asyncpg.Connection,
    head: str,
    parts: list[tuple[str, str, Expected, tuple[list[Any], ...]]],
    strict_lock_timeout: float | None,
) -> list[AppendResult]:
    """Every part in one transaction, or none: a refused part (or a race for a version or an id,
    `asyncpg.UniqueViolationError`) rolls back the parts before it."""
    results: list[AppendResult] = []
    async with connection.transaction():
        for index, (stream_id, stream_type, expected, columns) in enumerate(parts):
            if not columns[0]:
                try:
                    results.append(await _append_nothing(connection, head, stream_id, expected, stream_type))
                except (ConcurrencyError, StreamTypeMismatch):
                    raise _PartRefused(index) from None
                continue
            try:
                actual, position, _ = await append_rows(
                    connection, stream_id, stream_type, expected, columns, strict_lock_timeout
                )
            except StreamTypeMismatch:
                raise _PartRefused(index) from None
            except asyncpg.UniqueViolationError:
                raise _PartRefused(index) from None
            if position is None:
                raise _PartRefused(index)
            results.append(AppendResult(stream_id, actual + len(columns[0]), position))
    return results


async def _fetchrow(connection: asyncpg.Connection, sql: str, *args: Any) -> Any:
    return await connection.fetchrow(sql, *args)


async def _refs(connection: asyncpg.Connection, sql: str, ids: list[UUID]) -> list[StoredRef]:
    rows = await connection.fetch(sql, ids)
    return [StoredRef(*row) for row in rows]
