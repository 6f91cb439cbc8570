"""Model-based concurrency suite for the projection runner.

Hypothesis draws *programs*: rounds of operations started together as asyncio tasks — appends,
`catch_up`, `wait_until_caught_up`, `run`/`stop`, `rebuild`, `rebuild_as_of`, a runner restarted
(a new instance over the same view database, while the old one's calls finish) — on two runner
instances of one projector at once, with a drawn number of yields before each operation and
inside the handlers, so that steps interleave at every await, and callers that give up (a
catch-up cancelled after a drawn number of turns: mid-read, mid-batch or mid-commit). The projector counts events per
stream and writes one audit row per event (primary key: the event id), so a double apply fails
the batch rather than go unnoticed.

The invariant, after each program (the model is the log itself):
- the checkpoint covers exactly what was applied: the audit rows are the events up to it, the
  counters their counts per stream;
- after a final catch-up, the view equals the view rebuilt from the log;
- every as-of view equals the log's events up to its time.

Run on SQLite views and on PostgreSQL views (the event store is a SQLite file in both).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import AppendResult, NewEvent, RecordedEvent, SQLEventStore
from eventsourcing.projections import ProjectionRunner, Projector, SQLCheckpointStore, ViewBatch, on
from tests.conftest import TEST_DATABASE
from tests.integration.projections_worker import STREAM_TYPE, Ticked
from tests.postgres_server import PostgresServer

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
STREAMS = 3

metadata = MetaData()
counts = Table("prog_counts", metadata, Column("id", Text, primary_key=True), Column("n", Integer, nullable=False))
applied = Table("prog_applied", metadata, Column("event_id", Text, primary_key=True), Column("stream_id", Text))

AUDIT = "INSERT INTO {prog_applied} (event_id, stream_id) VALUES (?, ?)"
_rng = random.Random(0)  # reseeded by each example: how often handlers yield


class Interleaved(Projector):
    """Counts per stream, one audit row per event; yields to other tasks in the middle of batches."""

    name = "interleaved"
    tables = (counts, applied)

    @on(Ticked)
    async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        for _ in range(_rng.choice((0, 0, 0, 1, 2))):
            await asyncio.sleep(0)
        view.add("prog_counts", event.stream_id, n=1)
        view.execute(
            "INSERT INTO {prog_applied} (event_id, stream_id) VALUES (?, ?)", (str(event.event_id), event.stream_id)
        )


@dataclass(frozen=True)
class Op:
    kind: str
    runner: int = 0
    stream: int = 0
    count: int = 1
    yields: int = 0


ops = st.one_of(
    st.builds(Op, kind=st.just("append"), stream=st.integers(0, STREAMS - 1), count=st.integers(1, 6)),
    st.builds(
        Op,
        count=st.integers(0, 6),
        kind=st.sampled_from(["catch_up", "wait", "run", "stop", "rebuild", "rebuild_as_of", "restart", "cancel"]),
        runner=st.integers(0, 1),
    ),
).flatmap(lambda op: st.integers(0, 3).map(lambda y: Op(op.kind, op.runner, op.stream, op.count, y)))

programs = st.lists(st.lists(ops, min_size=1, max_size=5), min_size=1, max_size=6)


@dataclass
class World:
    """The program's state: the stores, the two runner slots, what was appended, the as-of builds."""

    store: SQLEventStore
    views: SQLCheckpointStore
    batch_size: int
    runners: list[ProjectionRunner] = field(default_factory=list)
    following: dict[int, asyncio.Task[None]] = field(default_factory=dict)  # id(runner) -> its run task
    retired: list[ProjectionRunner] = field(default_factory=list)
    ticks: int = 0
    last: AppendResult | None = None
    as_of: dict[str, dt.datetime] = field(default_factory=dict)  # table suffix -> its time

    async def new_runner(self) -> ProjectionRunner:
        runner = ProjectionRunner(
            self.store, self.views, [Interleaved()], batch_size=self.batch_size, poll_interval=0.001
        )
        await runner.open()
        return runner

    async def append(self, stream: int, count: int) -> None:
        stream_id = f"s-{stream}"
        events = []
        for _ in range(count):
            self.ticks += 1
            events.append(NewEvent(Ticked(n=self.ticks), uuid.uuid4(), T0 + dt.timedelta(seconds=self.ticks)))
        version = await self.store.stream_version(stream_id)
        while True:  # several appends to one stream in a round: retry on conflict, like a command would
            try:
                result = await self.store.append(stream_id, events, version, stream_type=STREAM_TYPE)
                break
            except Exception as err:  # ConcurrencyError
                if type(err).__name__ != "ConcurrencyError":
                    raise
                version = await self.store.stream_version(stream_id)
        if self.last is None or self.store.covers(result.position, self.last.position):
            self.last = result

    def start(self, op: Op, round_no: int, index: int) -> Callable[[], Awaitable[Any]]:
        runner = self.runners[op.runner]
        if op.kind == "append":
            return lambda: self.append(op.stream, op.count)
        if op.kind == "catch_up":
            return runner.catch_up
        if op.kind == "wait":
            target = self.last
            if target is None:
                return runner.catch_up
            return lambda: runner.wait_until_caught_up(target, 30.0)
        if op.kind == "run":
            if id(runner) not in self.following:
                self.following[id(runner)] = asyncio.create_task(runner.run())
            return _nothing
        if op.kind == "stop":
            return lambda: self.stop(runner)
        if op.kind == "rebuild":
            return lambda: runner.rebuild("interleaved")
        if op.kind == "rebuild_as_of":
            suffix = f"_asof_{round_no}_{index}"
            at = T0 + dt.timedelta(seconds=self.ticks)  # only events appended before this round are <= it
            self.as_of[suffix] = at
            return lambda: runner.rebuild_as_of("interleaved", at, suffix=suffix)
        if op.kind == "cancel":
            return lambda: self.cancelled(runner, op.count)
        assert op.kind == "restart"
        return lambda: self.restart(op.runner)

    async def cancelled(self, runner: ProjectionRunner, turns: int) -> None:
        """A caller that gives up: a catch-up cancelled after a few turns of the loop (mid-read,
        mid-handlers or mid-commit, as it happens); the commit's outcome is then unknown to the runner."""
        task = asyncio.create_task(runner.catch_up())
        for _ in range(turns * 3):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def stop(self, runner: ProjectionRunner) -> None:
        task = self.following.pop(id(runner), None)
        runner.stop()
        if task is not None:
            await task

    async def restart(self, slot: int) -> None:
        old = self.runners[slot]
        self.runners[slot] = await self.new_runner()
        self.retired.append(old)
        await self.stop(old)
        await old.close()


