"""The SQLite binding of `SQLEventStore`.

Durability and ordering: WAL journal, ``synchronous=FULL``, and appends in ``BEGIN IMMEDIATE``
transactions, so writers are serialised by SQLite's write lock and positions (an AUTOINCREMENT
rowid) commit in order: a follower reading ``position > cursor`` never skips an event.

Execution: see `SQLiteRunner` (inline when nothing has to wait, a worker thread otherwise).
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.serialization import EventMapper
from eventsourcing.stores.atomic import Refusal, StreamAppend, settle_refusal
from eventsourcing.stores.base import AppendResult, Expected, StoredRef, StreamInfo, admits, check_int_position
from eventsourcing.stores.notify import LocalNotices
from eventsourcing.stores.replay import StreamEvents
from eventsourcing.stores.sql.group_commit import GroupCommit
from eventsourcing.stores.sql.rows import EVENT_COLUMNS, decode_events, decode_rows, encode_rows, iso_utc
from eventsourcing.stores.sql.sqlite_runner import SQLiteRunner

T = TypeVar("T")

metadata = MetaData()
events_table = Table(
    "events",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("stream_id", Text, nullable=False),
    Column("stream_type", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", LargeBinary(16), nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("timestamp", Text, nullable=False),  # ISO 8601 UTC, fixed width: text order is time order
    Column("metadata", LargeBinary),
    Column("payload", LargeBinary, nullable=False),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    Index("ix_events_stream_type_position", "stream_type", "position"),
    sqlite_autoincrement=True,  # positions are never reused, even after the last row is deleted
)

_VERSION = "SELECT max(version) FROM events WHERE stream_id = ?"
_HEAD = "SELECT version, stream_type FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1"
_HEAD_POSITION = "SELECT version, stream_type, position FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1"
_STREAMS = "SELECT stream_id, stream_type, max(version) FROM events WHERE stream_id > ?"
_READ = f"SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? AND version <= ?"
# A replay reads the last version (and its timestamp) first, then only the three columns it decodes up
# to that version: rows are never changed or deleted, so the two reads agree without a transaction.
_READ_WHERE = " FROM events WHERE stream_id = ?1 AND version >= ?2 AND version <= ?3"
_READ_ALL = f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ?"
_BY_ID = f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?"
_MAX_VERSION = 2**62


class SQLiteBackend:
    def __init__(self, url: str, mapper: EventMapper, *, busy_timeout: float, pool_size: int) -> None:
        self.url = url
        self._mapper = mapper
        self._runner = SQLiteRunner(url, busy_timeout=busy_timeout, pool_size=pool_size, what="SQLite event store")
        self._call = self._runner.call
        self.appends: GroupCommit[_Request, _Outcome] = GroupCommit(self._write_group)
        self._notices = LocalNotices()
        self.subscribe = self._notices.subscribe

    async def open(self) -> None:
        await self._runner.open(metadata)

    async def close(self) -> None:
        await self._runner.close()

    # -- operations ---------------------------------------------------------------------------

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected: Expected, stream_type: str
    ) -> AppendResult:
        rows = encode_rows(self._mapper, events)
        outcome = await self.appends.submit([(stream_id, stream_type, rows, expected)])
        if isinstance(outcome, list):
            if rows:
                self._notices.appended()
            return outcome[0]
        return settle_refusal([StreamAppend(stream_id, events, expected, stream_type)], *outcome)[0]

    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        members = [
            (a.stream_id, a.stream_type, encode_rows(self._mapper, a.events), a.expected_version) for a in appends
        ]
        outcome = await self.appends.submit(members)
        if isinstance(outcome, list):
            if any(rows for _, _, rows, _ in members):
                self._notices.appended()
            return outcome
        return settle_refusal(appends, *outcome)

    async def _write_group(self, requests: list[_Request]) -> list[_Outcome]:
        return await self._call(_append_group, requests)

    async def read(
        self, stream_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent[DomainEvent]]:
        sql, params = _READ, [stream_id, from_version, _MAX_VERSION if to_version is None else to_version]
        if as_of is not None:
            sql += " AND timestamp <= ?"
            params.append(iso_utc(as_of))
        rows = await self._call(_fetch_many, sql + " ORDER BY version", params)
        return self._decode(rows)

    async def read_events(
        self, stream_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> StreamEvents:
        where, params = _READ_WHERE, [stream_id, from_version, _MAX_VERSION if to_version is None else to_version]
        if as_of is not None:
            where += " AND timestamp <= ?4"
            params.append(iso_utc(as_of))
        rows, last, first = await self._call(_fetch_events, where, params)
        if last is None:
            return StreamEvents([], 0, None)
        events = decode_events(self._mapper, rows, stream_id, from_version)
        created_on = None if first is None else dt.datetime.fromisoformat(first)
        return StreamEvents(events, last[0], dt.datetime.fromisoformat(last[1]), last[2], created_on)

    async def read_all(
        self, after: Any, limit: int, stream_types: Sequence[str] | None
    ) -> list[RecordedEvent[DomainEvent]]:
        params: list[Any]
        sql, params = _READ_ALL, [check_int_position(after)]
        if stream_types is not None:
            sql += f" AND stream_type IN ({', '.join('?' * len(stream_types))})"
            params.extend(stream_types)
        rows = await self._call(_fetch_many, sql + " ORDER BY position LIMIT ?", [*params, limit])
        return self._decode(rows)

    async def head(self, stream_types: Sequence[str] | None) -> Any:
        if stream_types is None:
            rows = await self._call(_fetch, "SELECT max(position) FROM events", [])
        else:
            marks = ", ".join("?" * len(stream_types))
            rows = await self._call(
                _fetch, f"SELECT max(position) FROM events WHERE stream_type IN ({marks})", stream_types
            )
        return rows[0][0]

    def covers(self, checkpoint: Any, position: Any) -> bool:
        if position is None:
            return True
        wanted = check_int_position(position, "position")
        return checkpoint is not None and check_int_position(checkpoint, "checkpoint") >= wanted

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        rows = await self._call(_fetch, _BY_ID, [event_id.bytes])
        return self._decode(rows)[0] if rows else None

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._call(_fetch, _VERSION, [stream_id])
        return int(rows[0][0] or 0)

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        rows = await self._call(_fetch, _HEAD, [stream_id])
        return StreamInfo(stream_id, rows[0][1], rows[0][0]) if rows else None

    async def list_streams(self, stream_type: str | None, after: str | None, limit: int) -> list[StreamInfo]:
        sql, params = _STREAMS, [after or ""]
        if stream_type is not None:
            sql += " AND stream_type = ?"
            params.append(stream_type)
        rows = await self._call(_fetch, sql + " GROUP BY stream_id ORDER BY stream_id LIMIT ?", [*params, limit])
        return [StreamInfo(*row) for row in rows]

    def _decode(self, rows: list[tuple[Any, ...]]) -> list[RecordedEvent[DomainEvent]]:
        return decode_rows(self._mapper, rows)


# -- the synchronous operations (run inline or in a worker thread) -------------------------------


def _fetch(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return db.execute(sql, params).fetchall()


def _fetch_many(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """`_fetch` with the cyclic GC paused: thousands of new row tuples, no cycles (see `decode_rows`)."""
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return db.execute(sql, params).fetchall()
    finally:
        if collecting:
            gc.enable()


def _fetch_events(
    db: sqlite3.Connection, where: str, params: list[Any]
) -> tuple[list[tuple[Any, ...]], tuple[int, str, str] | None, str | None]:
    """A replay's rows up to the last version that matches; that version, its timestamp and the stream's
    type; and the first event's timestamp when the rows start with it (the aggregate's `created_on`)."""
    last = db.execute(f"SELECT version, timestamp, stream_type{where} ORDER BY version DESC LIMIT 1", params).fetchone()
    if last is None:
        return [], None, None
    params = [*params]
    params[2] = last[0]
    first = None
    if params[1] <= 1:
        row = db.execute("SELECT timestamp FROM events WHERE stream_id = ? AND version = 1", params[:1]).fetchone()
        first = None if row is None else row[0]
    return _fetch_many(db, f"SELECT event_type, schema_version, payload{where} ORDER BY version", params), last, first


# An append is one write transaction: BEGIN IMMEDIATE takes SQLite's write lock (WAL then guarantees
# the head read sees the latest commit), the head is checked against the expectation and the stream's
# type in Python, and the batch is one multi-row INSERT with explicit versions. A single
# INSERT ... SELECT that reads the head itself was one statement fewer, but SQLite materialises a
# SELECT from the table it inserts into (two ephemeral tables and a sorter): ~45 µs more CPU per append here.
_PER_EVENT = 6
_MAX_EVENTS_PER_STATEMENT = 4000  # 3 + 6 * 4000 parameters, under SQLite's limit of 32,766


@functools.lru_cache(maxsize=64)
def _insert_statement(n: int) -> str:
    """``n`` rows; ?1 stream id, ?2 stream type, ?3 the version before the first row, then 6 per event."""
    values = ",".join(
        f"(?1,?2,?3+{i},{','.join(f'?{3 + _PER_EVENT * (i - 1) + c}' for c in range(1, _PER_EVENT + 1))})"
        for i in range(1, n + 1)
    )
    return (
        "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, "
        f"timestamp, metadata, payload) VALUES {values}"
    )


_Member = tuple[str, str, list[tuple[Any, ...]], Expected]
"""One stream's part of an append: stream id, stream type, encoded rows, expected version."""
_Request = list[_Member]
"""An append: its streams' parts, all stored or none (a plain append has one)."""
_Outcome = list[AppendResult] | tuple[int, list[Refusal]]
"""Its results, or why it was refused: the refused part's index and every part's stream as found."""


