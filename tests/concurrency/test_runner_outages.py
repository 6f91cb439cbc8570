"""A following `ProjectionRunner.run()` survives outages of the event database and of the view
database: a restart of the PostgreSQL server under both, and every connection terminated. It
retries with backoff, `status()` shows the outage (state ``retrying``, the error, since when), and
it resumes with nothing skipped or applied twice (the audit table's primary key).

The server is the test's own (it is stopped and started); every wait is on an event — the runner's
state, a checkpoint reaching a position — bounded by a generous deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from eventsourcing import AppendResult, NewEvent, SQLEventStore, StoreUnavailable, clock
from eventsourcing.projections import ProjectionRunner, SQLCheckpointStore
from tests.integration.projections_worker import STREAM_TYPE, Counting, Ticked
from tests.postgres_server import PostgresServer, PostgresServerError

DEADLINE = 120.0  # a bound for a runner that never recovers, not a timing assumption


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    server = PostgresServer(settings={"fsync": "off"})
    try:
        server.start()
    except PostgresServerError as err:
        server.stop()
        pytest.fail(f"cannot start the PostgreSQL cluster for the outage tests: {err}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


async def until(what: str, condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = clock.monotonic() + DEADLINE
    while not await condition():
        assert clock.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


class Writer:
    """Appends to a few streams and keeps what was acknowledged; an unavailable store is retried
    with the same events (same ids), so an append whose outcome was unknown is settled, not doubled."""

    def __init__(self, store: SQLEventStore) -> None:
        self.store = store
        self.acknowledged: dict[uuid.UUID, str] = {}
        self.last: AppendResult | None = None

    async def append(self, stream_id: str, count: int) -> AppendResult:
        events = [NewEvent(Ticked(n=i), uuid.uuid4(), clock.now()) for i in range(count)]
        while True:
            try:
                version = await self.store.stream_version(stream_id)
                result = await self.store.append(stream_id, events, version, stream_type=STREAM_TYPE)
                break
            except StoreUnavailable:
                await asyncio.sleep(0.05)
        self.acknowledged.update((e.event_id, stream_id) for e in events)
        self.last = result
        return result


async def check_exactly_once(views: SQLCheckpointStore, writer: Writer) -> None:
    rows = await views.fetch("SELECT event_id, stream_id FROM audit")
    assert sorted(r[0] for r in rows) == sorted(str(e) for e in writer.acknowledged)
    counts: dict[str, int] = {}
    for stream_id in writer.acknowledged.values():
        counts[stream_id] = counts.get(stream_id, 0) + 1
    assert dict(await views.fetch("SELECT id, n FROM counters")) == counts


@pytest.fixture
async def stores(server: PostgresServer, tmp_path: Path) -> AsyncIterator[tuple[SQLEventStore, SQLCheckpointStore]]:
    async with SQLEventStore(server.url()) as store, SQLCheckpointStore(server.url()) as views:
        yield store, views


async def test_run_survives_a_restart_of_the_server_under_events_and_views(
    server: PostgresServer, stores: tuple[SQLEventStore, SQLCheckpointStore]
) -> None:
    store, views = stores
    writer = Writer(store)
    async with ProjectionRunner(store, views, [Counting()], batch_size=10, max_retry_interval=0.5) as runner:
        following = asyncio.create_task(runner.run())
        for i in range(30):
            await writer.append(f"s-{i % 4}", 3)
        assert writer.last is not None
        await runner.wait_until_caught_up(writer.last, DEADLINE)

        server.stop(remove=False)
        appended = asyncio.create_task(writer.append("s-during", 2))  # waits for the server with the runner

        async def retrying() -> bool:
            (status,) = await runner.status()
            return status.state == "retrying"

        await until("the runner says it is retrying", retrying)
        (status,) = await runner.status()
        assert status.error is not None and "StoreUnavailable" in status.error
        assert status.outage_since is not None
        server.restart()
        await appended
        for i in range(20):
            await writer.append(f"s-{i % 4}", 2)
        await runner.wait_until_caught_up(writer.last, DEADLINE)
        (status,) = await runner.status()
        assert (status.state, status.error, status.outage_since, status.lag_events) == ("idle", None, None, 0)
        runner.stop()
        await following
    await check_exactly_once(views, writer)


async def test_run_survives_every_connection_terminated_while_it_works(
    server: PostgresServer, stores: tuple[SQLEventStore, SQLCheckpointStore]
) -> None:
    store, views = stores
    writer = Writer(store)
    async with ProjectionRunner(store, views, [Counting()], batch_size=5, max_retry_interval=0.2) as runner:
        following = asyncio.create_task(runner.run())
        admin = await asyncpg.connect(server.url())
        try:
            for round_ in range(8):
                for i in range(10):
                    await writer.append(f"s-{(round_ + i) % 5}", 2)
                # Every backend but ours: the event store's, the checkpoint store's (mid-batch or idle).
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND datname = current_database()"
                )
            assert writer.last is not None
            await runner.wait_until_caught_up(writer.last, DEADLINE)
        finally:
            await admin.close()
        runner.stop()
        await following
    await check_exactly_once(views, writer)
