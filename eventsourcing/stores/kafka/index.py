"""The local index of a Kafka event store: the accepted events by stream, version and time, and how
far each partition has been read, in one embedded SQLite database (a file, or memory).

Records are applied in partition order by `KafkaIndex.apply`, which is where the concurrency rule
lives: a record is *accepted* iff none of its event ids was accepted before and its expected
version admits the stream's version accepted so far; a record whose ids were all accepted before,
in this stream and in order, is a *duplicate* (an idempotent retry); anything else is *rejected*
and leaves no trace. The rule reads only what earlier records of the same partition decided (a
stream lives in one partition), so every reader of the log reaches the same decisions.

The events and the partitions' next offsets are committed in one transaction, so after a crash
the index resumes exactly where its last commit left it. Commits are grouped (every
``commit_interval`` seconds at most): what was applied and not yet committed when a process dies
is read again from the log, where it is, and decided again the same way. The index can always be rebuilt from the
topics, so it trades the last fsync for speed (WAL, ``synchronous=NORMAL``): a power cut may lose
the last commits of the index, which it then reads again, never events of the log.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.clock import monotonic
from eventsourcing.errors import (
    ConcurrencyError,
    DuplicateEventId,
    EventSourcingError,
    StoreError,
    StreamTypeMismatch,
)
from eventsourcing.stores.base import AppendResult, StoredRef, StreamInfo, admits, resolve_retry
from eventsourcing.stores.kafka.envelope import TOKEN_HEADER, NotAnEnvelope, decode_record
from eventsourcing.stores.kafka.validation import Foreign, RecordCheck, partition_of

log = logging.getLogger(__name__)

Position = dict[str, list[int]]
"""A read position: partition key (``topic/partition``) → ``[offset, index within the record]``."""

Outcome = AppendResult | EventSourcingError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partitions (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL DEFAULT 0,
    UNIQUE (topic, partition)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    part INTEGER NOT NULL,
    record_offset INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    stream_id TEXT NOT NULL,
    stream_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id BLOB NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    metadata BLOB,
    payload BLOB NOT NULL,
    codec TEXT NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_by_partition ON events (part, record_offset, idx);
CREATE TABLE IF NOT EXISTS streams (
    stream_id TEXT PRIMARY KEY,
    stream_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    part INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS streams_by_type ON streams (stream_type, stream_id);
CREATE TABLE IF NOT EXISTS heads (
    part INTEGER NOT NULL,
    stream_type TEXT NOT NULL,
    record_offset INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (part, stream_type)
) WITHOUT ROWID;
"""

# Columns of every event row the index hands out, in this order.
_ROW = (
    "part, record_offset, idx, stream_id, version, event_id, event_type, schema_version, timestamp, metadata, payload"
)
_INSERT = (
    "INSERT INTO events (part, record_offset, idx, stream_id, stream_type, version, event_id, event_type, "
    f"schema_version, timestamp, metadata, payload, codec) VALUES ({', '.join('?' * 13)})"
)
EventRow = tuple[int, int, int, str, int, bytes, str, int, str, bytes | None, bytes]


@dataclass(slots=True)
class Partition:
    """One topic-partition as the index knows it."""

    id: int
    topic: str
    partition: int
    next_offset: int
    key: str = field(init=False)
    high_watermark: int = -1
    """The partition's high watermark in the last fetch response (-1: not fetched yet)."""

    def __post_init__(self) -> None:
        self.key = f"{self.topic}/{self.partition}"


@dataclass(frozen=True, slots=True)
class RawRecord:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]


