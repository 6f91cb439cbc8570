"""Durability on PostgreSQL: acknowledged appends survive ``kill -9`` of the server, batches stay whole.

A cluster of its own, with the server's durable defaults (``fsync=on``, ``synchronous_commit=on``).
Each round, writers append batches of 1-20 events while the postmaster and its backends are
SIGKILLed mid-stream; the server then restarts (crash recovery). Every acknowledged batch must be
there, entire, at the versions it was acknowledged at; a batch in flight at the crash is there
entirely or not at all; streams have no holes. ``bench/pg_soak.py`` runs more rounds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest

from eventsourcing import DomainEvent, EventSourcingError, NewEvent, SQLEventStore
from tests.postgres_server import PostgresServer, PostgresServerError

STREAM_TYPE = "durability.Stream"
WRITERS = 6


class Written(DomainEvent):
    event_type = "durability.Written"
    batch: int
    n: int


@dataclass
class Batch:
    stream_id: str
    first_version: int
    event_ids: list[UUID]


@dataclass
class Outcome:
    acknowledged: list[Batch] = field(default_factory=list)
    in_doubt: list[Batch] = field(default_factory=list)  # in flight when the server died


async def crash_round(server: PostgresServer, rng: random.Random, *, run_for: float) -> tuple[Outcome, list[str]]:
    """Write until the server is killed after ``run_for`` seconds; restart it; return what was written.

    Raises AssertionError if an acknowledged batch is missing or changed, a batch is partial, or a
    stream has a hole (checked against the restarted server).
    """
    outcome = Outcome()
    streams: list[str] = []
    store = SQLEventStore(server.url(), pool_size=WRITERS)
    await store.open()

    async def writer(index: int) -> None:
        stream_id = f"d{index}-{uuid4().hex[:12]}"
        streams.append(stream_id)
        version = 0
        while True:
            size = rng.randint(1, 20)
            now = dt.datetime.now(dt.UTC)
            events = [NewEvent(Written(batch=version, n=n), uuid4(), now) for n in range(size)]
            batch = Batch(stream_id, version + 1, [e.event_id for e in events])
            try:
                result = await store.append(stream_id, events, version, stream_type=STREAM_TYPE)
            except EventSourcingError:
                outcome.in_doubt.append(batch)
                return
            assert result.version == version + size
            outcome.acknowledged.append(batch)
            version = result.version

    tasks = [asyncio.ensure_future(writer(i)) for i in range(WRITERS)]
    await asyncio.sleep(run_for)
    # From a thread, so that the writers keep appending while the server dies: some appends are
    # in flight at the moment of the kill. Each writer stops at its first failed append.
    await asyncio.to_thread(server.kill)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    await store.close()
    server.restart()
    await check(server, outcome, streams)
    return outcome, streams


async def check(server: PostgresServer, outcome: Outcome, streams: list[str]) -> None:
    async with SQLEventStore(server.url()) as store:
        stored = {stream_id: await store.read(stream_id) for stream_id in streams}
    for stream_id, events in stored.items():
        assert [e.version for e in events] == list(range(1, len(events) + 1)), f"hole in {stream_id}"
    by_id = {e.event_id: e for events in stored.values() for e in events}
    for batch in outcome.acknowledged:
        for offset, event_id in enumerate(batch.event_ids):
            event = by_id.get(event_id)
            assert event is not None, f"an acknowledged event of {batch.stream_id} is lost"
            assert (event.stream_id, event.version) == (batch.stream_id, batch.first_version + offset)
    for batch in outcome.in_doubt:
        present = [event_id in by_id for event_id in batch.event_ids]
        assert all(present) or not any(present), f"a partial batch in {batch.stream_id}: {present}"
    written = {event_id for batch in outcome.acknowledged + outcome.in_doubt for event_id in batch.event_ids}
    assert set(by_id) <= written, "events nobody wrote"


@pytest.fixture(scope="module")
def durable_server() -> Iterator[PostgresServer]:
    server = PostgresServer(settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
    try:
        server.start()
    except PostgresServerError as err:
        server.stop()
        pytest.fail(f"cannot start the PostgreSQL cluster for the durability tests: {err}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
async def test_acknowledged_appends_survive_kill_9(durable_server: PostgresServer) -> None:
    rng = random.Random(7)
    acknowledged = in_doubt = 0
    for _ in range(3):
        outcome, _streams = await crash_round(durable_server, rng, run_for=rng.uniform(0.3, 0.8))
        acknowledged += len(outcome.acknowledged)
        in_doubt += len(outcome.in_doubt)
    assert acknowledged > 0, "nothing was acknowledged before the crashes: the test proved nothing"
    assert in_doubt > 0, "no append failed at a crash: the test proved nothing about partial batches"
