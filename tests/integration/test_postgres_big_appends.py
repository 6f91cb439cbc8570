"""Big appends on PostgreSQL (COPY, `pg_copy`): the same guarantees as the one-statement append.

Batches of `COPY_THRESHOLD` events or more take the COPY path; each test here runs on both sides of
the threshold where it matters, at every isolation level the store offers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from uuid import uuid4

import asyncpg
import pytest

from eventsourcing import ANY, ConcurrencyError, DomainEvent, NewEvent, SQLEventStore, StreamTypeMismatch
from eventsourcing.errors import DuplicateEventId
from eventsourcing.stores.sql.pg_copy import copy_data, micros
from eventsourcing.stores.sql.postgres import COPY_THRESHOLD

STREAM_TYPE = "bigappend.Stream"
BIG = COPY_THRESHOLD + 36
LEVELS = ["READ COMMITTED", "SERIALIZABLE"]


class Noted(DomainEvent):
    event_type = "bigappend.Noted"
    n: int
    text: str = "ünïcödé ✓"


def batch(count: int, start: int = 0) -> list[NewEvent]:
    now = dt.datetime.now(dt.UTC)
    return [
        NewEvent(Noted(n=n), uuid4(), now + dt.timedelta(microseconds=n), {"correlation_id": f"c{n}"} if n % 2 else {})
        for n in range(start, start + count)
    ]


@pytest.mark.parametrize("level", LEVELS)
async def test_a_big_batch_reads_back_exactly(postgres_url: str, level: str) -> None:
    events = batch(BIG)
    async with SQLEventStore(postgres_url, isolation_level=level) as store:
        await store.append("warm", batch(1), 0, stream_type=STREAM_TYPE)
        result = await store.append("big", events, 0, stream_type=STREAM_TYPE)
        stored = await store.read("big")
        log = await store.read_all()
    assert result.version == BIG
    assert [(e.version, e.event_id, e.event, e.timestamp, e.metadata.get("correlation_id")) for e in stored] == [
        (i + 1, new.event_id, new.event, new.timestamp, new.metadata.get("correlation_id"))
        for i, new in enumerate(events)
    ]
    assert all(e.stream_id == "big" for e in stored)
    assert result.position == stored[-1].position == log[-1].position
    assert [e.event_id for e in log[1:]] == [e.event_id for e in events]  # one transaction, in version order


async def test_a_big_batch_after_existing_events_continues_the_versions(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url) as store:
        await store.append("s", batch(3), 0, stream_type=STREAM_TYPE)
        result = await store.append("s", batch(BIG, 3), 3, stream_type=STREAM_TYPE)
        result2 = await store.append("s", batch(BIG, 3 + BIG), ANY, stream_type=STREAM_TYPE)
        stored = await store.read("s")
    assert (result.version, result2.version) == (3 + BIG, 3 + 2 * BIG)
    assert [e.version for e in stored] == list(range(1, 3 + 2 * BIG + 1))
    assert [e.event.n for e in stored] == list(range(3 + 2 * BIG))  # type: ignore[attr-defined]


@pytest.mark.parametrize("level", LEVELS)
async def test_a_stale_expectation_stores_nothing(postgres_url: str, level: str) -> None:
    async with SQLEventStore(postgres_url, isolation_level=level) as store:
        await store.append("s", batch(2), 0, stream_type=STREAM_TYPE)
        with pytest.raises(ConcurrencyError) as raised:
            await store.append("s", batch(BIG), 1, stream_type=STREAM_TYPE)
        assert raised.value.actual == 2
        with pytest.raises(ConcurrencyError):
            await store.append("new", batch(BIG), 5, stream_type=STREAM_TYPE)
        assert await store.stream_version("s") == 2
        assert await store.stream_version("new") == 0


async def test_an_exact_retry_returns_the_first_result_and_stores_nothing_twice(postgres_url: str) -> None:
    events = batch(BIG)
    async with SQLEventStore(postgres_url) as store:
        first = await store.append("s", events, 0, stream_type=STREAM_TYPE)
        again = await store.append("s", events, 0, stream_type=STREAM_TYPE)  # expectation now stale: a retry
        again_any = await store.append("s", events, ANY, stream_type=STREAM_TYPE)  # would insert: ids collide
        assert again == first == again_any
        assert len(await store.read("s")) == BIG


async def test_a_batch_partly_reusing_ids_is_rejected_whole(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url) as store:
        stored = batch(3)
        await store.append("s", stored, 0, stream_type=STREAM_TYPE)
        mixed = batch(BIG)
        mixed[10] = stored[1]
        with pytest.raises(DuplicateEventId):
            await store.append("s", mixed, 3, stream_type=STREAM_TYPE)
        assert await store.stream_version("s") == 3
        assert await store.get_event(mixed[0].event_id) is None


async def test_the_stream_type_is_checked(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url) as store:
        await store.append("s", batch(1), 0, stream_type=STREAM_TYPE)
        with pytest.raises(StreamTypeMismatch):
            await store.append("s", batch(BIG), 1, stream_type="other.Type")
        with pytest.raises(StreamTypeMismatch):
            await store.append("s", batch(BIG), ANY, stream_type="other.Type")
        assert await store.stream_version("s") == 1


@pytest.mark.parametrize("level", LEVELS)
async def test_racing_big_batches_on_one_stream_one_wins_whole(postgres_url: str, level: str) -> None:
    async with SQLEventStore(postgres_url, isolation_level=level, pool_size=4) as store:
        for _ in range(5):
            stream = f"race-{uuid4()}"
            outcomes = await asyncio.gather(
                *(store.append(stream, batch(BIG), 0, stream_type=STREAM_TYPE) for _ in range(4)),
                return_exceptions=True,
            )
            winners = [o for o in outcomes if not isinstance(o, BaseException)]
            assert len(winners) == 1, outcomes
            assert all(isinstance(o, ConcurrencyError) for o in outcomes if isinstance(o, BaseException))
            assert [e.version for e in await store.read(stream)] == list(range(1, BIG + 1))


async def test_strict_order_big_batches_stay_dense(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url, strict_order=True) as store:
        await store.append("a", batch(BIG), 0, stream_type=STREAM_TYPE)
        result = await store.append("b", batch(BIG), 0, stream_type=STREAM_TYPE)
        log = await store.read_all(limit=10_000)
    assert result.position == 2 * BIG
    assert [e.position for e in log] == list(range(1, 2 * BIG + 1))


def test_the_copy_stream_encodes_timestamps_as_postgres_does() -> None:
    assert micros(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == 0
    assert micros(dt.datetime(2000, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC)) == 1_000_005
    assert micros(dt.datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)) == -1
    data = copy_data("s", "t", 1, ([], [], [], [], [], []))
    assert data == b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\xff\xff"  # header and trailer, no rows


async def test_copy_data_round_trips_through_a_real_copy(postgres_url: str) -> None:
    # The encoder against the server's own binary parser, for edge values of every column.
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE t (stream_id text, stream_type text, version int, event_id uuid, event_type text,"
            " schema_version int, timestamp timestamptz, metadata bytea, payload bytea)"
        )
        ids = [uuid4(), uuid4()]
        stamps = [dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)]
        columns = (ids, ["ä.Type", "b"], [1, 2**31 - 1], [micros(t) for t in stamps], [None, b"{}"], [b"", b"\x00\xff"])

        async def source() -> object:
            yield copy_data("strëam", "týpe", 7, columns)

        await conn.copy_to_table("t", source=source(), format="binary")
        rows = [tuple(r) for r in await conn.fetch("SELECT * FROM t ORDER BY version")]
    finally:
        await conn.close()
    assert rows == [
        ("strëam", "týpe", 7, ids[0], "ä.Type", 1, stamps[0], None, b""),
        ("strëam", "týpe", 8, ids[1], "b", 2**31 - 1, stamps[1], b"{}", b"\x00\xff"),
    ]
