"""Adversarial tests of `ProjectionRunner`: its exactly-once promise under concurrent callers,
cancellation, poison events and outages, on SQLite views and the memory checkpoint store.

Every wait is on an event (a state reached, a task done) bounded by a generous deadline; the
deadlines are guards against a runner that never gets there, not timing assumptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text

import eventsourcing.stores.sql.sqlite_runner as sqlite_runner
from eventsourcing import (
    MemoryEventStore,
    NewEvent,
    RecordedEvent,
    SQLEventStore,
    StoreError,
    StoreUnavailable,
    clock,
)
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
from eventsourcing.projections.errors import CheckpointConflict
from tests.integration.projections_worker import (
    AUDIT,
    Counting,
    CountingWithDeadLetters,
    Poisoned,
    Ticked,
    audit,
    counters,
)
from tests.integration.test_projections import append, audit_ids, ticks, view_rows

GUARD = 30.0  # bound for a runner that never gets there; never reached when the runner is right


@pytest.fixture
def store_yields_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite operations yield to the loop before every call (as real I/O does), not once per
    millisecond of work: where the loop switches tasks no longer depends on the machine's speed."""
    monkeypatch.setattr(sqlite_runner, "_YIELD_EVERY", 0.0)


@pytest.fixture
def store_never_yields(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite operations never yield on their own: only the handlers' awaits switch tasks."""
    monkeypatch.setattr(sqlite_runner, "_YIELD_EVERY", float("inf"))


async def until(what: str, condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = clock.monotonic() + GUARD
    while not await condition():
        assert clock.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.005)


async def checkpoint_is_consistent(store: SQLEventStore, views: SQLCheckpointStore, name: str = "counting") -> int:
    """The audit rows are exactly the events up to the stored checkpoint; returns how many."""
    log = await store.read_all(after=None, limit=1_000_000)
    checkpoint = await views.load(name)
    upto = [e for e in log if store.covers(checkpoint.position, e.position) and isinstance(e.event, Ticked)]
    assert sorted(await audit_ids(views)) == sorted(str(e.event_id) for e in upto), "view != checkpoint"
    assert await view_rows(views) == dict(Counter(e.stream_id for e in upto))
    return len(upto)


# -- 1. a caller cancelled at the commit of a batch that read (async handler, view.fetch) ---------------

TRAP: dict[str, Any] = {"n": None}


class FetchingCounting(Projector):
    """`Counting` with an async handler that reads the view before writing (so the batch's SQLite
    transaction is opened at the first read). On the tick whose ``n`` is ``TRAP["n"]``, the handler's
    caller is cancelled (a client that disconnects, a `wait_for` timeout) just as the handler finishes:
    the cancellation lands at the next suspension point, the commit (the store yields before each
    call: fixture ``store_yields_every_call``; by default it does after each millisecond of work)."""

    name = "counting"
    tables = (counters, audit)

    @on(Ticked)
    async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        await view.fetch("SELECT n FROM {counters} WHERE id = ?", (event.stream_id,))
        view.add("counters", event.stream_id, n=1)
        view.execute(AUDIT, (str(event.event_id), event.stream_id))
        if event.event.n == TRAP["n"]:
            TRAP["n"] = None  # once
            task = asyncio.current_task()
            assert task is not None
            task.cancel()


async def cancelled_at_commit(runner: ProjectionRunner, n: int) -> None:
    TRAP["n"] = n
    task = asyncio.create_task(runner.catch_up())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert TRAP["n"] is None, "the trap did not fire"


async def test_view_read_after_a_commit_cancelled_shows_only_committed_writes(
    store: SQLEventStore, views: SQLCheckpointStore, store_yields_every_call: None
) -> None:
    """After a caller was cancelled at the commit of a batch, a reader of the view must see the
    view of the stored checkpoint, not the half-done batch."""
    await append(store, "s", ticks(6))
    async with ProjectionRunner(store, views, [FetchingCounting()], batch_size=3) as runner:
        await cancelled_at_commit(runner, 5)  # the second batch (events 3, 4, 5)
        await checkpoint_is_consistent(store, views)


async def test_catch_up_after_a_commit_cancelled_succeeds(
    store: SQLEventStore, views: SQLCheckpointStore, store_yields_every_call: None
) -> None:
    await append(store, "s", ticks(6))
    async with ProjectionRunner(store, views, [FetchingCounting()], batch_size=3) as runner:
        await cancelled_at_commit(runner, 5)
        assert await runner.catch_up() >= 3
        assert await checkpoint_is_consistent(store, views) == 6


async def test_a_following_run_survives_another_callers_cancellation(
    store: SQLEventStore, views: SQLCheckpointStore, store_yields_every_call: None
) -> None:
    """A request waiting for its write gives up (cancelled) mid-commit; `run()` must go on."""
    await append(store, "s", ticks(6))
    async with ProjectionRunner(store, views, [FetchingCounting()], batch_size=3) as runner:
        await cancelled_at_commit(runner, 5)
        following = asyncio.create_task(runner.run())
        result = await append(store, "t", ticks(2))
        try:
            await runner.wait_until_caught_up(result, GUARD)
            (status,) = await runner.status()
            assert (status.state, status.error) == ("idle", None)
        finally:
            runner.stop()
            await asyncio.gather(following, return_exceptions=True)
        assert await checkpoint_is_consistent(store, views) == 8


async def test_another_runner_is_not_locked_out_after_a_commit_cancelled(
    tmp_path: Path, store: SQLEventStore, store_yields_every_call: None
) -> None:
    """The cancelled batch must not keep the view database's write lock: a second runner (its own
    connection, as another process would have) can still commit."""
    url = f"sqlite:///{tmp_path / 'shared-views.db'}"
    await append(store, "s", ticks(6))
    async with (
        SQLCheckpointStore(url) as views_a,
        SQLCheckpointStore(url, busy_timeout=2.0) as views_b,
        ProjectionRunner(store, views_a, [FetchingCounting()], batch_size=3) as a,
        ProjectionRunner(store, views_b, [Counting()], batch_size=3) as b,
    ):
        await cancelled_at_commit(a, 5)
        assert await b.catch_up() >= 3
        assert await checkpoint_is_consistent(store, views_b) == 6


# -- 2. status after an outage ----------------------------------------------------------------------------


class Flaky:
    """An event store that is unavailable while ``down`` is set (a GlobalLog wrapper)."""

    def __init__(self, inner: SQLEventStore) -> None:
        self.inner = inner
        self.down = False
        self.reads_while_down = 0
        self.reads_after_up = 0

    async def read_all(self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None) -> Any:
        await asyncio.sleep(0)
        if self.down:
            self.reads_while_down += 1
            raise StoreUnavailable("the event store is down (test)")
        self.reads_after_up += 1
        return await self.inner.read_all(after=after, limit=limit, stream_types=stream_types)

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        await asyncio.sleep(0)
        if self.down:
            raise StoreUnavailable("the event store is down (test)")
        return await self.inner.head(stream_types=stream_types)

    def covers(self, checkpoint: Any, position: Any) -> bool:
        return self.inner.covers(checkpoint, position)


async def test_status_is_not_retrying_once_the_store_answers_again_on_an_idle_log(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    await append(store, "s", ticks(5))
    flaky = Flaky(store)
    async with ProjectionRunner(flaky, views, [Counting()], retry_interval=0.001, max_retry_interval=0.01) as runner:
        await runner.catch_up()
        following = asyncio.create_task(runner.run())
        try:
            flaky.down = True
            runner.wake()

            async def retrying() -> bool:
                return flaky.reads_while_down >= 2

            await until("the runner retries", retrying)
            flaky.down = False

            async def recovered() -> bool:
                return (await runner.status())[0].outage_since is None

            await until("the outage is cleared", recovered)
            (status,) = await runner.status()
            assert (status.state, status.error, status.lag_events) == ("idle", None, 0)
        finally:
            runner.stop()
            await following


async def test_status_after_run_stopped_in_an_outage_then_caught_up_shows_no_error(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """`run()` stopped during an outage; the store comes back and `catch_up` applies everything. The
    projector is caught up and nothing is running, so `status` must not say retrying with the old error."""
    await append(store, "s", ticks(5))
    flaky = Flaky(store)
    async with ProjectionRunner(flaky, views, [Counting()], retry_interval=0.001, max_retry_interval=0.01) as runner:
        following = asyncio.create_task(runner.run())
        flaky.down = True
        runner.wake()

        async def retrying() -> bool:
            return flaky.reads_while_down >= 2

        await until("the runner retries", retrying)
        runner.stop()
        await following
        flaky.down = False
        await append(store, "t", ticks(2))
        assert await runner.catch_up() == 7
        (status,) = await runner.status()
        assert status.lag_events == 0
        assert (status.state, status.error, status.outage_since) == ("idle", None, None)


# -- 3. run/stop flapping ------------------------------------------------------------------------------------


async def test_run_started_right_after_stop_follows(store: SQLEventStore, views: SQLCheckpointStore) -> None:
    """stop(), then run() again at once (a supervisor restarting the follower): the new run must
    follow, not return at once because the previous run had not returned yet."""
    await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [Counting()]) as runner:
        first = asyncio.create_task(runner.run())
        await runner.wait_until_caught_up((await store.head()), GUARD)
        runner.stop()
        second = asyncio.create_task(runner.run())
        await first
        for _ in range(50):
            await asyncio.sleep(0)
        try:
            assert not second.done(), "the new run() returned at once: nothing follows the log"
        finally:
            runner.stop()
            await second


# -- 4. rebuild of a stopped projector while run() follows the others -------------------------------------------

BROKEN = {"on": True}

others = Table("adv_others", MetaData(), Column("id", Text, primary_key=True), Column("n", Integer, nullable=False))


class Fixable(Counting):
    """`Counting` whose poison handler is fixed (``BROKEN["on"] = False``), as a deploy would."""

    name = "counting"

    @on(Poisoned)
    def poisoned(self, event: RecordedEvent[Poisoned], view: ViewBatch) -> None:
        if BROKEN["on"]:
            raise ValueError(event.event.reason)
        view.add("counters", event.stream_id, n=1)
        view.execute(AUDIT, (str(event.event_id), event.stream_id))


class Others(Projector):
    name = "others"
    tables = (others,)

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        view.add("adv_others", event.stream_id, n=1)


async def test_a_rebuilt_projector_is_followed_again_by_the_running_run(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """A poison event stops `counting` under `run()` (the other projector goes on). The handler is
    fixed and `counting` rebuilt: `run()` is still running, so it must follow `counting` again."""
    BROKEN["on"] = True
    await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [Fixable(), Others()]) as runner:
        following = asyncio.create_task(runner.run())
        try:
            result = await append(store, "s", [NewEvent(Poisoned(reason="bad"), uuid.uuid4(), clock.now())])
            with pytest.raises(ProjectionError):
                await runner.wait_until_caught_up(result, GUARD, "counting")
            BROKEN["on"] = False
            assert await runner.rebuild("counting") == 4
            result = await append(store, "s", ticks(2))
            await runner.wait_until_caught_up(result, 5.0, "counting")  # run() follows it: at once
            assert sum((await view_rows(views)).values()) == 6
        finally:
            BROKEN["on"] = True
            runner.stop()
            await asyncio.gather(following, return_exceptions=True)


# -- 5. two as-of rebuilds into the same tables at once ------------------------------------------------------------

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Yielding(Counting):
    name = "counting"

    @on(Ticked)
    async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        view.add("counters", event.stream_id, n=1)
        view.execute(AUDIT, (str(event.event_id), event.stream_id))


async def rebuild_twice_as_of(
    store: SQLEventStore, views: SQLCheckpointStore, early: dt.datetime, late: dt.datetime, suffix: str | None
) -> list[tuple[int, int]]:
    """For each head start d of the first build: (d, how many events the built as-of table holds)."""
    outcomes = []
    for delay in range(5):
        async with ProjectionRunner(store, views, [Yielding()], batch_size=4) as runner:

            async def second(delay: int = delay, runner: ProjectionRunner = runner) -> dict[str, str]:
                for _ in range(delay):
                    await asyncio.sleep(0)
                return await runner.rebuild_as_of("counting", late, suffix=suffix)

            a, b = await asyncio.gather(runner.rebuild_as_of("counting", early, suffix=suffix), second())
        if a == b:  # one set of tables for both builds
            outcomes.append((delay, (await views.fetch(f"SELECT count(*) FROM {a['audit']}"))[0][0]))
    return outcomes


async def test_concurrent_rebuilds_as_of_with_one_suffix_give_one_of_the_two_views(
    store: SQLEventStore, views: SQLCheckpointStore, store_never_yields: None
) -> None:
    """Two callers build `_snap` as of two different times at once. Whatever wins, the tables must
    be the view as of one of the two times (5 or 10 events), never a mix of the two filters."""
    await append(store, "s", ticks(10, start=T0))  # timestamps T0 + 0..9 s
    early, late = T0 + dt.timedelta(seconds=4), T0 + dt.timedelta(seconds=100)
    outcomes = await rebuild_twice_as_of(store, views, early, late, "_snap")
    assert [(d, n) for d, n in outcomes if n not in (5, 10)] == []


async def test_concurrent_rebuilds_as_of_within_one_second_default_suffix(
    store: SQLEventStore, views: SQLCheckpointStore, store_never_yields: None
) -> None:
    """Same, with the default suffix: two times within one second shared `_asof_YYYYMMDD_HHMMSS`, so
    their builds mixed; the default suffix now has the microseconds, and each build has its tables."""
    await append(store, "s", ticks(10, start=T0, step=0.05))  # timestamps T0 + 0..0.45 s
    early, late = T0 + dt.timedelta(seconds=0.2), T0 + dt.timedelta(seconds=0.9)
    async with ProjectionRunner(store, views, [Yielding()], batch_size=4) as runner:
        a, b = await asyncio.gather(runner.rebuild_as_of("counting", early), runner.rebuild_as_of("counting", late))
    assert a != b
    assert (await views.fetch(f"SELECT count(*) FROM {a['audit']}"))[0][0] == 5
    assert (await views.fetch(f"SELECT count(*) FROM {b['audit']}"))[0][0] == 10


# -- 6. a handler that raises CheckpointConflict (e.g. it calls another runner) --------------------------------


class RaisesConflict(Counting):
    name = "counting"
    calls = 0

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        type(self).calls += 1
        if type(self).calls <= 50:
            raise CheckpointConflict("some-other-projection", 0)
        super().ticked(event, view)


async def test_a_handler_raising_checkpoint_conflict_is_not_retried_silently(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """A handler's own exception (here a CheckpointConflict of some other projection it drove) is
    the handler failing: it must stop the projector (PoisonEvent), not be taken for a lost
    compare-and-set of this projector and retried (forever, if it keeps failing)."""
    RaisesConflict.calls = 0
    await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [RaisesConflict()]) as runner:
        with pytest.raises((PoisonEvent, CheckpointConflict)):
            await runner.catch_up()
        assert RaisesConflict.calls == 1


# -- 7. rebuild with in-process views (MemoryCheckpointStore) ------------------------------------------------------


async def test_rebuild_with_the_memory_checkpoint_store_does_not_double_count() -> None:
    totals: Counter[str] = Counter()

    class InMemory(Projector):
        name = "in-memory"

        @on(Ticked)
        def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
            view.call(totals.update, [event.stream_id])

    store = MemoryEventStore()
    await append(store, "m", ticks(4))
    async with ProjectionRunner(store, MemoryCheckpointStore(), [InMemory()]) as runner:
        await runner.catch_up()
        # The runner cannot clear Python objects: without the projector's reset_views, it refuses.
        with pytest.raises(ProjectionError, match="reset_views"):
            await runner.rebuild("in-memory")
        assert totals == {"m": 4}, "a rebuild replays the log into an in-process view it did not reset"

    class Resettable(InMemory):
        name = "in-memory"

        def reset_views(self) -> None:
            totals.clear()

    async with ProjectionRunner(store, MemoryCheckpointStore(), [Resettable()]) as runner:
        await runner.catch_up()
        await runner.rebuild("in-memory")
    assert totals == {"m": 4}


# -- 8. what held: cancellation sweeps, every entry point at once -----------------------------------------------------


async def test_cancel_sweep_on_sqlite_views_keeps_exactly_once(store: SQLEventStore, views: SQLCheckpointStore) -> None:
    """catch_up cancelled after k turns of the loop, k = 0..60, with sync handlers; then catch up."""
    async with ProjectionRunner(store, views, [Counting()], batch_size=2) as runner:
        for k in range(61):
            await append(store, f"s-{k % 3}", ticks(3))
            task = asyncio.create_task(runner.catch_up())
            for _ in range(k):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await checkpoint_is_consistent(store, views)
        await runner.catch_up()
        assert await checkpoint_is_consistent(store, views) == 183


async def test_cancel_sweep_on_memory_views_with_yielding_handlers() -> None:
    seen: list[uuid.UUID] = []

    class Seen(Projector):
        name = "seen"

        @on(Ticked)
        async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
            for _ in range(event.event.n % 3):
                await asyncio.sleep(0)
            view.call(seen.append, event.event_id)

    store = MemoryEventStore()
    checkpoints = MemoryCheckpointStore()
    async with (
        ProjectionRunner(store, checkpoints, [Seen()], batch_size=3) as a,
        ProjectionRunner(store, checkpoints, [Seen()], batch_size=2) as b,
    ):
        for k in range(61):
            await append(store, f"s-{k % 3}", ticks(4))
            tasks = [asyncio.create_task(a.catch_up()), asyncio.create_task(b.catch_up())]
            for _ in range(k):
                await asyncio.sleep(0)
            tasks[k % 2].cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert len(seen) == len(set(seen))
        await a.catch_up()
        await b.catch_up()
    log = await store.read_all(after=None, limit=10_000)
    assert sorted(seen) == sorted(e.event_id for e in log)


async def test_every_public_method_at_once(store: SQLEventStore, views: SQLCheckpointStore) -> None:
    await append(store, "s", ticks(20))
    async with ProjectionRunner(store, views, [Counting()], batch_size=3) as runner:
        following = [asyncio.create_task(runner.run()) for _ in range(2)]
        for round_ in range(8):
            result = await append(store, f"s-{round_ % 3}", ticks(4))
            outcomes = await asyncio.gather(
                runner.catch_up(),
                runner.wait_until_caught_up(result, 0.0),
                runner.wait_until_caught_up(result, GUARD),
                runner.wait_until_caught_up(None, GUARD),
                runner.rebuild("counting") if round_ % 3 == 0 else runner.catch_up(),
                runner.rebuild_as_of("counting", T0 + dt.timedelta(seconds=5), suffix="_x"),
                runner.rebuild_as_of("counting", T0 + dt.timedelta(seconds=5), suffix="_x"),
                runner.status(),
                runner.dead_letters("counting"),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, TimeoutError):
                    raise outcome
        await runner.wait_until_caught_up(result, GUARD)
        runner.stop()
        await asyncio.gather(*following)
        assert await checkpoint_is_consistent(store, views) == 52
        (status,) = await runner.status()
        assert (status.state, status.lag_events, status.error) == ("idle", 0, None)
        # as of T0+5 s: ticks 0..5 of the first append, all 4 of each round's (T0+0..3 s)
        assert (await views.fetch("SELECT count(*) FROM audit_x"))[0][0] == 6 + 8 * 4


async def test_store_errors_are_raised_by_catch_up_not_swallowed(tmp_path: Path) -> None:
    """The event store closed under a runner: catch_up raises (StoreError), run() without `open`."""
    async with SQLEventStore(f"sqlite:///{tmp_path / 'e.db'}") as store:
        await append(store, "s", ticks(2))
    async with SQLCheckpointStore(f"sqlite:///{tmp_path / 'v.db'}") as views:
        runner = ProjectionRunner(store, views, [Counting()])
        await runner.open()
        with pytest.raises(StoreError):
            await runner.catch_up()


# -- 9. status stuck at "running" ------------------------------------------------------------------------------------


async def test_status_is_idle_after_a_catch_up_that_ended_on_an_empty_page(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """10 events, batch_size 5: two full pages, then an empty one. Caught up, nothing running."""
    await append(store, "s", ticks(10))
    async with ProjectionRunner(store, views, [Counting()], batch_size=5) as runner:
        assert await runner.catch_up() == 10
        (status,) = await runner.status()
        assert (status.lag_events, status.error) == (0, None)
        assert status.state == "idle"


# -- 10. in-process effects that fail at commit ----------------------------------------------------------------------


async def test_an_effect_failing_at_commit_does_not_leave_half_a_batch_applied() -> None:
    """`ViewBatch.call` effects run at commit. One that fails (a transient bug, an exception in user code)
    must leave the view as it was, or the retried batch applies the effects before it twice."""
    seen: list[uuid.UUID] = []
    failing = {"once": True}

    def record(event_id: uuid.UUID, n: int) -> None:
        if n == 2 and failing["once"]:
            failing["once"] = False
            raise RuntimeError("transient failure in an effect")
        seen.append(event_id)

    class Recording(Projector):
        name = "recording"

        @on(Ticked)
        def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
            view.call(record, event.event_id, event.event.n)

    store = MemoryEventStore()
    await append(store, "s", ticks(4))
    async with ProjectionRunner(store, MemoryCheckpointStore(), [Recording()], batch_size=4) as runner:
        with pytest.raises(RuntimeError):
            await runner.catch_up()
        await runner.catch_up()
    assert len(seen) == len(set(seen)) == 4, f"{len(seen)} effects applied for 4 events"


# -- 11. an as-of build whose checkpoint name is another projector's -------------------------------------------------

x_counts = Table("adv_x_counts", MetaData(), Column("id", Text, primary_key=True), Column("n", Integer, nullable=False))
x_audit = Table("adv_x_audit", MetaData(), Column("event_id", Text, primary_key=True))


class CountingX(Projector):
    """A live projector whose name happens to be `counting` + `_x`."""

    name = "counting_x"
    tables = (x_counts, x_audit)

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        view.add("adv_x_counts", event.stream_id, n=1)
        view.execute("INSERT INTO {adv_x_audit} (event_id) VALUES (?)", (str(event.event_id),))


async def test_rebuild_as_of_then_catch_up_keeps_the_other_projector_exact(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """`rebuild_as_of("counting", t, suffix="_x")` keeps its checkpoint under "counting" + "_x": the
    live projector `counting_x`'s. Refused or not, `counting_x` must still apply every event once."""
    await append(store, "s", ticks(5))
    async with ProjectionRunner(store, views, [Counting(), CountingX()]) as runner:
        await runner.catch_up()
        await append(store, "s", ticks(5))
        with contextlib.suppress(ValueError, ProjectionError):
            await runner.rebuild_as_of("counting", T0 + dt.timedelta(days=1), suffix="_x")
        await runner.catch_up("counting_x")
    assert len(await views.fetch("SELECT event_id FROM adv_x_audit")) == 10
    assert dict(await views.fetch("SELECT id, n FROM adv_x_counts")) == {"s": 10}


# -- 12. odd timeouts and positions ---------------------------------------------------------------------------------


async def test_wait_until_caught_up_with_odd_timeouts_and_positions(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    result = await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [Counting()], batch_size=1) as runner:
        await runner.wait_until_caught_up(None, 0.0)  # nothing to wait for
        await runner.wait_until_caught_up(result, float("inf"))
        await runner.wait_until_caught_up(result, 0.0)  # already there: no timeout
        with pytest.raises(TimeoutError):
            await runner.wait_until_caught_up(int(result.position) + 1000, 0.05)  # from another store
        with pytest.raises(TimeoutError):
            await runner.wait_until_caught_up(int(result.position) + 1000, -1.0)
    assert len(await audit_ids(views)) == 3


async def test_wait_until_caught_up_with_a_nan_timeout_ends(store: SQLEventStore, views: SQLCheckpointStore) -> None:
    """A NaN timeout (a computed deadline gone wrong) must be refused or time out, not wait forever."""
    result = await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [Counting()]) as runner:
        waiting = asyncio.create_task(runner.wait_until_caught_up(int(result.position) + 1000, float("nan")))
        done, _ = await asyncio.wait([waiting], timeout=5.0)  # a guard: the call should end at once
        waiting.cancel()
        assert done, "wait_until_caught_up(timeout=nan) never returns"
        with pytest.raises((TimeoutError, ValueError)):
            await waiting


# -- 13. a handler that survives a failed read: the batch's earlier writes -------------------------------------------


class OptionalLookup(Projector):
    """Writes, then reads an optional table that may be missing and falls back when the read fails
    (a lookup of reference data that a migration has not created yet, say)."""

    name = "counting"
    tables = (counters, audit)

    @on(Ticked)
    async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        view.add("counters", event.stream_id, n=1)
        view.execute(AUDIT, (str(event.event_id), event.stream_id))
        if event.event.n == 2:
            with contextlib.suppress(StoreError):  # no reference data: use the default label
                await view.fetch("SELECT label FROM optional_reference_data WHERE id = ?", (event.stream_id,))


async def test_a_failed_read_that_the_handler_survives_loses_no_write(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """Either the batch fails, or every event's writes are committed with the checkpoint: never a
    checkpoint past events whose writes were rolled back with the failed read's transaction."""
    await append(store, "s", ticks(5))
    async with ProjectionRunner(store, views, [OptionalLookup()], batch_size=5) as runner:
        with contextlib.suppress(StoreError, ProjectionError):
            await runner.catch_up()
        await checkpoint_is_consistent(store, views)


# -- 14. a commit whose outcome is lost (the view store answers "unavailable" after committing) ----------------------


class LosesCommitOutcomes:
    """A checkpoint store whose ``commit`` commits, then raises StoreUnavailable, while ``lose`` > 0
    (a connection lost after COMMIT was sent)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dialect = inner.dialect
        self.lose = 0
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit(self, expected: Any, position: Any, view: Any = None, dead_letter: Any = None) -> Any:
        done = await self.inner.commit(expected, position, view, dead_letter)
        if self.lose > 0:
            self.lose -= 1
            self.lost += 1
            raise StoreUnavailable("connection lost after COMMIT (test)")
        return done


@pytest.mark.parametrize("dead_letters", [False, True])
async def test_lost_commit_outcomes_under_run_apply_each_event_once(
    store: SQLEventStore, views: SQLCheckpointStore, dead_letters: bool
) -> None:
    projector = CountingWithDeadLetters() if dead_letters else Counting()
    name = projector.name
    flaky = LosesCommitOutcomes(views)
    async with ProjectionRunner(store, flaky, [projector], batch_size=2, retry_interval=0.001) as runner:
        following = asyncio.create_task(runner.run())
        try:
            for round_ in range(6):
                flaky.lose = round_ % 3
                events = ticks(3)
                if dead_letters and round_ % 2:
                    events.insert(1, NewEvent(Poisoned(reason="x"), uuid.uuid4(), clock.now()))
                result = await append(store, f"s-{round_ % 2}", events)
                await runner.wait_until_caught_up(result, GUARD)
        finally:
            runner.stop()
            await following
        assert flaky.lost > 0
        assert await checkpoint_is_consistent(store, views, name) == 18
        assert len(await runner.dead_letters(name)) == (3 if dead_letters else 0)
        (status,) = await runner.status()
        assert (status.error, status.lag_events) == (None, 0)  # its state: see test_status_is_idle_after_...


# -- 15. two runner objects, own connections, one view database; filtered projectors mixed in ------------------------


class OnlyOthers(Projector):
    """A projector of another stream type only (it sees none of the ticks: its checkpoint must
    still move past them)."""

    name = "only-others"
    stream_types = ("ptest.Other",)

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        raise AssertionError("a tick of another stream type reached a filtered projector")


async def test_two_runner_objects_with_their_own_connections_and_rebuilds(tmp_path: Path, store: SQLEventStore) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with (
        SQLCheckpointStore(url) as views_a,
        SQLCheckpointStore(url) as views_b,
        ProjectionRunner(store, views_a, [Yielding(), OnlyOthers()], batch_size=3, poll_interval=0.001) as a,
        ProjectionRunner(store, views_b, [Counting(), OnlyOthers()], batch_size=1, poll_interval=0.001) as b,
    ):
        following = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        try:
            for round_ in range(12):
                result = await append(store, f"s-{round_ % 3}", ticks(3))
                calls: list[Awaitable[Any]] = [
                    a.wait_until_caught_up(result, GUARD),
                    b.wait_until_caught_up(result, GUARD),
                    a.catch_up("only-others"),
                ]
                if round_ % 4 == 1:
                    calls.append(a.rebuild("counting"))
                if round_ % 4 == 3:
                    calls.append(b.rebuild("counting"))
                await asyncio.gather(*calls)
        finally:
            a.stop()
            b.stop()
            await asyncio.gather(*following)
        assert await checkpoint_is_consistent(store, views_a) == 36
        for runner in (a, b):
            statuses = await runner.status()
            assert [(s.lag_events, s.error) for s in statuses] == [(0, None), (0, None)]


async def test_poison_under_many_waiters_and_run_stops_at_the_last_good_event(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    await append(store, "s", ticks(7))
    bad = await append(store, "s", [NewEvent(Poisoned(reason="bad"), uuid.uuid4(), clock.now())])
    await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [Counting()], batch_size=4) as runner:
        following = asyncio.create_task(runner.run())
        outcomes = await asyncio.gather(
            *(runner.wait_until_caught_up(bad, GUARD) for _ in range(5)),
            runner.catch_up(),
            runner.catch_up(),
            return_exceptions=True,
        )
        assert all(isinstance(o, (PoisonEvent, ProjectionError)) for o in outcomes), outcomes
        with pytest.raises(PoisonEvent):
            await following  # its only projector stopped: run raises
        assert await checkpoint_is_consistent(store, views) == 7
        (status,) = await runner.status()
        assert status.state == "stopped" and status.error is not None and "ptest.poisoned" in status.error
        assert status.lag_events == 4


# -- 16. plain cancellation sweep, batches that read (the realistic trigger of section 1) ----------------------------


class Fetching(Projector):
    name = "counting"
    tables = (counters, audit)

    @on(Ticked)
    async def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        await view.fetch("SELECT n FROM {counters} WHERE id = ?", (event.stream_id,))
        view.add("counters", event.stream_id, n=1)
        view.execute(AUDIT, (str(event.event_id), event.stream_id))


async def test_cancel_sweep_with_batches_that_read(
    store: SQLEventStore, views: SQLCheckpointStore, store_yields_every_call: None
) -> None:
    """A caller cancelled after k turns of the loop, k = 0..40 (a request that gives up), then the
    next caller: it must catch up, and the view must match its checkpoint at every point."""
    failures = []
    async with ProjectionRunner(store, views, [Fetching()], batch_size=2) as runner:
        for k in range(41):
            await append(store, f"s-{k % 3}", ticks(2))
            task = asyncio.create_task(runner.catch_up())
            for _ in range(k):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:
                await checkpoint_is_consistent(store, views)
                await runner.catch_up()
            except (AssertionError, StoreError) as err:
                failures.append((k, f"{type(err).__name__}: {str(err).splitlines()[0]}"))
                try:
                    await runner.catch_up()  # and the one after?
                except StoreError as again:
                    failures.append((k, f"again: {type(again).__name__}: {again}"))
                break
    assert failures == [], "\n".join(map(str, failures))


# -- 17. after a poison event stopped run(): the projector once the cause is gone --------------------------------------


async def test_a_projector_stopped_under_run_resumes_once_its_poison_event_goes_through(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """A handler failed on an event because of something transient (fixed, here, by a flag). Running
    again — `run()` again, or `catch_up` — must apply the event and go on ("running again stops at
    the same event until the handler (or the data) is fixed"), and read-your-writes must work again."""
    BROKEN["on"] = True
    try:
        await append(store, "s", ticks(2))
        await append(store, "s", [NewEvent(Poisoned(reason="transient"), uuid.uuid4(), clock.now())])
        async with ProjectionRunner(store, views, [Fixable()]) as runner:
            with pytest.raises(PoisonEvent):
                await runner.run()
            BROKEN["on"] = False
            assert await runner.catch_up() == 1  # the poison event now goes through
            result = await append(store, "s", ticks(1))
            await runner.wait_until_caught_up(result, GUARD)  # must not say "has stopped"
            (status,) = await runner.status()
            assert (status.state, status.error) == ("idle", None)
            following = asyncio.create_task(runner.run())
            result = await append(store, "s", ticks(1))
            try:
                await runner.wait_until_caught_up(result, GUARD)
            finally:
                runner.stop()
                await asyncio.gather(following, return_exceptions=True)
            assert not following.exception(), following.exception()
    finally:
        BROKEN["on"] = True


# -- 18. as-of builds of in-process views ---------------------------------------------------------------------------


async def test_rebuild_as_of_with_in_process_views_does_not_touch_the_live_view() -> None:
    """ "The live view is not touched": with a MemoryCheckpointStore the effects of an as-of build go
    to the projector's own objects, which *are* the live view."""
    totals: Counter[str] = Counter()

    class InMemory(Projector):
        name = "in-memory"

        @on(Ticked)
        def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
            view.call(totals.update, [event.stream_id])

    store = MemoryEventStore()
    await append(store, "m", ticks(4, start=T0))
    async with ProjectionRunner(store, MemoryCheckpointStore(), [InMemory()]) as runner:
        await runner.catch_up()
        with contextlib.suppress(ProjectionError, ValueError):  # refusing is fine
            await runner.rebuild_as_of("in-memory", T0 + dt.timedelta(seconds=1), suffix="_then")
    assert totals == {"m": 4}


# -- 19. waiters while run() retries ---------------------------------------------------------------------------------


async def test_a_waiter_times_out_saying_why_while_run_retries(store: SQLEventStore, views: SQLCheckpointStore) -> None:
    flaky = Flaky(store)
    async with ProjectionRunner(flaky, views, [Counting()], retry_interval=0.001, max_retry_interval=0.01) as runner:
        following = asyncio.create_task(runner.run())
        try:
            flaky.down = True
            result = await append(store, "s", ticks(2))

            async def retrying() -> bool:
                return (await runner.status())[0].state == "retrying"

            await until("retrying", retrying)
            with pytest.raises(TimeoutError, match="retrying"):
                await runner.wait_until_caught_up(result, 0.05)
            (status,) = await runner.status()
            assert status.outage_since is not None and status.error is not None
            flaky.down = False
            await runner.wait_until_caught_up(result, GUARD)
        finally:
            runner.stop()
            await following
        assert await checkpoint_is_consistent(store, views) == 2


async def test_garbage_positions_and_duplicate_names_are_refused_or_harmless(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    result = await append(store, "s", ticks(4))
    async with ProjectionRunner(store, views, [Counting()], batch_size=1) as runner:
        for garbage in ("garbage", {"p": 1}, [1, 2], object()):
            with pytest.raises((ValueError, TypeError, ProjectionError)):
                await runner.wait_until_caught_up(garbage, 0.5)
        assert await asyncio.gather(runner.catch_up("counting", "counting"), runner.catch_up()) is not None
        await runner.wait_until_caught_up(result, GUARD, "counting", "counting")
        assert len(await runner.status("counting", "counting")) == 2
        with pytest.raises(ProjectionError):
            await runner.catch_up("nope")
    assert await checkpoint_is_consistent(store, views) == 4


async def test_run_on_a_runner_never_opened_over_an_existing_view_database(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    await append(store, "s", ticks(3))
    async with ProjectionRunner(store, views, [Counting()]) as first:
        await first.catch_up()
    result = await append(store, "s", ticks(2))
    never_opened = ProjectionRunner(store, views, [Counting()])
    following = asyncio.create_task(never_opened.run())
    try:
        await never_opened.wait_until_caught_up(result, GUARD)
    finally:
        never_opened.stop()
        await following
    assert await checkpoint_is_consistent(store, views) == 5