def _append_group(db: sqlite3.Connection, requests: list[_Request]) -> list[_Outcome]:
    """Write a group of appends in one transaction (one fsync): each all of its rows or none, by a
    savepoint each, in order (a later append to the same stream sees the earlier one's events)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        outcomes: list[_Outcome] = []
        if len(requests) == 1 and len(requests[0]) == 1:  # one part: it writes all of its rows or nothing
            member = requests[0][0]
            outcome = _append(db, *member)
            if outcome is None:
                db.rollback()  # what it wrote of a batch of several statements, then read the stream as stored
                outcomes.append((0, [_refusal(db, member)]))
            else:
                outcomes.append([outcome])
        else:
            for request in requests:
                db.execute("SAVEPOINT one_append")
                results: list[AppendResult] = []
                for member in request:
                    outcome = _append(db, *member)
                    if outcome is None:
                        db.execute("ROLLBACK TO one_append")
                        outcomes.append((len(results), [_refusal(db, m) for m in request]))
                        break
                    results.append(outcome)
                else:
                    outcomes.append(results)
                db.execute("RELEASE one_append")
        if any(isinstance(o, list) for o in outcomes):
            db.execute("COMMIT")
        else:
            db.rollback()
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    return outcomes


def _append(
    db: sqlite3.Connection, stream_id: str, stream_type: str, rows: list[tuple[Any, ...]], expected: Expected
) -> AppendResult | None:
    """One part inside the group's transaction: its result, or None having written nothing that the
    caller's savepoint, or the transaction's rollback, does not undo."""
    head = db.execute(_HEAD_POSITION, (stream_id,)).fetchone()
    actual, stored_type, position = (0, None, None) if head is None else head
    if not admits(expected, actual) or (stored_type is not None and stored_type != stream_type):
        return None
    version = actual
    for i in range(0, len(rows), _MAX_EVENTS_PER_STATEMENT):
        chunk = rows[i : i + _MAX_EVENTS_PER_STATEMENT]
        params = [stream_id, stream_type, version, *itertools.chain.from_iterable(chunk)]
        try:
            position = db.execute(_insert_statement(len(chunk)), params).lastrowid
        except sqlite3.IntegrityError:  # an event id stored already (a version cannot be, under the lock)
            return None
        version += len(chunk)
    return AppendResult(stream_id, version, position)


def _refusal(db: sqlite3.Connection, member: _Member) -> Refusal:
    stream_id, _, rows, _ = member
    head = db.execute(_HEAD_POSITION, (stream_id,)).fetchone()
    actual, stored_type, position = (0, None, None) if head is None else head
    return Refusal(actual, stored_type, position, _refs(db, rows))


def _refs(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[StoredRef]:
    ids = [r[0] for r in rows]
    found: list[StoredRef] = []
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        marks = ",".join("?" * len(part))
        sql = f"SELECT event_id, stream_id, version, position FROM events WHERE event_id IN ({marks})"
        found.extend(StoredRef(UUID(bytes=e), s, v, p) for e, s, v, p in db.execute(sql, part))
    return found
