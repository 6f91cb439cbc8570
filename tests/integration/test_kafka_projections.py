"""Projections consuming the Kafka store, on the broker the tests start.

The runner keeps its checkpoint (a map of topic-partition to offset) in the view database, in the
transaction of each batch's view change: no consumer group, no offset commits. Covered: catch-up
and live follow over several topics and partitions (one created while the runner follows), read-
your-writes with positions from another store instance, status and lag, a stream-type filter,
rebuilds (also as of a past time), PostgreSQL views, appends from two stores and two processes,
two competing runners (one killed: the other takes over), and worker processes SIGKILLed mid-way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from eventsourcing import AppendResult, ConcurrencyError, EventStore, NewEvent, RecordedEvent, clock
from eventsourcing.projections import (
    MemoryCheckpointStore,
    ProjectionRunner,
    Projector,
    SQLCheckpointStore,
    ViewBatch,
    on,
)
from eventsourcing.stores.kafka import KafkaEventStore
from tests.integration.projections_worker import STREAM_TYPE, Counting, Ticked

OTHER_TYPE = "ptest.Other"
LATE_TYPE = "ptest.Late"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def ticks(count: int, *, start: dt.datetime = T0, step: float = 1.0) -> list[NewEvent]:
    return [NewEvent(Ticked(n=i), uuid.uuid4(), start + dt.timedelta(seconds=i * step)) for i in range(count)]


async def append(
    store: EventStore, stream_id: str, events: Sequence[NewEvent], stream_type: str = STREAM_TYPE
) -> AppendResult:
    version = await store.stream_version(stream_id)
    return await store.append(stream_id, events, version, stream_type=stream_type)


async def view_rows(views: SQLCheckpointStore, table: str = "counters") -> dict[str, int]:
    return dict(await views.fetch(f"SELECT id, n FROM {table} ORDER BY id"))


async def audit_ids(views: SQLCheckpointStore) -> list[str]:
    return [row[0] for row in await views.fetch("SELECT event_id FROM audit")]


class Collect(Projector):
    """The events of one stream type, in a list (an in-process view)."""

    name = "collect"
    stream_types = (STREAM_TYPE,)

    def __init__(self) -> None:
        self.seen: list[RecordedEvent[Any]] = []

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        view.call(self.seen.append, event)


# -- catch-up, live follow, read-your-writes, status, rebuilds ----------------------------------------


async def test_catch_up_then_follow_across_topics_with_read_your_writes(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = new_prefix()
    async with (
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as writer,
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as reader,
    ):
        for s in range(6):
            await append(writer, f"c-{s}", ticks(10))
            await append(writer, f"o-{s}", ticks(5), OTHER_TYPE)
        await reader.sync()
        collect = Collect()
        views_url = f"sqlite:///{tmp_path / 'views.db'}"
        async with (
            SQLCheckpointStore(views_url) as views,
            ProjectionRunner(reader, views, [Counting()], batch_size=7) as runner,
            ProjectionRunner(reader, MemoryCheckpointStore(), [collect], batch_size=5) as filtered,
        ):
            assert await runner.catch_up() == 90
            assert await filtered.catch_up() == 60
            assert await view_rows(views) == {**{f"c-{s}": 10 for s in range(6)}, **{f"o-{s}": 5 for s in range(6)}}
            checkpoint = await views.load("counting")
            # The checkpoint is the store's position map, kept as JSON in the view database.
            assert checkpoint.position == await reader.head()
            topics = {key.rpartition("/")[0] for key in checkpoint.position}
            assert topics == {f"{prefix}.{STREAM_TYPE}", f"{prefix}.{OTHER_TYPE}"}
            following = [asyncio.create_task(runner.run()), asyncio.create_task(filtered.run())]
            try:
                # Positions from another store instance; the last writes go to a topic that did not
                # exist when the runner started.
                for i in range(12):
                    stream_type = LATE_TYPE if i >= 8 else STREAM_TYPE
                    result = await append(writer, f"live-{i % 4}-{stream_type}", ticks(2), stream_type)
                    await runner.wait_until_caught_up(result, 10)
                    await filtered.wait_until_caught_up(result, 10)
                    assert sum((await view_rows(views)).values()) == 90 + 2 * (i + 1)
                for status in [*await runner.status(), *await filtered.status()]:
                    assert (status.lag_events, status.lag_seconds, status.state) == (0, 0.0, "idle"), status
                    assert reader.covers(status.checkpoint, status.head)
            finally:
                runner.stop()
                filtered.stop()
                await asyncio.gather(*following)
            assert len(set(await audit_ids(views))) == len(await audit_ids(views)) == 114

            assert await runner.rebuild("counting") == 114
            assert sum((await view_rows(views)).values()) == 114
            as_of = T0 + dt.timedelta(seconds=3)
            tables = await runner.rebuild_as_of("counting", as_of, suffix="_early")
            early = await view_rows(views, tables["counters"])
            assert early == {s: min(n, 4) for s, n in (await view_rows(views)).items()}


class RacingStore(KafkaEventStore):
    """A Kafka store that runs ``between`` once, right after its next `head` (a write landing there)."""

    between: Any = None

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        head = await super().head(stream_types=stream_types)
        between, self.between = self.between, None
        if between is not None:
            await between()
        return head


async def test_a_filtered_projector_never_moves_back_when_a_write_lands_between_head_and_page(
    kafka_bootstrap: str,
) -> None:
    """A projector of some stream types moves its checkpoint to the log's head when its page comes
    back short (past the other types' events). With position maps, the head read before the page
    can be behind the page in the partition of an event appended in between: moving to it would
    move back there, and the event would be applied again."""
    prefix = new_prefix()
    collect = Collect()
    async with (
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=1) as writer,
        RacingStore(kafka_bootstrap, prefix=prefix, partitions=1) as reader,
    ):
        await append(writer, "mine", ticks(2))
        await append(writer, "theirs", ticks(2), OTHER_TYPE)
        await reader.sync()
        async with ProjectionRunner(reader, MemoryCheckpointStore(), [collect]) as runner:
            await runner.catch_up()
            await append(writer, "theirs", ticks(1), OTHER_TYPE)  # the head moves on in the other topic
            await reader.sync()

            async def land() -> None:
                await append(writer, "mine", ticks(1))
                await reader.sync()

            reader.between = land
            await runner.catch_up()
            await runner.catch_up()
            (status,) = await runner.status()
            assert status.checkpoint == await reader.head()
        assert [e.version for e in collect.seen] == [1, 2, 3]


# -- two stores, two runners ---------------------------------------------------------------------------------


async def _two_runners_two_writers(kafka_bootstrap: str, views_url: str, seconds: float) -> None:
    """Two writer stores append to shared streams (with conflicts); two runners of one projector, each
    on a store instance and a view-database connection of its own, follow them."""
    prefix = new_prefix()
    appended: list[uuid.UUID] = []
    stop = asyncio.Event()
    conflicts = 0

    async def writer(store: EventStore, w: int) -> None:
        nonlocal conflicts
        i = 0
        while not stop.is_set():
            events = ticks(1 + i % 3)
            stream_id = f"shared-{i % 4}" if i % 2 else f"w{w}-{i % 5}"
            while True:
                try:
                    await append(store, stream_id, events)
                    break
                except ConcurrencyError:
                    conflicts += 1
                    await asyncio.sleep(0.005)
            appended.extend(e.event_id for e in events)
            i += 1

    async with (
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as store_1,
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as store_2,
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as store_a,
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as store_b,
        SQLCheckpointStore(views_url) as views_a,
        SQLCheckpointStore(views_url) as views_b,
        ProjectionRunner(store_a, views_a, [Counting()], batch_size=10, poll_interval=0.001) as a,
        ProjectionRunner(store_b, views_b, [Counting()], batch_size=10, poll_interval=0.001) as b,
    ):
        runs = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        writers = [asyncio.create_task(writer(store_1, 1)), asyncio.create_task(writer(store_2, 2))]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*writers)
        for runner in (a, b):
            await runner.wait_until_caught_up(await store_1.head(), 10)
            await runner.wait_until_caught_up(await store_2.head(), 10)
        a.stop()
        b.stop()
        await asyncio.gather(*runs)  # neither stopped on an error (a double apply would be one)
        audited = await audit_ids(views_a)
        assert len(audited) == len(set(audited)) == len(appended)
        assert set(audited) == {str(e) for e in appended}
        assert sum((await view_rows(views_a)).values()) == len(appended)
        assert conflicts > 0, "the writers never raced"
        raced = a._projections["counting"].conflicts + b._projections["counting"].conflicts
        assert raced > 0, "the two runners never raced: the test proves nothing"


async def test_two_runners_and_two_writer_stores_apply_every_event_once_sqlite(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    await _two_runners_two_writers(kafka_bootstrap, f"sqlite:///{tmp_path / 'views.db'}", 1.5)


async def test_two_runners_and_two_writer_stores_apply_every_event_once_postgres(
    kafka_bootstrap: str, postgres_url: str
) -> None:
    await _two_runners_two_writers(kafka_bootstrap, postgres_url, 1.5)


# -- processes: crashes, takeover, a writer in another process --------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
WORKER = "tests.integration.kafka_projections_worker"


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", WORKER, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


async def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return (await asyncio.to_thread(process.stdout.readline)).strip()


def read_lines(process: subprocess.Popen[str], count: int) -> list[str]:
    assert process.stdout is not None
    return [process.stdout.readline().strip() for _ in range(count)]


CRASH_STREAMS = 60
CRASH_RECORDS = 6  # per stream, of 1-12 events
CRASH_KILLS = 8
CRASH_MAX_RUN = 150  # events a worker takes at most before it is killed


@pytest.mark.slow
async def test_sigkill_anywhere_while_catching_up_from_kafka_applies_every_event_exactly_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A projector process over the Kafka store (its index in a file, resumed at each restart) is
    SIGKILLed at random moments and restarted. At the end every event is applied once (the audit
    table's primary key makes a double apply fail loudly) and the view equals a fresh replay."""
    prefix = new_prefix()
    views_url = f"sqlite:///{tmp_path / 'views.db'}"
    expected: dict[str, int] = {}
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=4) as store:

        async def fill(s: int) -> None:
            stream_id, stream_type = f"s-{s}", OTHER_TYPE if s % 3 == 0 else STREAM_TYPE
            for r in range(CRASH_RECORDS):
                await append(store, stream_id, ticks(1 + (s + r) % 12), stream_type)
            expected[stream_id] = await store.stream_version(stream_id)

        for first in range(0, CRASH_STREAMS, 10):
            await asyncio.gather(*(fill(s) for s in range(first, first + 10)))
    total = sum(expected.values())

    assert total > CRASH_KILLS * CRASH_MAX_RUN  # no worker can finish before it is killed
    rng = random.Random(int(os.environ.get("CRASH_SEED", "7")))
    worker_args = ("catch-up", kafka_bootstrap, prefix, views_url, "20", str(tmp_path / "index.db"))
    killed = 0
    for attempt in range(CRASH_KILLS):
        # Killed after it has taken a random number of events (it says as it takes each one): by
        # progress, not by the clock, so that every kill lands while it catches up.
        worker = start(*worker_args)
        assert await read_line(worker) == "ready", worker.communicate()
        taken = 0 if attempt % 4 == 3 else rng.randint(1, CRASH_MAX_RUN)
        seen = await asyncio.to_thread(read_lines, worker, taken)
        assert seen == ["e"] * taken, worker.communicate()
        for _ in range(rng.choice((0, 0, 1, 3))):  # a few turns later: its commit may be under way
            await asyncio.sleep(0)
        assert worker.poll() is None
        os.kill(worker.pid, signal.SIGKILL)
        _out, err = worker.communicate()
        assert worker.returncode == -signal.SIGKILL, f"worker failed ({worker.returncode}):\n{err}"
        killed += 1
    worker = start(*worker_args)
    _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err

    async with (
        KafkaEventStore(kafka_bootstrap, prefix=prefix) as store,
        SQLCheckpointStore(views_url) as views,
        ProjectionRunner(store, views, [Counting()]) as runner,
    ):
        assert (await views.fetch("SELECT count(*), count(DISTINCT event_id) FROM audit"))[0] == (total, total)
        crashed = await view_rows(views)
        assert crashed == expected
        checkpoint = await views.load("counting")
        assert checkpoint.seq > killed  # the kills interrupted runs in progress
        assert checkpoint.position == await store.head()
        await runner.rebuild("counting")  # a fresh replay
        assert await view_rows(views) == crashed


