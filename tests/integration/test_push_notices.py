"""Push, not poll: a running `ProjectionRunner` wakes on append notices.

Every runner here polls once an hour, so only a notice can wake it: on PostgreSQL, LISTEN/NOTIFY
from another store object (another process, as far as the server is concerned), also after the
listening connection was killed; on SQLite, the same store object's appends. A notifier whose
connection dies never fails an append. Waits are bounded (a failure is a timeout, never a timing
assertion)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from eventsourcing import NewEvent, SQLEventStore, clock, on
from eventsourcing.projections import MemoryCheckpointStore, ProjectionRunner, Projector, ViewBatch
from eventsourcing.stores.sql.pg_notify import CHANNEL
from tests.integration.projections_worker import STREAM_TYPE, Ticked

HOUR = 3600.0
WAIT = 30.0


class Seen(Projector):
    """Counts the events it applied and tells a waiting test when it reached a number."""

    name = "seen"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.changed = asyncio.Event()

    @on(Ticked)
    def ticked(self, event: object, view: ViewBatch) -> None:
        self.count += 1
        self.changed.set()

    async def reach(self, count: int) -> None:
        async def wait() -> None:
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), WAIT)


def ticks(count: int) -> list[NewEvent]:
    return [NewEvent(Ticked(n=i), uuid.uuid4(), clock.now()) for i in range(count)]


async def listener_pids(url: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()"
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def listening(url: str, not_these: list[int]) -> list[int]:
    """The pids of the sessions listening, once there are some other than ``not_these``."""
    while (pids := await listener_pids(url)) in ([], not_these):  # noqa: ASYNC110 - polls the server's catalog
        await asyncio.sleep(0.01)
    return pids


async def terminate(url: str, pids: list[int]) -> None:
    connection = await asyncpg.connect(url)
    try:
        for pid in pids:
            await connection.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()


@pytest.fixture
async def pg_stores(postgres_url: str) -> AsyncIterator[tuple[SQLEventStore, SQLEventStore]]:
    async with SQLEventStore(postgres_url) as followed, SQLEventStore(postgres_url) as writer:
        yield followed, writer


async def test_a_follower_wakes_on_another_stores_appends_and_after_losing_its_listener(
    pg_stores: tuple[SQLEventStore, SQLEventStore], postgres_url: str
) -> None:
    followed, writer = pg_stores
    await writer.append("before", ticks(2), 0, stream_type=STREAM_TYPE)
    seen = Seen()
    runner = ProjectionRunner(followed, MemoryCheckpointStore(), [seen], poll_interval=HOUR, max_poll_interval=HOUR)
    async with runner:
        task = asyncio.create_task(runner.run())
        try:
            await seen.reach(2)  # the catch-up at start
            pids = await asyncio.wait_for(listening(postgres_url, []), WAIT)
            await writer.append("after", ticks(3), 0, stream_type=STREAM_TYPE)
            await seen.reach(5)  # only a notice can have woken it: it polls once an hour

            await terminate(postgres_url, pids)  # the listening connection is lost
            await asyncio.wait_for(listening(postgres_url, pids), WAIT)  # listening again, on a new connection
            await writer.append("after", ticks(1), 3, stream_type=STREAM_TYPE)
            await seen.reach(6)
            assert seen.count == 6 and not task.done()
        finally:
            runner.stop()
            await asyncio.wait_for(task, WAIT)


async def test_a_notifier_that_loses_its_connection_never_fails_an_append(
    pg_stores: tuple[SQLEventStore, SQLEventStore], postgres_url: str
) -> None:
    _, writer = pg_stores
    listener = await asyncpg.connect(postgres_url)
    notices: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: notices.put_nowait(args[3]))
    try:
        await writer.append("s", ticks(1), 0, stream_type=STREAM_TYPE)
        await asyncio.wait_for(notices.get(), WAIT)
        connection = await asyncpg.connect(postgres_url)
        try:  # kill the notifier's session (the one that last ran pg_notify)
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'SELECT pg_notify%' AND pid <> pg_backend_pid() AND datname = current_database()"
            )
        finally:
            await connection.close()
        for version in range(1, 4):  # the first may meet the dead connection: it still succeeds
            result = await writer.append("s", ticks(1), version, stream_type=STREAM_TYPE)
            assert result.version == version + 1
        await asyncio.wait_for(notices.get(), WAIT)  # and notices resume on a new connection
    finally:
        await listener.close()


async def test_without_notify_the_store_sends_no_notices(postgres_url: str) -> None:
    listener = await asyncpg.connect(postgres_url)
    notices: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: notices.put_nowait(args[3]))
    try:
        async with SQLEventStore(postgres_url, notify=False) as quiet:
            await quiet.append("q", ticks(2), 0, stream_type=STREAM_TYPE)
            await quiet.append("q", ticks(2), 2, stream_type=STREAM_TYPE)
        # Notices arrive in commit order: a marker sent now comes after any the appends could have sent.
        await listener.execute(f"NOTIFY {CHANNEL}, 'marker'")
        assert await asyncio.wait_for(notices.get(), WAIT) == "marker"
    finally:
        await listener.close()


async def test_on_sqlite_a_follower_wakes_on_the_same_stores_appends(tmp_path: Path) -> None:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        seen = Seen()
        runner = ProjectionRunner(store, MemoryCheckpointStore(), [seen], poll_interval=HOUR, max_poll_interval=HOUR)
        async with runner:
            task = asyncio.create_task(runner.run())
            try:
                for i in range(5):
                    await store.append(f"s{i}", ticks(2), 0, stream_type=STREAM_TYPE)
                    await seen.reach(2 * (i + 1))
                    await asyncio.sleep(0)  # let the follower go idle between appends
            finally:
                runner.stop()
                await asyncio.wait_for(task, WAIT)