async def _nothing() -> None:
    return None


async def _after(yields: int, call: Callable[[], Awaitable[Any]]) -> Any:
    for _ in range(yields):
        await asyncio.sleep(0)
    return await call()


async def play(store: SQLEventStore, views: SQLCheckpointStore, program: list[list[Op]], batch_size: int) -> None:
    world = World(store, views, batch_size)
    world.runners = [await world.new_runner(), await world.new_runner()]
    for round_no, round_ops in enumerate(program):
        calls = [world.start(op, round_no, i) for i, op in enumerate(round_ops)]
        await asyncio.gather(*(_after(op.yields, call) for op, call in zip(round_ops, calls, strict=True)))
    for runner in world.runners:
        await world.stop(runner)
    await check(world)
    for runner in world.runners:
        await runner.close()


async def check(world: World) -> None:
    store, views = world.store, world.views
    log = await store.read_all(after=None, limit=1_000_000)
    checkpoint = await views.load("interleaved")
    upto = [e for e in log if store.covers(checkpoint.position, e.position)]
    rows = await views.fetch("SELECT event_id FROM prog_applied")
    assert sorted(r[0] for r in rows) == sorted(str(e.event_id) for e in upto), "applied != up to the checkpoint"
    assert dict(await views.fetch("SELECT id, n FROM prog_counts")) == dict(Counter(e.stream_id for e in upto))
    # After a final catch-up the view is the view of the whole log (what a rebuild would give).
    await world.runners[0].catch_up()
    assert dict(await views.fetch("SELECT id, n FROM prog_counts")) == dict(Counter(e.stream_id for e in log))
    assert len(await views.fetch("SELECT event_id FROM prog_applied")) == len(log)
    for suffix, at in world.as_of.items():
        expected = Counter(e.stream_id for e in log if e.timestamp <= at)
        assert dict(await views.fetch(f"SELECT id, n FROM prog_counts{suffix}")) == dict(expected), suffix
        as_of_rows = await views.fetch(f"SELECT event_id FROM prog_applied{suffix}")
        assert len(as_of_rows) == sum(expected.values()), suffix


SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(program=programs, batch_size=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_programs_on_sqlite_views(program: list[list[Op]], batch_size: int, seed: int) -> None:
    _rng.seed(seed)

    async def example() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            async with (
                SQLEventStore(f"sqlite:///{Path(tmp) / 'events.db'}") as store,
                SQLCheckpointStore(f"sqlite:///{Path(tmp) / 'views.db'}") as views,
            ):
                await play(store, views, program, batch_size)

    asyncio.run(example())


@SETTINGS
@given(program=programs, batch_size=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_programs_on_postgres_views(
    postgres_server: PostgresServer, program: list[list[Op]], batch_size: int, seed: int
) -> None:
    _rng.seed(seed)
    url = postgres_server.url(TEST_DATABASE)

    async def example() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET lock_timeout = '10s'; DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory() as tmp:
            async with (
                SQLEventStore(f"sqlite:///{Path(tmp) / 'events.db'}") as store,
                SQLCheckpointStore(url) as views,
            ):
                await play(store, views, program, batch_size)

    asyncio.run(example())