class KafkaIndex:
    """The index of accepted events. ``path`` None keeps it in memory (rebuilt at every open)."""

    def __init__(
        self, path: str | None = None, *, check: RecordCheck | None = None, commit_interval: float = 0.05
    ) -> None:
        self.path = path
        self.check = check
        """Validates records before the rule judges them (None: this index only reads, never applies)."""
        self.commit_interval = commit_interval
        self._since: float | None = None  # when the open transaction began (None: none is open)
        self._db: sqlite3.Connection | None = None
        self.partitions: dict[tuple[str, int], Partition] = {}
        self.by_id: dict[int, Partition] = {}
        self.by_key: dict[str, Partition] = {}
        self.counts: dict[str, int] = {}
        """Each topic's partition count, as the index knows it."""

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        try:
            db = sqlite3.connect(self.path or ":memory:", isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA cache_size=-65536")  # 64 MiB: appends touch random pages of the event-id index
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the Kafka store's index at {self.path or ':memory:'}: {err}") from err
        self._db = db
        self._reload()

    def _reload(self) -> None:
        rows = self.db.execute("SELECT id, topic, partition, next_offset FROM partitions").fetchall()
        for id_, topic, partition, next_offset in rows:
            known = self.by_id.get(id_)
            if known is not None:
                known.next_offset = next_offset
            else:
                self._remember(Partition(id_, topic, partition, next_offset))

    def close(self) -> None:
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db.close()
                self._db = None

    @property
    def checker(self) -> RecordCheck:
        if self.check is None:
            raise StoreError("this Kafka index was opened for reading only: it has no record check to apply records")
        return self.check

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the Kafka store's index is not open")
        return self._db

    def _remember(self, part: Partition) -> None:
        self.counts[part.topic] = max(self.counts.get(part.topic, 0), part.partition + 1)
        self.partitions[(part.topic, part.partition)] = part
        self.by_id[part.id] = part
        self.by_key[part.key] = part

    def partition(self, topic: str, partition: int) -> Partition:
        """The index's record of a topic-partition, added (from offset 0) if new."""
        part = self.partitions.get((topic, partition))
        if part is None:
            self.db.execute(
                "INSERT INTO partitions (topic, partition) VALUES (?, ?) ON CONFLICT DO NOTHING", (topic, partition)
            )
            (id_, next_offset) = self.db.execute(
                "SELECT id, next_offset FROM partitions WHERE topic = ? AND partition = ?", (topic, partition)
            ).fetchone()
            part = Partition(id_, topic, partition, next_offset)
            self._remember(part)
        return part

    # -- applying the log -----------------------------------------------------------------------

    def apply(
        self, fetched: Iterable[tuple[Partition, Sequence[RawRecord], int]], *, schemas_loaded: bool = False
    ) -> dict[bytes, Outcome]:
        """Apply records (each partition's in offset order) in one transaction; the outcomes of records
        that carry a writer's token, by token. Records below a partition's next offset are skipped;
        each partition then moves on to at least the offset given with its records.

        A record naming an Avro schema not loaded raises `UnknownWriterSchema` and applies nothing,
        unless ``schemas_loaded`` (the schemas topic was read after the records were fetched): then
        that record is foreign."""
        db = self.db
        outcomes: dict[bytes, Outcome] = {}
        moved: list[tuple[Partition, int]] = []
        heads: dict[tuple[int, str], tuple[int, int]] = {}  # the last accepted event per partition and type
        if self._since is None:
            db.execute("BEGIN IMMEDIATE")
            self._since = monotonic()
        db.execute("SAVEPOINT apply")
        try:
            for part, records, end in fetched:
                next_offset = part.next_offset
                for record in records:
                    if record.offset < next_offset:
                        continue
                    outcome = self._apply_one(part, record, heads, schemas_loaded)
                    next_offset = record.offset + 1
                    token = _token(record.headers)
                    if token is not None and outcome is not None:
                        outcomes[token] = outcome
                next_offset = max(next_offset, end)
                if next_offset != part.next_offset:
                    db.execute("UPDATE partitions SET next_offset = ? WHERE id = ?", (next_offset, part.id))
                    moved.append((part, next_offset))
            if heads:
                db.executemany(
                    "INSERT INTO heads (part, stream_type, record_offset, idx) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET record_offset = excluded.record_offset, idx = excluded.idx",
                    [(part_id, stream_type, *at) for (part_id, stream_type), at in heads.items()],
                )
            db.execute("RELEASE apply")
        except BaseException:
            db.execute("ROLLBACK TO apply")
            db.execute("RELEASE apply")
            raise
        for part, next_offset in moved:
            part.next_offset = next_offset
        if monotonic() - self._since >= self.commit_interval:
            self.flush()
        return outcomes

    def flush(self) -> None:
        """Commit what has been applied since the last commit (`apply` commits at most every
        ``commit_interval`` seconds; the store also flushes on every poll and on close)."""
        if self._since is None or self._db is None:
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:
            # Nothing of the open transaction is on disk: forget it here too, and read it again.
            self._db.execute("ROLLBACK")
            self._since = None
            self._reload()
            raise
        self._since = None

    def _apply_one(
        self,
        part: Partition,
        record: RawRecord,
        heads: dict[tuple[int, str], tuple[int, int]],
        schemas_loaded: bool,
    ) -> Outcome | None:
        if record.key is None:
            log.warning("%s offset %d: a record without a key is not an append; ignored", part.key, record.offset)
            return None
        try:
            envelope = decode_record(record.value, record.headers)
            stream_id = self.checker.stream_id(part.topic, record.key, envelope, schemas_loaded=schemas_loaded)
        except (NotAnEnvelope, Foreign) as err:
            return self._foreign(part, record, str(err))
        ids = [e.event_id for e in envelope.events]
        found = self.stored_refs(ids)
        if found:
            try:
                retry = resolve_retry(stream_id, [_uuid(i) for i in ids], found)
            except DuplicateEventId as err:
                return err
            if retry is not None:
                return retry
        db = self.db
        row = db.execute("SELECT stream_type, version, part FROM streams WHERE stream_id = ?", (stream_id,)).fetchone()
        # A stream's records are in the partition its id hashes to (checked once per stream: its row
        # exists only if its first record was there); a record elsewhere was not written by this library.
        if row is None:
            home = partition_of(record.key, self.counts[part.topic])
            if home != part.partition:
                return self._foreign(part, record, f"its stream id belongs in partition {home}")
        elif row[2] != part.id:
            return self._foreign(part, record, f"its stream's events are in {self.by_id[row[2]].key}")
        if row is not None and row[0] != envelope.stream_type:
            return StreamTypeMismatch(stream_id, envelope.stream_type, row[0])
        actual = 0 if row is None else row[1]
        if not admits(envelope.expected, actual):
            return ConcurrencyError(stream_id, envelope.expected, actual)
        if not envelope.events:
            return AppendResult(stream_id, actual, self.last_position(stream_id))
        rows = [
            (
                part.id,
                record.offset,
                i,
                stream_id,
                envelope.stream_type,
                actual + i + 1,
                e.event_id,
                e.event_type,
                e.schema_version,
                e.timestamp,
                e.metadata,
                e.payload,
                envelope.codec,
            )
            for i, e in enumerate(envelope.events)
        ]
        if len(rows) == 1:
            db.execute(_INSERT, rows[0])
        else:
            db.executemany(_INSERT, rows)
        version = actual + len(envelope.events)
        db.execute(
            "INSERT INTO streams (stream_id, stream_type, version, part) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
            (stream_id, envelope.stream_type, version, part.id),
        )
        last = len(envelope.events) - 1
        heads[(part.id, envelope.stream_type)] = (record.offset, last)
        return AppendResult(stream_id, version, {part.key: [record.offset, last]})

    @staticmethod
    def _foreign(part: Partition, record: RawRecord, why: str) -> StoreError:
        """Log a foreign record (ignored); the outcome for a writer that would wait on it."""
        log.warning("%s offset %d: a foreign record (%s); ignored", part.key, record.offset, why)
        shown = (record.key or b"").decode(errors="replace")
        return StoreError(f"the record of the append to {shown!r} at {part.key} offset {record.offset}: {why}")

    # -- queries --------------------------------------------------------------------------------

    def stored_refs(self, event_ids: Sequence[bytes]) -> list[StoredRef]:
        if not event_ids:
            return []
        found: list[StoredRef] = []
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            rows = self.db.execute(
                f"SELECT event_id, stream_id, version, part, record_offset, idx FROM events "
                f"WHERE event_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.extend(
                StoredRef(_uuid(event_id), stream_id, version, {self.by_id[part].key: [offset, idx]})
                for event_id, stream_id, version, part, offset, idx in rows
            )
        return found

    def stream_partition(self, stream_id: str) -> int | None:
        """The id of the partition that holds the stream's events (None: no such stream)."""
        row = self.db.execute("SELECT part FROM streams WHERE stream_id = ?", (stream_id,)).fetchone()
        return None if row is None else int(row[0])

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        row = self.db.execute("SELECT stream_type, version FROM streams WHERE stream_id = ?", (stream_id,)).fetchone()
        return None if row is None else StreamInfo(stream_id, row[0], row[1])

    def last_position(self, stream_id: str) -> Position | None:
        row = self.db.execute(
            "SELECT part, record_offset, idx FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1",
            (stream_id,),
        ).fetchone()
        return None if row is None else {self.by_id[row[0]].key: [row[1], row[2]]}

    def list_streams(self, stream_type: str | None, after: str | None, limit: int) -> list[StreamInfo]:
        sql = "SELECT stream_id, stream_type, version FROM streams WHERE stream_id > ?"
        args: list[Any] = [after or ""]
        if stream_type is not None:
            sql += " AND stream_type = ?"
            args.append(stream_type)
        sql += " ORDER BY stream_id LIMIT ?"
        args.append(limit)
        return [StreamInfo(*row) for row in self.db.execute(sql, args)]

    def read(self, stream_id: str, from_version: int, to_version: int | None, as_of: str | None) -> list[EventRow]:
        sql = f"SELECT {_ROW} FROM events WHERE stream_id = ? AND version >= ?"
        args: list[Any] = [stream_id, from_version]
        if to_version is not None:
            sql += " AND version <= ?"
            args.append(to_version)
        if as_of is not None:
            sql += " AND timestamp <= ?"
            args.append(as_of)
        rows: list[EventRow] = self.db.execute(sql + " ORDER BY version", args).fetchall()
        return rows

    def get_event(self, event_id: bytes) -> EventRow | None:
        row: EventRow | None = self.db.execute(f"SELECT {_ROW} FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return row

    def read_all(self, after: Position, limit: int, stream_types: Sequence[str] | None) -> list[EventRow]:
        """The next ``limit`` events after the per-partition cursors in ``after``, in index order.

        Within a partition the index order is the log's order, so each partition's events come
        after its cursor and in offset order; across partitions the order is this index's (another
        index may interleave partitions differently, and a cursor made by it still works here).
        """
        cursors: dict[int, tuple[int, int]] = {}
        for key, (offset, idx) in after.items():
            topic, _, partition = key.rpartition("/")
            part = self.partitions.get((topic, int(partition)))
            if part is not None:
                cursors[part.id] = (offset, idx)
        # Start just below the first unread event of any partition holding events of these types.
        parts = "SELECT DISTINCT part FROM heads"
        if stream_types is not None:
            parts += f" WHERE stream_type IN ({', '.join('?' * len(stream_types))})"
        found = self.db.execute(parts, list(stream_types or ())).fetchall()
        starts = [self._seq_before(part, cursors.get(part)) for (part,) in found]
        if not starts:
            return []
        start = min(starts)
        sql = f"SELECT seq, {_ROW} FROM events WHERE seq > ?"
        if stream_types is not None:
            sql += f" AND stream_type IN ({', '.join('?' * len(stream_types))})"
        sql += " ORDER BY seq LIMIT ?"
        out: list[EventRow] = []
        while len(out) < limit:
            rows = self.db.execute(sql, [start, *(stream_types or ()), max(limit - len(out), 256)]).fetchall()
            if not rows:
                break
            for row in rows:
                cursor = cursors.get(row[1])
                if cursor is None or (row[2], row[3]) > cursor:
                    out.append(row[1:])
                    if len(out) == limit:
                        break
            start = rows[-1][0]
        return out

    def _seq_before(self, part: int, cursor: tuple[int, int] | None) -> int:
        """The sequence number of the partition's event at ``cursor`` (or of the last before it); one
        less than its first event's for no cursor."""
        if cursor is None:
            row = self.db.execute(
                "SELECT seq - 1 FROM events WHERE part = ? ORDER BY record_offset, idx LIMIT 1", (part,)
            ).fetchone()
        else:
            row = self.db.execute(
                "SELECT seq FROM events WHERE part = ? AND (record_offset, idx) <= (?, ?) "
                "ORDER BY record_offset DESC, idx DESC LIMIT 1",
                (part, *cursor),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def head(self, stream_types: Sequence[str] | None) -> Position | None:
        sql, args = "SELECT part, record_offset, idx FROM heads", list(stream_types or ())
        if stream_types is not None:
            sql += f" WHERE stream_type IN ({', '.join('?' * len(stream_types))})"
        heads: dict[str, list[int]] = {}
        for part, offset, idx in self.db.execute(sql, args):
            key = self.by_id[part].key
            heads[key] = max(heads.get(key, [offset, idx]), [offset, idx])
        return heads or None

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])


def _token(headers: Sequence[tuple[str, bytes | None]]) -> bytes | None:
    for name, value in headers:
        if name == TOKEN_HEADER:
            return value
    return None


def _uuid(value: bytes) -> UUID:
    return UUID(bytes=value)
