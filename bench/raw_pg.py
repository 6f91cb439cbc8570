"""The raw driver anchor on PostgreSQL: asyncpg on the same table, indexes and rows as our store.

Each measure creates a fresh database, lets our own store create the table in it (so its columns
and indexes are exactly ours), then only asyncpg touches it: rows are prepared before the clock
starts, statements are asyncpg's (prepared and cached by the driver), and nothing is decoded.
These are the rates a hand-written application could reach on this server; our figures are
divided by them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from model import NOTE, Account
from pg_cluster import fresh_database
from records import RAW, Measurement
from sizes import Sizes

from eventsourcing import JSONCodec, SQLEventStore

Emit = Callable[[Measurement], None]
Row = tuple[Any, ...]

COLUMNS = "position, stream_id, version, event_id, event_type, schema_version, timestamp, metadata, payload"
TABLE_COLUMNS = [
    "stream_id",
    "stream_type",
    "version",
    "event_id",
    "event_type",
    "schema_version",
    "timestamp",
    "metadata",
    "payload",
]
INSERT = (
    "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, "
    "timestamp, metadata, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
READ_STREAM = f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY version"
# The log in the order of the table's key, with a row-value cursor (the index our store reads it by).
LOG_COLUMNS = COLUMNS.replace("position,", "xid, position,", 1)
READ_LOG = (
    f"SELECT {LOG_COLUMNS} FROM events WHERE (xid, position) > ($1::xid8, $2::bigint) ORDER BY xid, position LIMIT $3"
)

_codec = JSONCodec()
OPENED = _codec.encode(Account.Opened(owner="owner-0000"))
DEPOSITED = _codec.encode(Account.Deposited(amount=1, note=NOTE))


def row(stream_id: str, version: int) -> Row:
    """One event row as our store writes it (the same values per column)."""
    opened = version == 1
    return (
        stream_id,
        Account.type_name,
        version,
        uuid.uuid4(),
        Account.Opened.event_type if opened else Account.Deposited.event_type,
        1,
        dt.datetime.now(dt.UTC),
        None,
        OPENED if opened else DEPOSITED,
    )


def stream_rows(stream_id: str, first: int, count: int) -> list[Row]:
    return [row(stream_id, v) for v in range(first, first + count)]


def new_id() -> str:
    return str(uuid.uuid4())


async def database(server_url: str, name: str) -> str:
    """A fresh database with our store's table in it; its URL."""
    url = await fresh_database(server_url, f"raw_{name}")
    async with SQLEventStore(url):
        pass
    return url


async def insert_batch(conn: asyncpg.Connection, rows: list[Row]) -> None:
    async with conn.transaction():
        await conn.executemany(INSERT, rows)