@pytest.mark.slow
async def test_a_runner_takes_over_when_its_competitor_is_killed(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Two worker processes run the same projector on one view database while a third process and
    this one append; one worker is SIGKILLed mid-way and the other carries on alone. Every event is
    applied exactly once, including those appended after the kill (by the survivor)."""
    prefix = new_prefix()
    views_url = f"sqlite:///{tmp_path / 'views.db'}"
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=3) as store:
        await append(store, "seed", ticks(3))  # the topic exists before the workers start
        workers = {name: start("follow", kafka_bootstrap, prefix, views_url, "5", name) for name in ("a", "b")}
        try:
            for worker in workers.values():
                assert await read_line(worker) == "ready", worker.communicate()
            writer = start("write", kafka_bootstrap, prefix, "6", "150")
            mine: list[uuid.UUID] = []
            killed = False
            for i in range(600):
                events = ticks(2)
                while True:
                    try:
                        await append(store, f"shared-{i % 6}", events)
                        break
                    except ConcurrencyError:
                        await store.sync()
                mine.extend(e.event_id for e in events)
                # Kill "a" mid-way, once it has applied something (which worker wins a batch is up to them).
                if i >= 30 and await _applied_by(views_url, "a"):
                    os.kill(workers["a"].pid, signal.SIGKILL)
                    killed = True
                    break
            assert killed, "worker a never applied an event while the log grew: no competition to test"
            assert (await read_line(writer)).startswith("wrote"), writer.communicate()
            assert writer.wait(30) == 0
            after_kill = ticks(4)
            await append(store, "after-kill", after_kill)
            await store.sync()
            head = await store.head()
            async with SQLCheckpointStore(views_url) as views:
                deadline = clock.monotonic() + 120  # a bound for a stuck survivor, not a timing assumption
                while not store.covers((await views.load("tagged")).position, head):
                    assert clock.monotonic() < deadline, "the surviving worker did not reach the head"
                    await asyncio.sleep(0.05)
                workers["b"].send_signal(signal.SIGTERM)
                _out, err = workers["b"].communicate(timeout=30)
                assert workers["b"].returncode == 0, err
                assert workers["a"].wait(10) == -signal.SIGKILL
                accepted = [e.event_id for e in await store.read_all(limit=100_000)]
                rows = dict(await views.fetch("SELECT event_id, worker FROM applied_by"))
                assert sorted(rows) == sorted(str(e) for e in accepted)  # each once: the primary key
                assert {str(e) for e in mine} <= set(rows)
                assert set(rows.values()) == {"a", "b"}, "one worker did all the work: no competition"
                assert {rows[str(e.event_id)] for e in after_kill} == {"b"}
        finally:
            for worker in workers.values():
                if worker.poll() is None:
                    worker.kill()
                    worker.communicate()


async def _applied_by(views_url: str, worker: str) -> bool:
    async with SQLCheckpointStore(views_url) as views:
        return bool(await views.fetch("SELECT 1 FROM applied_by WHERE worker = ? LIMIT 1", (worker,)))
