"""The PostgreSQL fault suite: every component survives lost sessions, restarts and a frozen server.

A cluster of its own (it is stopped, killed and frozen), serving TLS; every component connects with
``sslmode=verify-full`` and a command timeout of 1 s from the URL. The workload runs the event store,
the snapshot store and the checkpoint (view) store together: writer tasks append batches to their
streams and snapshot them, and a projector task catches a counting view up (one row per applied
event in an audit table, whose primary key makes a double apply an error). Faults are injected
mid-run while the writers keep appending; a writer retries a failed append (`StoreUnavailable`,
`AppendOutcomeUnknown`) by re-sending the same events with the same expected version until it is
acknowledged, as docs/postgres.md tells users to.

After each fault the same component objects (never reopened) must serve again: every writer gets
more appends acknowledged, the snapshot store saves, the view commits batches. At the end: every
acknowledged batch is stored exactly once at its versions, no stream holds anything else (nothing
half-written), the view counts every event once and equals a rebuild from the log.

Everything waits on events (acknowledgements, failures, what the server reports), never on time.
Figures (faults, appends acknowledged, lost, double-applied, time to recover) are printed as
``FAULT-SUITE {...}`` lines (``pytest -s`` shows them) for the issue's closing note.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from eventsourcing import (
    AppendOutcomeUnknown,
    ConfigurationError,
    NewEvent,
    RecordedEvent,
    SQLEventStore,
    StoreUnavailable,
    clock,
)
from eventsourcing.projections import Checkpoint, DeadLetter, ProjectionRunner, SQLCheckpointStore, ViewBatch, on
from eventsourcing.snapshots import SQLSnapshotStore
from eventsourcing.snapshotting import Snapshot
from tests.integration.projections_worker import STREAM_TYPE, Counting, Ticked
from tests.postgres_faults import Faults, tls_server
from tests.postgres_server import PostgresServer, PostgresServerError

WRITERS = 4
ROUND = 5  # appends each writer gets acknowledged between two faults (and after the last one)
GUARD = 120.0  # seconds: a hang fails the test instead of blocking the run (never a timing assertion)
SNAPSHOT_EVERY = 3  # a writer snapshots its stream every few appends
MAX_LAG = 300  # events: writers wait while the view is further behind (outside faults), so a loaded
# machine cannot let them outrun the projector for good


class Tallied(Counting):
    """`Counting`, and how many events its handler has run (the writers' pace follows it)."""

    name = "counting"
    handled = 0

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        super().ticked(event, view)
        self.handled += 1


class CountedViews(SQLCheckpointStore):
    """The PostgreSQL checkpoint store, counting the batches it committed (the view's progress)."""

    commits = 0
    on_commit: Callable[[], Awaitable[None]] | None = None

    async def commit(
        self, expected: Checkpoint, position: Any, view: ViewBatch | None = None, dead_letter: DeadLetter | None = None
    ) -> Checkpoint:
        checkpoint = await super().commit(expected, position, view, dead_letter)
        self.commits += 1
        if self.on_commit is not None:
            await self.on_commit()
        return checkpoint


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[PostgresServer, Path]]:
    try:
        server, cert, directory = tls_server()
    except PostgresServerError as err:
        pytest.fail(f"cannot start the PostgreSQL cluster the fault suite needs: {err}", pytrace=False)
    try:
        yield server, cert
    finally:
        Faults(server, "postgres").thaw()
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def database(cluster: tuple[PostgresServer, Path]) -> str:
    server, _ = cluster
    name = f"faults_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return name


def url_of(cluster: tuple[PostgresServer, Path], database: str, **params: str) -> str:
    server, cert = cluster
    query = {"sslmode": "verify-full", "sslrootcert": str(cert), "command_timeout": "1", **params}
    return server.url(database) + "?" + "&".join(f"{k}={v}" for k, v in query.items())


# -- the workload ---------------------------------------------------------------------------------


@dataclass
class Batch:
    stream_id: str
    first_version: int
    event_ids: list[uuid.UUID]


@dataclass
class Figures:
    scenario: str
    faults: int = 0
    appends_acknowledged: int = 0
    events_acknowledged: int = 0
    append_failures: int = 0
    outcome_unknown: int = 0
    snapshot_failures: int = 0
    view_failures: int = 0
    lost: int | None = None
    double_applied: int | None = None
    recover_seconds: list[float] = field(default_factory=list)  # fault over -> first append acknowledged
    all_served_seconds: list[float] = field(default_factory=list)  # -> every writer, snapshots and view served

    def report(self) -> None:
        shown = {
            **self.__dict__,
            "recover_seconds": [round(s, 3) for s in self.recover_seconds],
            "all_served_seconds": [round(s, 3) for s in self.all_served_seconds],
        }
        print(f"\nFAULT-SUITE {json.dumps(shown)}")


