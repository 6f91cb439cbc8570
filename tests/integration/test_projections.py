"""Projections against real stores: catch-up and live follow, poison events both ways, rebuilds
(also as of a past time), status and lag, read-your-writes, reads inside a batch, two runners of
one projector under concurrent writes (SQLite and PostgreSQL), and followers of 8 PostgreSQL writers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from eventsourcing import AppendResult, EventStore, MemoryEventStore, NewEvent, RecordedEvent, SQLEventStore
from eventsourcing.projections import (
    MemoryCheckpointStore,
    PoisonEvent,
    ProjectionError,
    ProjectionRunner,
    Projector,
    SQLCheckpointStore,
    ViewBatch,
    on,
)
from tests.integration.projections_worker import (
    STREAM_TYPE,
    Counting,
    CountingWithDeadLetters,
    Poisoned,
    Ticked,
)

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def ticks(count: int, *, start: dt.datetime = T0, step: float = 1.0) -> list[NewEvent]:
    return [NewEvent(Ticked(n=i), uuid.uuid4(), start + dt.timedelta(seconds=i * step)) for i in range(count)]


async def append(store: EventStore, stream_id: str, events: Sequence[NewEvent]) -> AppendResult:
    version = await store.stream_version(stream_id)
    return await store.append(stream_id, events, version, stream_type=STREAM_TYPE)


async def view_rows(views: SQLCheckpointStore, table: str = "counters") -> dict[str, int]:
    return dict(await views.fetch(f"SELECT id, n FROM {table} ORDER BY id"))


async def audit_ids(views: SQLCheckpointStore) -> list[str]:
    return [row[0] for row in await views.fetch("SELECT event_id FROM audit")]


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLEventStore]:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        yield store


@pytest.fixture
async def sqlite_views(tmp_path: Path) -> AsyncIterator[SQLCheckpointStore]:
    async with SQLCheckpointStore(f"sqlite:///{tmp_path / 'views.db'}") as views:
        yield views


# -- catch-up, live, read-your-writes, status ------------------------------------------------------


async def test_catch_up_then_follow_live_with_read_your_writes(
    sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore
) -> None:
    for s in range(5):
        await append(sqlite_store, f"c-{s}", ticks(30))
    async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()], batch_size=40) as runner:
        assert await runner.catch_up() == 150
        assert await view_rows(sqlite_views) == {f"c-{s}": 30 for s in range(5)}
        following = asyncio.create_task(runner.run())
        try:
            for i in range(20):
                result = await append(sqlite_store, f"live-{i % 3}", ticks(2))
                await runner.wait_until_caught_up(result, timeout=5)
                rows = await view_rows(sqlite_views)
                assert sum(rows.values()) == 150 + 2 * (i + 1)  # read-your-writes
            (status,) = await runner.status()
            assert (status.lag_events, status.lag_seconds, status.state) == (0, 0.0, "idle")
            assert status.checkpoint == status.head == result.position
        finally:
            runner.stop()
            await following
    assert len(await audit_ids(sqlite_views)) == 190


async def test_status_reports_lag_in_events_and_seconds(
    sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore
) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    await append(sqlite_store, "s", ticks(25, start=old))
    async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()], batch_size=10) as runner:
        (before,) = await runner.status()
        assert (before.checkpoint, before.lag_events, before.lag_exact) == (None, 25, True)
        assert 590 < before.lag_seconds < 700
        await runner._step(runner._projections["counting"])  # one batch of 10
        (during,) = await runner.status(max_scan=5)
        assert (during.lag_events, during.lag_exact) == (5, False)
        await runner.catch_up()
        (after,) = await runner.status()
        assert (after.lag_events, after.lag_seconds) == (0, 0.0)
        assert after.updated_at is not None
    with pytest.raises(TimeoutError):
        async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()]) as runner:
            await runner.wait_until_caught_up(10**9, timeout=0.05)


class OwnTypeOnly(Counting):
    name = "own-type-only"
    stream_types = (STREAM_TYPE,)


async def test_a_filtered_projector_waits_for_other_types_writes(tmp_path: Path) -> None:
    """Read-your-writes after a write the projector does not read (another stream type): its
    checkpoint only advanced over its own types' events, so waiting for such a position timed out."""
    async with MemoryEventStore() as store:
        await _filtered_projector_waits(store, f"sqlite:///{tmp_path / 'views-memory.db'}")
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        await _filtered_projector_waits(store, f"sqlite:///{tmp_path / 'views-sqlite.db'}")


