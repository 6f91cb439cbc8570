"""Followers of the PostgreSQL global log never skip, reorder or duplicate an event (Jepsen-style).

Writers append transactions of 1-10 events and hold some of them open for a few milliseconds
after inserting, so that sequence numbers commit out of order, while followers tail ``read_all``
with their own cursors. Each follower's sequence must equal the final log. A negative control runs
the naive follower (``position > cursor`` on the sequence) under the same load and must skip
events: proof that the load does produce the hazard the store guards against.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from eventsourcing import ANY, DomainEvent, NewEvent, SQLEventStore
from eventsourcing.serialization import EventMapper
from eventsourcing.stores.sql.postgres import append_rows
from eventsourcing.testing.contract import read_everything

STREAM_TYPE = "followers.Stream"
WRITERS = 8
TRANSACTIONS_PER_WRITER = 40


class Tick(DomainEvent):
    event_type = "followers.Tick"
    writer: int
    n: int


def new_events(writer: int, count: int) -> list[NewEvent]:
    now = dt.datetime.now(dt.UTC)
    return [NewEvent(Tick(writer=writer, n=n), uuid4(), now) for n in range(count)]


def columns(events: list[NewEvent]) -> tuple[list[Any], ...]:
    mapper = EventMapper()
    return (
        [e.event_id for e in events],
        [e.event.event_type for e in events],
        [e.event.schema_version for e in events],
        [e.timestamp for e in events],
        [mapper.encode_metadata(e.metadata) for e in events],
        [mapper.encode(e.event) for e in events],
    )


async def append_in_transaction(
    conn: asyncpg.Connection,
    stream_id: str,
    events: list[NewEvent],
    *,
    hold: float = 0.0,
    commit: bool = True,
    strict: bool = False,
) -> None:
    """Append inside an explicit transaction, keep it open for ``hold`` seconds, then commit or roll back."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        lock_timeout = 30.0 if strict else None
        _actual, position, _reused = await append_rows(conn, stream_id, STREAM_TYPE, ANY, columns(events), lock_timeout)
        assert position is not None
        await asyncio.sleep(hold)
    except BaseException:
        await transaction.rollback()
        raise
    if commit:
        await transaction.commit()
    else:
        await transaction.rollback()


@dataclass
class Load:
    """What the writers did: every committed event id, and when the last writer finished."""

    committed: list[UUID] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def write_load(url: str, load: Load, seed: int, *, strict: bool = False) -> None:
    rng = random.Random(seed)
    dsn = url

    async def writer(index: int) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            streams = [f"w{index}-{uuid4().hex[:8]}-{k}" for k in range(3)]
            for _ in range(TRANSACTIONS_PER_WRITER):
                events = new_events(index, rng.randint(1, 10))
                # Every third transaction is held open a little after inserting: its positions
                # are then lower than those of transactions that commit before it.
                hold = rng.uniform(0.002, 0.015) if rng.random() < 0.33 else 0.0
                await append_in_transaction(conn, rng.choice(streams), events, hold=hold, strict=strict)
                load.committed.extend(e.event_id for e in events)
        finally:
            await conn.close()

    try:
        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
    finally:
        load.done.set()


Page = Callable[[Any], Awaitable[tuple[list[UUID], Any]]]


@dataclass
class Followed:
    seen: list[UUID] = field(default_factory=list)
    seen_while_writing: int = 0  # proof that the follower tailed the log under load


async def follow(load: Load, page: Page) -> Followed:
    """Tail the log with ``page(cursor) -> (event ids, new cursor)`` until the writers are done and
    a read that started after that returns nothing."""
    out = Followed()
    cursor: Any = None
    while True:
        finished = load.done.is_set()
        ids, cursor = await page(cursor)
        out.seen.extend(ids)
        if not finished:
            out.seen_while_writing += len(ids)
        if not ids:
            if finished:
                return out
            await asyncio.sleep(0.001)


def store_page(store: SQLEventStore, limit: int) -> Page:
    async def page(cursor: Any) -> tuple[list[UUID], Any]:
        events = await store.read_all(after=cursor, limit=limit)
        if not events:
            return [], cursor
        # A checkpoint survives being written as JSON and read back.
        return [e.event_id for e in events], json.loads(json.dumps(events[-1].position))

    return page


def naive_page(conn: asyncpg.Connection, limit: int) -> Page:
    async def page(cursor: Any) -> tuple[list[UUID], Any]:
        rows = await conn.fetch(
            "SELECT position, event_id FROM events WHERE position > $1 ORDER BY position LIMIT $2", cursor or 0, limit
        )
        if not rows:
            return [], cursor
        return [row["event_id"] for row in rows], rows[-1]["position"]

    return page


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SQLEventStore]:
    async with SQLEventStore(postgres_url, pool_size=4) as store:
        yield store


@pytest.mark.parametrize("strict", [False, True], ids=["horizon", "strict-order"])
async def test_followers_never_skip_reorder_or_duplicate(strict: bool, postgres_url: str) -> None:
    async with SQLEventStore(postgres_url, pool_size=4, strict_order=strict) as store:
        await check_followers(store, postgres_url, strict=strict)


