"""Concurrent writers on PostgreSQL: optimistic concurrency loses nothing, at every isolation level.

16 writers run 200 commands each over 20 aggregates, each command a load -> decide -> save with
retry on `ConcurrencyError` (what `Repository.update` does, with the conflicts counted). At the
end: every acknowledged command is in its stream exactly once (0 lost updates), every stream has
versions exactly 1..n, the global log holds every event once, and conflicts did happen. Under
SERIALIZABLE, serialization failures must surface as the same retryable `ConcurrencyError`.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter as Tally
from collections.abc import AsyncIterator

import asyncpg
import pytest

from eventsourcing import Aggregate, ConcurrencyError, DomainEvent, Repository, SQLEventStore, on
from eventsourcing.testing.contract import read_everything

WRITERS = 16
COMMANDS_PER_WRITER = 200
AGGREGATES = 20
MAX_ATTEMPTS = 500  # far above what a command needs; reaching it fails the test


class Tallied(Aggregate):
    type_name = "pgconcurrency.Tallied"

    class Counted(DomainEvent):
        event_type = "pgconcurrency.Counted"
        writer: int
        command: int

    count: int = 0
    commands: list[tuple[int, int]] = []

    def count_one(self, writer: int, command: int) -> None:
        self.emit(self.Counted(writer=writer, command=command))

    @on(Counted)
    def _counted(self, event: Counted) -> None:
        self.count += 1
        self.commands.append((event.writer, event.command))


@pytest.fixture(params=["READ COMMITTED", "SERIALIZABLE"])
def isolation_level(request: pytest.FixtureRequest) -> str:
    level: str = request.param
    return level


@pytest.fixture
async def store(isolation_level: str, postgres_url: str) -> AsyncIterator[SQLEventStore]:
    async with SQLEventStore(postgres_url, isolation_level=isolation_level, pool_size=WRITERS) as store:
        yield store


async def test_concurrent_writers_lose_nothing(store: SQLEventStore) -> None:
    repo = Repository(Tallied, store)
    ids = [f"tally-{i}" for i in range(AGGREGATES)]
    for aggregate_id in ids:
        created = Tallied(aggregate_id)
        created.count_one(-1, 0)
        await repo.save(created)

    acknowledged: dict[str, list[tuple[int, int]]] = {aggregate_id: [] for aggregate_id in ids}
    conflicts: Tally[str] = Tally()

    async def writer(index: int) -> None:
        rng = random.Random(index)
        for command in range(COMMANDS_PER_WRITER):
            aggregate_id = rng.choice(ids)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                tally = await repo.get(aggregate_id)  # load
                tally.count_one(index, command)  # decide
                try:
                    await repo.save(tally)  # save, expecting the loaded version
                except ConcurrencyError as err:
                    conflicts[type(err.__cause__).__name__ if err.__cause__ else "version mismatch"] += 1
                    assert attempt < MAX_ATTEMPTS, f"a command still conflicted after {MAX_ATTEMPTS} attempts"
                    await asyncio.sleep(rng.uniform(0, 0.002))
                    continue
                acknowledged[aggregate_id].append((index, command))
                break

    await asyncio.gather(*(writer(i) for i in range(WRITERS)))

    total = 0
    for aggregate_id in ids:
        events = await store.read(aggregate_id)
        assert [e.version for e in events] == list(range(1, len(events) + 1)), "a stream has a hole"
        tally = await repo.get(aggregate_id)
        assert sorted(tally.commands[1:]) == sorted(acknowledged[aggregate_id]), "lost or duplicated updates"
        assert tally.count == 1 + len(acknowledged[aggregate_id])
        total += len(events)
    assert total == AGGREGATES + WRITERS * COMMANDS_PER_WRITER
    everything = await read_everything(store)
    assert len(everything) == total
    assert len({e.event_id for e in everything}) == total
    assert sum(conflicts.values()) > 0, "no conflicts: the writers did not contend"


async def test_a_write_race_is_a_retryable_conflict(
    isolation_level: str, store: SQLEventStore, postgres_url: str
) -> None:
    """Two appends read the same version; the later one must lose with `ConcurrencyError`.

    Under SERIALIZABLE the server reports a serialization failure, under READ COMMITTED a unique
    violation on (stream_id, version): both are the same retryable error for the caller.
    """
    repo = Repository(Tallied, store)
    first = Tallied("raced")
    first.count_one(0, 0)
    await repo.save(first)

    other = await asyncpg.connect(postgres_url)
    try:
        transaction = other.transaction(isolation=isolation_level.lower().replace(" ", "_"))
        await transaction.start()
        # A rival transaction inserts version 2 and has not committed yet.
        await other.execute(
            "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, timestamp,"
            " payload) SELECT stream_id, stream_type, 2, gen_random_uuid(), event_type, schema_version, timestamp,"
            " payload FROM events WHERE stream_id = 'raced'"
        )
        loser = await repo.get("raced")  # loaded at version 1, like the rival
        loser.count_one(2, 2)
        save = asyncio.ensure_future(repo.save(loser))  # blocks on the rival's uncommitted version 2
        await asyncio.sleep(0.2)
        assert not save.done()
        await transaction.commit()
        with pytest.raises(ConcurrencyError) as raised:
            await save
    finally:
        await other.close()
    expected_cause = asyncpg.SerializationError if isolation_level == "SERIALIZABLE" else asyncpg.UniqueViolationError
    assert isinstance(raised.value.__cause__, expected_cause)
    assert raised.value.stream_id == "raced"
    assert [e.version for e in await store.read("raced")] == [1, 2]