async def test_a_filtered_projector_waits_for_other_types_writes_postgres(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url) as store:
        await _filtered_projector_waits(store, postgres_url)


async def _filtered_projector_waits(store: EventStore, views_url: str) -> None:
    async with SQLCheckpointStore(views_url) as views:
        async with ProjectionRunner(store, views, [OwnTypeOnly()], batch_size=4) as runner:
            await append(store, "own", ticks(3))
            other = await append_other(store, ticks(9))
            await runner.wait_until_caught_up(other, timeout=2)  # catching up by itself
            assert await view_rows(views) == {"own": 3}
            following = asyncio.create_task(runner.run())
            try:
                own = await append(store, "own", ticks(2))
                await runner.wait_until_caught_up(own, timeout=2)
                other = await append_other(store, ticks(5))
                await runner.wait_until_caught_up(other, timeout=2)  # while following
                assert await view_rows(views) == {"own": 5}
                (status,) = await runner.status()
                assert (status.lag_events, status.lag_exact, status.state) == (0, True, "idle")
                assert store.covers(status.checkpoint, other.position)
            finally:
                runner.stop()
                await following
        # Interleaved writes of both types: moving the checkpoint over other types skips none of its own.
        async with ProjectionRunner(store, views, [OwnTypeOnly()], batch_size=3) as runner:
            following = asyncio.create_task(runner.run())
            try:
                for i in range(12):
                    own = await append(store, f"own-{i % 2}", ticks(1 + i % 3))
                    other = await append_other(store, ticks(2))
                    await runner.wait_until_caught_up(other if i % 2 else own, timeout=2)
            finally:
                runner.stop()
                await following
            await runner.catch_up()
        audited = await audit_ids(views)
        assert len(audited) == len(set(audited)) == 5 + sum(1 + i % 3 for i in range(12))


async def append_other(store: EventStore, events: Sequence[NewEvent]) -> AppendResult:
    version = await store.stream_version("other")
    return await store.append("other", events, version, stream_type="ptest.Other")


# -- poison events ---------------------------------------------------------------------------------


async def _poisoned_log(store: EventStore) -> tuple[list[AppendResult], uuid.UUID]:
    first = await append(store, "p", ticks(5))
    bad_id = uuid.uuid4()
    bad = await append(store, "p", [NewEvent(Poisoned(reason="cannot count this"), bad_id, T0)])
    rest = await append(store, "p", ticks(3))
    return [first, bad, rest], bad_id


@pytest.mark.parametrize("batch_size", [1, 4, 100])
async def test_a_poison_event_stops_the_projector_at_the_last_good_checkpoint(
    sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore, batch_size: int
) -> None:
    (first, bad, _rest), bad_id = await _poisoned_log(sqlite_store)
    async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()], batch_size=batch_size) as runner:
        with pytest.raises(PoisonEvent) as caught:
            await runner.catch_up()
        error = caught.value
        assert (error.stream_id, error.version, error.event_type, error.event_id) == ("p", 6, "ptest.poisoned", bad_id)
        assert error.position == bad.position
        assert isinstance(error.__cause__, ValueError)
        for part in ("'p'", "version 6", "ptest.poisoned", str(bad_id), "cannot count this"):
            assert part in str(error)
        assert (await sqlite_views.load("counting")).position == first.position
        assert await view_rows(sqlite_views) == {"p": 5}  # the failed handler's own write is gone
        with pytest.raises(PoisonEvent):  # it stays stopped there
            await runner.catch_up()
        following = asyncio.create_task(runner.run())
        with pytest.raises(PoisonEvent):
            await asyncio.wait_for(following, 5)
        (status,) = await runner.status()
        assert status.state == "stopped" and status.error is not None and str(bad_id) in status.error
        with pytest.raises(ProjectionError, match="has stopped"):
            await runner.wait_until_caught_up(bad, timeout=1)
    # Another process (the CLI's `projections status`) sees where and why it stopped.
    async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()]) as elsewhere:
        (status,) = await elsewhere.status()
        assert (status.state, status.checkpoint, status.lag_events) == ("stopped", first.position, 4)
        assert status.error is not None and "poison event" in status.error and str(bad_id) in status.error