async def check_followers(store: SQLEventStore, postgres_url: str, *, strict: bool) -> None:
    load = Load()
    readers = [asyncio.ensure_future(follow(load, store_page(store, limit))) for limit in (50, 7)]
    await write_load(postgres_url, load, seed=1, strict=strict)
    followed = await asyncio.gather(*readers)

    log = await read_everything(store)
    final = [e.event_id for e in log]
    assert sorted(map(str, final)) == sorted(map(str, load.committed))  # the log holds every commit, once
    if strict:
        assert [e.position for e in log] == list(range(1, len(log) + 1))  # dense and in commit order
    for reader in followed:
        assert reader.seen_while_writing > len(final) // 10, "the follower did not tail the log under load"
        seen = reader.seen
        missing = set(final) - set(seen)
        assert not missing, f"the follower skipped {len(missing)} events"
        assert len(seen) == len(set(seen)), "the follower saw an event twice"
        assert seen == final, "the follower saw the events in another order than the final log"


async def test_negative_control_naive_follower_skips(store: SQLEventStore, postgres_url: str) -> None:
    """The same load, followed by ``position > cursor`` on the sequence: it must lose events."""
    skipped_per_round = []
    conn = await asyncpg.connect(postgres_url)
    try:
        for round_ in range(5):  # one round nearly always suffices; a few make the proof reliable
            load = Load()
            reader = asyncio.ensure_future(follow(load, naive_page(conn, 50)))
            await write_load(postgres_url, load, seed=100 + round_)
            seen = (await reader).seen
            skipped_per_round.append(len(set(load.committed) - set(seen)))
            if skipped_per_round[-1]:
                break
            await conn.execute("TRUNCATE events")
    finally:
        await conn.close()
    assert any(skipped_per_round), f"the naive follower never skipped: {skipped_per_round} (the load is too gentle)"


async def test_follower_waits_for_an_open_transaction_and_sees_it_once(store: SQLEventStore, postgres_url: str) -> None:
    await store.append("before", new_events(0, 1), 0, stream_type=STREAM_TYPE)
    (first,) = await store.read_all()
    cursor = first.position

    slow = await asyncpg.connect(postgres_url)
    try:
        held = new_events(1, 2)
        transaction = slow.transaction()
        await transaction.start()
        await append_rows(slow, "slow", STREAM_TYPE, ANY, columns(held))

        later = new_events(2, 3)
        await store.append("fast", later, 0, stream_type=STREAM_TYPE)  # commits, with higher positions
        naive = await naive_fetch(postgres_url, first.position[1])
        assert naive == [e.event_id for e in later]  # what a position-only cursor would take, and pass by

        for _ in range(3):  # however often it asks, the follower does not pass the open transaction
            assert await store.read_all(after=cursor) == []
            await asyncio.sleep(0.01)

        await transaction.commit()
        events = await store.read_all(after=cursor)
        assert [e.event_id for e in events] == [e.event_id for e in held + later]
        assert await store.read_all(after=events[-1].position) == []
        assert [e.event_id for e in await read_everything(store)] == [first.event_id] + [
            e.event_id for e in held + later
        ]
    finally:
        await slow.close()


async def test_rolled_back_writer_does_not_stall_the_follower(store: SQLEventStore, postgres_url: str) -> None:
    doomed = await asyncpg.connect(postgres_url)
    try:
        transaction = doomed.transaction()
        await transaction.start()
        await append_rows(doomed, "doomed", STREAM_TYPE, ANY, columns(new_events(1, 4)))
        after = new_events(2, 2)
        await store.append("after", after, 0, stream_type=STREAM_TYPE)
        assert await store.read_all() == []  # held back while the doomed transaction may still commit
        await transaction.rollback()
        events = await store.read_all()
        assert [e.event_id for e in events] == [e.event_id for e in after]
        assert await store.stream_version("doomed") == 0
    finally:
        await doomed.close()


async def test_writer_that_dies_mid_transaction_does_not_stall_the_follower(
    store: SQLEventStore, postgres_url: str
) -> None:
    """A client that disappears with its transaction open: the server rolls it back, the log moves on."""
    lost = await asyncpg.connect(postgres_url)
    transaction = lost.transaction()
    await transaction.start()
    await append_rows(lost, "lost", STREAM_TYPE, ANY, columns(new_events(1, 2)))
    after = new_events(2, 1)
    await store.append("after", after, 0, stream_type=STREAM_TYPE)
    assert await store.read_all() == []
    lost.terminate()  # the connection drops without a ROLLBACK
    for _ in range(500):
        events = await store.read_all()
        if events:
            break
        await asyncio.sleep(0.01)
    assert [e.event_id for e in events] == [e.event_id for e in after]


async def naive_fetch(url: str, after: int) -> list[UUID]:
    """What a follower with a cursor on the position alone would read next."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT event_id FROM events WHERE position > $1 ORDER BY position", after)
    finally:
        await conn.close()
    return [row["event_id"] for row in rows]