async def per_row_commit(server_url: str, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """Sequential: one autocommit INSERT per row (one fsync'd transaction each), onto existing streams."""
    conn = await asyncpg.connect(await database(server_url, "command"))
    try:
        streams = [new_id() for _ in range(sizes.accounts)]
        await insert_batch(conn, [row(s, 1) for s in streams])
        rows = [row(streams[i % len(streams)], 2 + i // len(streams)) for i in range(sizes.raw_commits)]
        t0 = time.perf_counter()
        for r in rows:
            await conn.execute(INSERT, *r)
        elapsed = time.perf_counter() - t0
    finally:
        await conn.close()
    emit(Measurement(RAW, "postgres", "command", len(rows) / elapsed, "cmd/s", len(rows), rnd))


async def concurrent_inserts(server_url: str, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """W connections at once, each inserting single rows in autocommit onto its own streams: rows/s."""
    url = await database(server_url, "writers")
    conns = [await asyncpg.connect(url) for _ in range(sizes.writers)]
    try:
        work = []
        for w, conn in enumerate(conns):
            streams = [new_id() for _ in range(sizes.writer_accounts)]
            await insert_batch(conn, [row(s, 1) for s in streams])
            rows = [
                row(streams[i % len(streams)], 2 + i // len(streams))
                for i in range(sizes.writer_accounts * sizes.writer_rounds)
            ]
            await conn.execute(INSERT, *row(f"warmup-{w}", 1))  # prepare the statement on this connection
            work.append((conn, rows))

        async def writer(conn: asyncpg.Connection, rows: list[Row]) -> None:
            for r in rows:
                await conn.execute(INSERT, *r)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(conn, rows) for conn, rows in work))
        elapsed = time.perf_counter() - t0
    finally:
        for conn in conns:
            await conn.close()
    n = sizes.writer_commands
    emit(Measurement(RAW, "postgres", "writers", n / elapsed, "cmd/s", n, rnd))


async def batch_inserts(server_url: str, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """1,000 rows in one transaction: ``executemany`` (the anchor) and COPY (the fastest way in)."""
    conn = await asyncpg.connect(await database(server_url, "batch"))
    try:
        await insert_batch(conn, [row(new_id(), 1)])
        many, copy = [], []
        for _ in range(sizes.batch_reps):
            rows = stream_rows(new_id(), 1, sizes.batch)
            t0 = time.perf_counter()
            await insert_batch(conn, rows)
            many.append(time.perf_counter() - t0)
            rows = stream_rows(new_id(), 1, sizes.batch)
            t0 = time.perf_counter()
            await conn.copy_records_to_table("events", records=rows, columns=TABLE_COLUMNS)
            copy.append(time.perf_counter() - t0)
    finally:
        await conn.close()
    n = sizes.batch
    emit(Measurement(RAW, "postgres", "batch", n / statistics.median(many), "ev/s", n, rnd))
    emit(Measurement(RAW, "postgres", "batch_copy", n / statistics.median(copy), "ev/s", n, rnd))


async def select_stream(server_url: str, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """SELECT of all rows of one stream, and of its first half."""
    conn = await asyncpg.connect(await database(server_url, "replay"))
    try:
        stream = new_id()
        for first in range(1, sizes.replay + 1, 1_000):
            await insert_batch(conn, stream_rows(stream, first, min(1_000, sizes.replay - first + 1)))
        latest, half = [], []
        for _ in range(sizes.replay_reps):
            t0 = time.perf_counter()
            a = await conn.fetch(READ_STREAM, stream, 1, 2**31 - 1)
            t1 = time.perf_counter()
            b = await conn.fetch(READ_STREAM, stream, 1, sizes.replay_version)
            t2 = time.perf_counter()
            assert len(a) == sizes.replay and len(b) == sizes.replay_version
            latest.append(t1 - t0)
            half.append(t2 - t1)
    finally:
        await conn.close()
    n, h = sizes.replay, sizes.replay_version
    emit(Measurement(RAW, "postgres", "replay_latest", n / statistics.median(latest), "ev/s", n, rnd))
    emit(Measurement(RAW, "postgres", "replay_version", h / statistics.median(half), "ev/s", h, rnd))


async def seed_and_read_log(server_url: str, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """Seed N streams x 10 rows (one transaction each), then SELECT the log in pages of 1,000."""
    conn = await asyncpg.connect(await database(server_url, "log"))
    try:
        batches = [stream_rows(new_id(), 1, sizes.log_per_aggregate) for _ in range(sizes.log_aggregates)]
        t0 = time.perf_counter()
        for rows in batches:
            await insert_batch(conn, rows)
        t1 = time.perf_counter()
        total, after = 0, (0, 0)
        while page := await conn.fetch(READ_LOG, *after, sizes.page):
            total += len(page)
            after = (page[-1][0], page[-1][1])
        t2 = time.perf_counter()
    finally:
        await conn.close()
    assert total == sizes.log_events, (total, sizes.log_events)
    emit(Measurement(RAW, "postgres", "seed", total / (t1 - t0), "ev/s", total, rnd))
    emit(Measurement(RAW, "postgres", "read_all", total / (t2 - t1), "ev/s", total, rnd))


AREAS = {
    "command": per_row_commit,
    "writers": concurrent_inserts,
    "batch": batch_inserts,
    "replay": select_stream,
    "log": seed_and_read_log,
}


def run(area: str, server_url: str, sizes: Sizes, emit: Emit, rnd: int) -> None:
    asyncio.run(AREAS[area](server_url, sizes, emit, rnd))
