"""The raw driver anchor: stdlib ``sqlite3`` on the same table, pragmas and row sizes as our store.

The table is created by our own store (so its shape and indexes are exactly ours), then only the
stdlib driver touches it: rows are prepared before the clock starts, and nothing is decoded. These
are the rates a hand-written application could reach on this machine; our figures are divided by
them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from model import NOTE, Account
from records import RAW, Measurement
from sizes import Sizes

from eventsourcing import JSONCodec, SQLEventStore

Emit = Callable[[Measurement], None]
Row = tuple[Any, ...]

COLUMNS = "position, stream_id, version, event_id, event_type, schema_version, timestamp, metadata, payload"
INSERT = (
    "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, "
    "timestamp, metadata, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
READ_STREAM = f"SELECT {COLUMNS} FROM events WHERE stream_id = ? AND version >= ? AND version <= ? ORDER BY version"
READ_LOG = f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"

_codec = JSONCodec()
OPENED = _codec.encode(Account.Opened(owner="owner-0000"))
DEPOSITED = _codec.encode(Account.Deposited(amount=1, note=NOTE))


def row(stream_id: str, version: int) -> Row:
    """One event row as our store writes it (the same byte sizes per column)."""
    opened = version == 1
    return (
        stream_id,
        Account.type_name,
        version,
        uuid.uuid4().bytes,
        Account.Opened.event_type if opened else Account.Deposited.event_type,
        1,
        dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        None,
        OPENED if opened else DEPOSITED,
    )


def stream_rows(stream_id: str, first: int, count: int) -> list[Row]:
    return [row(stream_id, v) for v in range(first, first + count)]


def new_id() -> str:
    return str(uuid.uuid4())


def connect(path: Path) -> sqlite3.Connection:
    """A fresh database with our store's schema; WAL + synchronous=FULL; autocommit at the driver."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    async def create() -> None:
        async with SQLEventStore(f"sqlite:///{path}"):
            pass

    asyncio.run(create())
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    return db


def insert_batch(db: sqlite3.Connection, rows: list[Row]) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.executemany(INSERT, rows)
    db.execute("COMMIT")


def per_row_commit(workdir: Path, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """One autocommit INSERT per row (one fsync'd transaction each), onto existing streams."""
    db = connect(workdir / "raw-append.db")
    streams = [new_id() for _ in range(sizes.accounts)]
    insert_batch(db, [row(s, 1) for s in streams])
    rows = [row(streams[i % len(streams)], 2 + i // len(streams)) for i in range(sizes.raw_commits)]
    t0 = time.perf_counter()
    for r in rows:
        db.execute(INSERT, r)
    dt_ = time.perf_counter() - t0
    db.close()
    emit(Measurement(RAW, "sqlite", "command", len(rows) / dt_, "cmd/s", len(rows), rnd))


def executemany_batch(workdir: Path, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """``executemany`` of 1,000 rows in one transaction, median of reps."""
    db = connect(workdir / "raw-batch.db")
    insert_batch(db, [row(new_id(), 1)])
    times = []
    for _ in range(sizes.batch_reps):
        rows = stream_rows(new_id(), 1, sizes.batch)
        t0 = time.perf_counter()
        insert_batch(db, rows)
        times.append(time.perf_counter() - t0)
    db.close()
    emit(Measurement(RAW, "sqlite", "batch", sizes.batch / statistics.median(times), "ev/s", sizes.batch, rnd))


def select_stream(workdir: Path, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """SELECT (fetchall) of all rows of one stream, and of its first half."""
    db = connect(workdir / "raw-replay.db")
    stream = new_id()
    for first in range(1, sizes.replay + 1, 1_000):
        insert_batch(db, stream_rows(stream, first, min(1_000, sizes.replay - first + 1)))
    latest, half = [], []
    for _ in range(sizes.replay_reps):
        t0 = time.perf_counter()
        a = db.execute(READ_STREAM, (stream, 1, 2**62)).fetchall()
        t1 = time.perf_counter()
        b = db.execute(READ_STREAM, (stream, 1, sizes.replay_version)).fetchall()
        t2 = time.perf_counter()
        assert len(a) == sizes.replay and len(b) == sizes.replay_version
        latest.append(t1 - t0)
        half.append(t2 - t1)
    db.close()
    n, h = sizes.replay, sizes.replay_version
    emit(Measurement(RAW, "sqlite", "replay_latest", n / statistics.median(latest), "ev/s", n, rnd))
    emit(Measurement(RAW, "sqlite", "replay_version", h / statistics.median(half), "ev/s", h, rnd))


def _pages(db: sqlite3.Connection, page: int) -> Iterator[list[Row]]:
    after = 0
    while rows := db.execute(READ_LOG, (after, page)).fetchall():
        yield rows
        after = rows[-1][0]


def seed_and_read_log(workdir: Path, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """Seed N streams x 10 rows (one transaction each), then SELECT the log in pages."""
    db = connect(workdir / "raw-log.db")
    batches = [stream_rows(new_id(), 1, sizes.log_per_aggregate) for _ in range(sizes.log_aggregates)]
    t0 = time.perf_counter()
    for rows in batches:
        insert_batch(db, rows)
    t1 = time.perf_counter()
    total = sum(len(rows) for rows in _pages(db, sizes.page))
    t2 = time.perf_counter()
    db.close()
    assert total == sizes.log_events, (total, sizes.log_events)
    emit(Measurement(RAW, "sqlite", "seed", total / (t1 - t0), "ev/s", total, rnd))
    emit(Measurement(RAW, "sqlite", "read_all", total / (t2 - t1), "ev/s", total, rnd))


AREAS = {
    "command": per_row_commit,
    "batch": executemany_batch,
    "replay": select_stream,
    "log": seed_and_read_log,
}


def run(area: str, workdir: Path, sizes: Sizes, emit: Emit, rnd: int) -> None:
    AREAS[area](workdir, sizes, emit, rnd)