class Workload:
    """Writers, snapshots and a projector sharing one event store, snapshot store and view store."""

    def __init__(
        self,
        store: SQLEventStore,
        snapshots: SQLSnapshotStore,
        views: CountedViews,
        runner: ProjectionRunner,
        projector: Tallied,
        figures: Figures,
    ) -> None:
        self.store = store
        self.views = views
        self.projector = projector
        views.on_commit = self._notify
        self.in_fault = False
        self.snapshots = snapshots
        self.runner = runner
        self.figures = figures
        self.acked: list[Batch] = []
        self.acks = [0] * WRITERS
        self.failed = [0] * WRITERS  # failed attempts per writer
        self.snapshots_saved = 0
        self.first_ack_after: float | None = None  # clock.monotonic() of the first ack after a fault
        self.fault_ended: float | None = None
        self._changed = asyncio.Condition()
        self._died: BaseException | None = None
        self._stop = False
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Workload:
        self._tasks = [asyncio.create_task(self._watched(self._writer(i))) for i in range(WRITERS)]
        self._tasks.append(asyncio.create_task(self._watched(self._projector())))
        return self

    async def _watched(self, work: Awaitable[None]) -> None:
        try:
            await work
        except BaseException as err:
            self._died = err  # wakes `until`, which raises it
            await self._notify()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        async with asyncio.timeout(GUARD):
            await asyncio.gather(*self._tasks)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, what: str, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds (checked whenever the workload makes progress)."""
        try:
            async with asyncio.timeout(GUARD), self._changed:
                await self._changed.wait_for(lambda: self._died is not None or condition())
        except TimeoutError:
            raise AssertionError(f"the workload never got to: {what}") from None
        if self._died is not None:  # a writer or the projector failed in a way it must not
            raise AssertionError(f"a workload task died waiting for: {what}") from self._died

    async def _writer(self, index: int) -> None:
        rng = random.Random(index)
        stream_id = f"w{index}-{uuid.uuid4().hex[:8]}"
        version = 0
        while not self._stop:
            now = dt.datetime.now(dt.UTC)
            events = [NewEvent(Ticked(n=version + k), uuid.uuid4(), now) for k in range(rng.randint(1, 4))]
            while True:  # until acknowledged: the same events, the same expectation
                try:
                    result = await self.store.append(stream_id, events, version, stream_type=STREAM_TYPE)
                    break
                except AppendOutcomeUnknown:
                    self.figures.outcome_unknown += 1
                    self.failed[index] += 1
                except StoreUnavailable:
                    self.figures.append_failures += 1
                    self.failed[index] += 1
                await self._notify()
                await asyncio.sleep(0.01)  # pacing while the server is away, not synchronisation
            assert result.version == version + len(events)
            self.acked.append(Batch(stream_id, version + 1, [e.event_id for e in events]))
            version = result.version
            self.acks[index] += 1
            self.figures.appends_acknowledged += 1
            self.figures.events_acknowledged += len(events)
            if self.fault_ended is not None and self.first_ack_after is None:
                self.first_ack_after = clock.monotonic()
            if self.acks[index] % SNAPSHOT_EVERY == 0:
                await self._snapshot(stream_id, version)
            await self._notify()
            await asyncio.sleep(0.005)  # pacing, as an application's writes come
            if not self.in_fault:
                await self.until("the view keeping up", self._view_keeps_up)

    def _view_keeps_up(self) -> bool:
        return self.in_fault or self.figures.events_acknowledged - self.projector.handled <= MAX_LAG

    async def _snapshot(self, stream_id: str, version: int) -> None:
        snapshot = Snapshot(stream_id, STREAM_TYPE, version, dt.datetime.now(dt.UTC), "fp", str(version).encode())
        try:
            await self.snapshots.save(snapshot)
        except StoreUnavailable:
            self.figures.snapshot_failures += 1  # a snapshot is an optimisation: the next one will do
            return
        self.snapshots_saved += 1

    async def _projector(self) -> None:
        while not self._stop:
            try:
                await self.runner.catch_up()
            except StoreUnavailable:
                self.figures.view_failures += 1
                await self._notify()
                await asyncio.sleep(0.01)
                continue
            await self._notify()
            await asyncio.sleep(0.005)  # pacing: a follower polls

    # -- one fault ---------------------------------------------------------------------------------

    async def survive(self, inject: Callable[[], Awaitable[None]]) -> None:
        """Let every writer get a round acknowledged, inject the fault, and wait until every component
        serves again: each writer acknowledged, a snapshot saved and a view batch committed since."""
        start = list(self.acks)
        await self.until("a round before the fault", lambda: ahead(self.acks, start, ROUND))
        self.in_fault = True  # writers append at their pace, whatever the view does
        await self._notify()
        await inject()
        self.figures.faults += 1
        self.first_ack_after, self.fault_ended = None, clock.monotonic()
        acks, saved, commits = list(self.acks), self.snapshots_saved, self.views.commits
        await self.until(
            "every component serving again after the fault",
            lambda: ahead(self.acks, acks, 1) and self.snapshots_saved > saved and self.views.commits > commits,
        )
        self.in_fault = False
        self.figures.all_served_seconds.append(clock.monotonic() - self.fault_ended)
        assert self.first_ack_after is not None
        self.figures.recover_seconds.append(self.first_ack_after - self.fault_ended)
        self.fault_ended = None
        acks = list(self.acks)
        await self.until("a round after the fault", lambda: ahead(self.acks, acks, ROUND))

    async def check(self) -> None:
        """After the run: acknowledged = stored, once, whole; the view counts each event once and
        equals a rebuild."""
        await self.runner.catch_up()
        expected: dict[str, list[uuid.UUID]] = {}
        for batch in sorted(self.acked, key=lambda b: (b.stream_id, b.first_version)):
            ids = expected.setdefault(batch.stream_id, [])
            assert batch.first_version == len(ids) + 1
            ids.extend(batch.event_ids)
        stored: dict[str, list[uuid.UUID]] = {}
        for stream_id in expected:
            events = await self.store.read(stream_id)
            assert [e.version for e in events] == list(range(1, len(events) + 1))
            stored[stream_id] = [e.event_id for e in events]
        lost = sum(len(set(ids) - set(stored[s])) for s, ids in expected.items())
        everything = await read_all(self.store)
        per_id = Counter(e.event_id for e in everything)
        double = sum(n - 1 for n in per_id.values() if n > 1)
        self.figures.lost, self.figures.double_applied = lost, double
        assert lost == 0 and double == 0
        assert stored == expected  # nothing else either: no half-written batch, no stray retry
        assert len(everything) == self.figures.events_acknowledged

        views = self.runner.views
        counted = dict(await views.fetch("SELECT id, n FROM counters"))
        audited = Counter(row[0] for row in await views.fetch("SELECT stream_id FROM audit"))
        assert counted == {s: len(ids) for s, ids in expected.items()} == dict(audited)
        await self.runner.rebuild(self.projector.name)
        assert dict(await views.fetch("SELECT id, n FROM counters")) == counted

        for stream_id, ids in expected.items():  # the snapshot store serves, with the last saved snapshot
            latest = await self.snapshots.latest(stream_id, fingerprint="fp")
            assert latest is None or int(latest.state) <= len(ids)


def ahead(counts: list[int], before: list[int], by: int) -> bool:
    """Whether every count grew by at least ``by`` since ``before``."""
    return all(now >= then + by for now, then in zip(counts, before, strict=True))


async def read_all(store: SQLEventStore) -> list[Any]:
    out: list[Any] = []
    after = None
    while True:
        page = await store.read_all(after=after, limit=1000)
        out.extend(page)
        if len(page) < 1000:
            return out
        after = page[-1].position


@contextlib.asynccontextmanager
async def components(url: str, figures: Figures) -> AsyncIterator[Workload]:
    async with (
        SQLEventStore(url, pool_size=2) as store,
        SQLSnapshotStore(url, pool_size=1) as snapshots,
        CountedViews(url, pool_size=1) as views,
    ):
        projector = Tallied()
        async with ProjectionRunner(store, views, [projector], batch_size=100) as runner:
            workload = Workload(store, snapshots, views, runner, projector, figures)
            try:
                async with workload:
                    yield workload
                await workload.check()
            finally:
                figures.report()


# -- the faults -------------------------------------------------------------------------------------


async def test_every_session_of_every_component_terminated_three_times(
    cluster: tuple[PostgresServer, Path], database: str
) -> None:
    faults = Faults(cluster[0], database)
    figures = Figures("pg_terminate_backend of every session")

    async def terminate() -> None:
        names = await faults.terminate_sessions()
        # Each component had its sessions killed (a pool keeps its connections between operations).
        assert {"eventsourcing", "eventsourcing-snapshots", "eventsourcing-projections"} <= set(names)

    async with components(url_of(cluster, database), figures) as workload:
        for _ in range(3):
            await workload.survive(terminate)


async def test_server_stopped_and_started_and_crashed_mid_run(
    cluster: tuple[PostgresServer, Path], database: str
) -> None:
    faults = Faults(cluster[0], database)
    figures = Figures("server stop/start and kill -9/start")

    async def restart() -> None:
        failed = list(workload.failed)
        await asyncio.to_thread(faults.stop)
        await workload.until(
            "writers failing while the server is down",
            lambda: ahead(workload.failed, failed, 1),
        )
        await asyncio.to_thread(faults.start)

    async def crash() -> None:
        failed = list(workload.failed)
        await asyncio.to_thread(faults.crash)
        await workload.until(
            "writers failing while the server is dead",
            lambda: ahead(workload.failed, failed, 1),
        )
        await asyncio.to_thread(faults.start)

    async with components(url_of(cluster, database), figures) as workload:
        await workload.survive(restart)
        await workload.survive(crash)


async def test_frozen_server_times_out_then_thaws(cluster: tuple[PostgresServer, Path], database: str) -> None:
    """SIGSTOP: nothing answers; every caller gets StoreUnavailable (AppendOutcomeUnknown for appends
    already sent) after the command timeout instead of hanging; after SIGCONT the same objects serve,
    and appends that were executed when the server woke up are recognised when re-sent."""
    faults = Faults(cluster[0], database)
    figures = Figures("SIGSTOP/SIGCONT of the server")

    async def freeze() -> None:
        failed, view_failures = list(workload.failed), figures.view_failures
        faults.freeze()
        try:
            await workload.until(
                "every writer and the projector timed out",
                lambda: (
                    all(f > s for f, s in zip(workload.failed, failed, strict=True))
                    and figures.view_failures > view_failures
                ),
            )
        finally:
            faults.thaw()

    async with components(url_of(cluster, database), figures) as workload:
        await workload.survive(freeze)
        await workload.survive(freeze)
    assert figures.outcome_unknown > 0  # appends in flight at the freeze: settled by re-sending


# -- the command timeout and TLS, one call at a time ------------------------------------------------


async def test_a_frozen_server_gives_store_unavailable_within_the_command_timeout_for_every_component(
    cluster: tuple[PostgresServer, Path], database: str
) -> None:
    """Issue 13 item 3: with the server frozen, stream_version() blocked for as long as it was frozen."""
    faults = Faults(cluster[0], database)
    url = url_of(cluster, database)
    snapshot = Snapshot("s", STREAM_TYPE, 1, dt.datetime.now(dt.UTC), "fp", b"1")
    async with (
        SQLEventStore(url) as store,
        SQLSnapshotStore(url) as snapshots,
        SQLCheckpointStore(url) as views,
    ):
        events = [NewEvent(Ticked(n=1), uuid.uuid4(), dt.datetime.now(dt.UTC))]
        faults.freeze()
        try:
            # Sent on the pooled connection, unanswered: the store cannot know whether it was stored.
            with pytest.raises(AppendOutcomeUnknown, match="re-send the same events"):
                await store.append("s", events, 0, stream_type=STREAM_TYPE)
            # Connecting afresh: nothing answers the startup either.
            with pytest.raises(StoreUnavailable, match="command_timeout"):
                await store.stream_version("s")
            with pytest.raises(StoreUnavailable, match="command_timeout"):
                await snapshots.save(snapshot)
            with pytest.raises(StoreUnavailable, match="command_timeout"):
                await views.load("counting")
        finally:
            faults.thaw()
        # The same objects, not reopened; the append is settled by re-sending it (stored once,
        # whether or not the frozen server ran it when it woke up).
        result = await store.append("s", events, 0, stream_type=STREAM_TYPE)
        assert result.version == 1
        assert await store.append("s", events, 0, stream_type=STREAM_TYPE) == result
        assert [e.event_id for e in await store.read("s")] == [events[0].event_id]
        await snapshots.save(snapshot)
        assert (await views.load("counting")).position is None


async def test_every_component_connects_over_verified_tls_from_the_url(
    cluster: tuple[PostgresServer, Path], database: str
) -> None:
    """Issue 14 item 10: ``sslmode=verify-full&sslrootcert=...`` in the URL, for every component."""
    url = url_of(cluster, database)
    async with (
        SQLEventStore(url) as store,
        SQLSnapshotStore(url) as snapshots,
        SQLCheckpointStore(url) as views,
    ):
        for component in (store, snapshots, views):
            runner = component._backend.runner
            assert await runner.call(_ssl_in_use) is True
    wrong = SQLEventStore(url.replace("sslrootcert=", "sslrootcert=/nonexistent-"))
    with pytest.raises((StoreUnavailable, ConfigurationError)):  # a missing root certificate is refused
        await wrong.open()


async def _ssl_in_use(conn: asyncpg.Connection) -> Any:
    return await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