async def test_a_poison_event_goes_to_the_dead_letters_when_configured(
    sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore
) -> None:
    (_first, bad, rest), bad_id = await _poisoned_log(sqlite_store)
    async with ProjectionRunner(sqlite_store, sqlite_views, [CountingWithDeadLetters()], batch_size=100) as runner:
        assert await runner.catch_up() == 9
        assert await view_rows(sqlite_views) == {"p": 8}
        assert (await sqlite_views.load("counting-dl")).position == rest.position
        (letter,) = await runner.dead_letters("counting-dl")
        assert (letter.event_id, letter.stream_id, letter.version, letter.event_type) == (
            bad_id,
            "p",
            6,
            "ptest.poisoned",
        )
        assert letter.position == bad.position
        assert letter.error == "ValueError: cannot count this"
        (status,) = await runner.status()
        assert (status.dead_letters, status.lag_events) == (1, 0)
        # A rebuild forgets the old dead letters and records the poison event again.
        assert await runner.rebuild("counting-dl") == 9
        assert [d.event_id for d in await runner.dead_letters("counting-dl")] == [bad_id]
        assert await view_rows(sqlite_views) == {"p": 8}


# -- rebuilds ----------------------------------------------------------------------------------------


async def test_rebuild_resets_and_replays(sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore) -> None:
    for s in range(4):
        await append(sqlite_store, f"r-{s}", ticks(10 + s))
    async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()], batch_size=7) as runner:
        await runner.catch_up()
        before = await view_rows(sqlite_views)
        await sqlite_views.fetch("UPDATE counters SET n = -1")  # damage the view
        assert await runner.rebuild("counting") == sum(10 + s for s in range(4))
        assert await view_rows(sqlite_views) == before
        assert len(await audit_ids(sqlite_views)) == sum(before.values())


async def test_rebuild_as_of_equals_a_replay_filtered_by_time(
    sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore
) -> None:
    # Streams with clocks that do not agree: the global log is not in timestamp order.
    everything: list[tuple[str, NewEvent]] = []
    for s in range(6):
        events = ticks(40, start=T0 + dt.timedelta(seconds=7 * s), step=1.5 + s % 3)
        for chunk in range(0, 40, 13):
            await append(sqlite_store, f"t-{s}", events[chunk : chunk + 13])
        everything.extend((f"t-{s}", e) for e in events)
    as_of = T0 + dt.timedelta(seconds=55)
    expected = Counter(stream for stream, e in everything if e.timestamp <= as_of)
    async with ProjectionRunner(sqlite_store, sqlite_views, [Counting()], batch_size=16) as runner:
        await runner.catch_up()
        live = await view_rows(sqlite_views)
        names = await runner.rebuild_as_of("counting", as_of)
        assert names == {"counters": "counters_asof_20260301_090055", "audit": "audit_asof_20260301_090055"}
        as_of_rows = await view_rows(sqlite_views, names["counters"])
        assert as_of_rows == dict(expected)
        assert await view_rows(sqlite_views) == live  # the live view is untouched
        # The same as a replay of only the events up to then, into a fresh view database.
        filtered = MemoryEventStore()
        for stream, e in everything:
            if e.timestamp <= as_of:
                await append(filtered, stream, [e])
        async with (
            SQLCheckpointStore(f"sqlite:///{sqlite_views.url.split('///')[1]}-replay.db") as replay_views,
            ProjectionRunner(filtered, replay_views, [Counting()]) as replay,
        ):
            await replay.catch_up()
            assert await view_rows(replay_views) == as_of_rows
        # Again with another suffix; a second build over the same tables starts from scratch.
        again = await runner.rebuild_as_of("counting", as_of, suffix="_then")
        assert await view_rows(sqlite_views, again["counters"]) == as_of_rows
        await runner.rebuild_as_of("counting", as_of, suffix="_then")
        assert await view_rows(sqlite_views, again["counters"]) == as_of_rows


# -- handlers that read, in-process views ---------------------------------------------------------


class Running(Projector):
    """Keeps a running total per stream by reading the row first (an async handler)."""

    name = "running"
    tables = Counting.tables

    @on(Ticked)
    async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        current = await view.fetchval("SELECT n FROM {counters} WHERE id = ?", (event.stream_id,))
        if current is None:
            view.execute("INSERT INTO {counters} (id, n) VALUES (?, ?)", (event.stream_id, event.event.n))
        else:
            view.execute("UPDATE {counters} SET n = ? WHERE id = ?", (current + event.event.n, event.stream_id))


async def test_async_handlers_read_their_batch_writes(
    sqlite_store: SQLEventStore, sqlite_views: SQLCheckpointStore
) -> None:
    await append(sqlite_store, "a", ticks(25))
    await append(sqlite_store, "b", ticks(5))
    async with ProjectionRunner(sqlite_store, sqlite_views, [Running()], batch_size=8) as runner:
        await runner.catch_up()
    assert await view_rows(sqlite_views) == {"a": sum(range(25)), "b": sum(range(5))}


async def test_in_process_views_with_the_memory_checkpoint_store() -> None:
    totals: Counter[str] = Counter()

    class InMemory(Projector):
        name = "in-memory"

        @on(Ticked)
        def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
            view.call(totals.update, [event.stream_id])

    store = MemoryEventStore()
    await append(store, "m", ticks(12))
    async with ProjectionRunner(store, MemoryCheckpointStore(), [InMemory()], batch_size=5) as runner:
        result = await append(store, "n", ticks(3))
        await runner.wait_until_caught_up(result, timeout=5)
    assert totals == {"m": 12, "n": 3}


# -- concurrency -------------------------------------------------------------------------------------


async def _two_runners_under_writes(store: EventStore, views_url: str, seconds: float) -> None:
    appended: list[uuid.UUID] = []
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        i = 0
        while not stop.is_set():
            events = ticks(3)
            await append(store, f"w{w}-{i % 5}", events)
            appended.extend(e.event_id for e in events)
            i += 1
            await asyncio.sleep(0.002)

    async with (
        SQLCheckpointStore(views_url) as views_a,
        SQLCheckpointStore(views_url) as views_b,
        ProjectionRunner(store, views_a, [Counting()], batch_size=20, poll_interval=0.001) as a,
        ProjectionRunner(store, views_b, [Counting()], batch_size=20, poll_interval=0.001) as b,
    ):
        runs = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        writers = [asyncio.create_task(writer(w)) for w in range(3)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*writers)
        a.stop()
        b.stop()
        await asyncio.gather(*runs)  # neither stopped on an error (a double apply would be one)
        await a.catch_up()
        audited = await audit_ids(views_a)
        assert len(audited) == len(set(audited)) == len(appended)
        assert set(audited) == {str(e) for e in appended}
        assert sum((await view_rows(views_a)).values()) == len(appended)
        conflicts = a._projections["counting"].conflicts + b._projections["counting"].conflicts
        assert conflicts > 0, "the two runners never raced: the test proves nothing"


async def test_two_runners_of_one_projector_never_both_apply_sqlite(tmp_path: Path) -> None:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        await _two_runners_under_writes(store, f"sqlite:///{tmp_path / 'views.db'}", 1.5)


async def test_two_runners_of_one_projector_never_both_apply_postgres(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url) as store:
        await _two_runners_under_writes(store, postgres_url, 1.5)


async def test_postgres_followers_skip_nothing_while_8_writers_append(postgres_url: str) -> None:
    """Writers commit out of position order; the horizon-based read_all and the runner skip nothing."""
    appended: list[uuid.UUID] = []
    last: list[Any] = []
    seen: list[uuid.UUID] = []

    class Seen(Projector):  # a second follower, with small batches and an in-process view
        name = "seen"

        @on(Ticked)
        def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
            view.call(seen.append, event.event_id)

    async with (
        SQLEventStore(postgres_url, pool_size=8) as store,
        ProjectionRunner(store, postgres_url, [Counting()], batch_size=50, poll_interval=0.001) as runner,
        ProjectionRunner(store, MemoryCheckpointStore(), [Seen()], batch_size=7) as second,
    ):

        async def writer(w: int) -> None:
            for i in range(40):
                events = ticks(1 + i % 4)
                result = await append(store, f"pg{w}-{i % 6}", events)
                appended.extend(e.event_id for e in events)
                last.append(result)

        following = [asyncio.create_task(runner.run()), asyncio.create_task(second.run())]
        await asyncio.gather(*(writer(w) for w in range(8)))
        for result in last:
            await runner.wait_until_caught_up(result, timeout=20)
            await second.wait_until_caught_up(result, timeout=20)
        runner.stop()
        second.stop()
        await asyncio.gather(*following)
        audited = await audit_ids(runner.views)  # type: ignore[arg-type]
        assert len(audited) == len(appended)
        assert set(audited) == {str(e) for e in appended}
        rows = dict(await runner.views.fetch("SELECT id, n FROM counters"))
        assert sum(rows.values()) == len(appended)
        assert len(seen) == len(set(seen)) == len(appended) and set(seen) == set(appended)
