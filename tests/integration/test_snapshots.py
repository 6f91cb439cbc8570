"""Repositories with snapshots: loads from snapshot + tail, policies, stale fingerprints, failures, as_of.

The property test checks, for random histories and snapshot intervals {1, 7, 100}, that the state
at every version (and at every event's timestamp) from snapshot + tail equals the full replay,
and that no snapshot is ever used for a version before its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing import (
    Aggregate,
    AggregateNotFound,
    DomainEvent,
    EventStore,
    InvalidArgument,
    MemoryEventStore,
    Repository,
    StoreUnavailable,
    on,
    open_store,
)
from eventsourcing.snapshots import EveryNEvents, MemorySnapshotStore, OnDemand, SQLSnapshotStore
from eventsourcing.snapshotting import Snapshot, StateCodec
from tests.model import Cart


class Tally(Aggregate):
    type_name = "tests.Tally"

    class Added(DomainEvent):
        event_type = "tests.tally.added"
        key: str
        amount: int

    class Cleared(DomainEvent):
        event_type = "tests.tally.cleared"
        key: str

    totals: dict[str, int] = {}
    log: list[int] = []
    count: int = 0

    @on(Added)
    def _added(self, event: Added) -> None:
        self.totals[event.key] = self.totals.get(event.key, 0) + event.amount
        self.log.append(event.amount)
        self.count += 1

    @on(Cleared)
    def _cleared(self, event: Cleared) -> None:
        self.totals.pop(event.key, None)
        self.count += 1


class SpyingSnapshots(MemorySnapshotStore):
    """Records every snapshot handed to the repository, with the bound it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.served: list[tuple[Snapshot, int | None, dt.datetime | None]] = []

    async def latest(self, stream_id: str, **kwargs: Any) -> Snapshot | None:
        found = await super().latest(stream_id, **kwargs)
        if found is not None:
            self.served.append((found, kwargs.get("max_version"), kwargs.get("as_of")))
        return found


@pytest.fixture(params=["memory", "sqlite", "postgresql", "kafka"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}?prefix=t{uuid4().hex[:12]}&partitions=2"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def stores(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[EventStore, Any]]:
    """An event store and a snapshot store in the same database (for Kafka: snapshots in a SQLite file)."""
    if database_url == "memory://":
        yield MemoryEventStore(), MemorySnapshotStore()
        return
    url = database_url
    snapshots_url = f"sqlite:///{tmp_path / 'snapshots.db'}" if url.startswith("kafka:") else url
    async with open_store(url) as events, SQLSnapshotStore(snapshots_url) as snaps:
        yield events, snaps


async def test_policy_snapshots_after_save_and_loads_use_them(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(5))
    cart = Cart.open("alice", "cart-1")
    for n in range(11):
        cart.add_item(f"sku-{n % 3}", 1)
    await carts.save(cart)  # 12 events: crosses 5 and 10 → one snapshot, at 12
    assert [s.version for s in await snaps.list(stream_id="cart-1")] == [12]
    for n in range(3):
        await carts.update("cart-1", lambda c, n=n: c.add_item(f"sku-{n}", 1))  # 13, 14, 15 → snapshot at 15
    assert [s.version for s in await snaps.list(stream_id="cart-1")] == [12, 15]
    plain = Repository(Cart, events)
    for version in (1, 11, 12, 13, 15):
        with_snap = await carts.get("cart-1", version=version)
        assert with_snap.state() == (await plain.get("cart-1", version=version)).state()
        assert with_snap.version == version
    latest = await carts.get("cart-1")
    assert latest.state() == (await plain.get("cart-1")).state()
    assert not latest.read_only
    latest.add_item("more", 1)  # a snapshot-loaded aggregate can go on
    await carts.save(latest)
    assert (await plain.get("cart-1")).lines["more"] == 1


async def test_snapshot_state_is_not_shared_between_loads(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(1))
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    await carts.save(cart)
    one, two = await carts.get("cart-1"), await carts.get("cart-1")
    one.lines["x"] = 99
    assert "x" not in two.lines


async def test_stale_fingerprint_is_ignored_then_replaced(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(2))
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    await carts.save(cart)
    good = (await snaps.list(stream_id="cart-1"))[0]
    # A snapshot written by an older class: same stream and version, other fingerprint, wrong state.
    await snaps.save(Snapshot("cart-1", good.stream_type, 2, good.timestamp, "old-fingerprint", b'{"lines": 7}'))
    await snaps.prune(stream_type=good.stream_type, keep_fingerprint="old-fingerprint")  # lose the good one
    loaded = await carts.get("cart-1")
    assert loaded.lines == {"a": 1}  # replayed from events, the stale snapshot was never loaded
    fingerprints = {s.fingerprint for s in await snaps.list(stream_id="cart-1")}
    assert fingerprints == {"old-fingerprint", StateCodec.of(Cart).fingerprint}  # re-snapshotted


async def test_on_demand_snapshots(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=OnDemand())
    cart = Cart.open("alice", "cart-1")
    await carts.save(cart)
    assert await snaps.list(stream_id="cart-1") == []
    taken = await carts.take_snapshot("cart-1")
    assert taken.version == 1
    assert await snaps.list(stream_id="cart-1") == [taken]
    with pytest.raises(AggregateNotFound):
        await carts.take_snapshot("nope")


async def test_a_policy_with_keep_leaves_the_newest_snapshots_of_the_stream(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(2, keep=2))
    other = Cart.open("bob", "cart-2")
    await Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(1)).save(other)
    cart = Cart.open("alice", "cart-1")
    await carts.save(cart)
    for n in range(9):  # versions 2..10: a snapshot at every even version, the older ones trimmed
        await carts.update("cart-1", lambda c, n=n: c.add_item(f"sku-{n}", 1))
        expected = [v for v in range(2, n + 3) if v % 2 == 0][-2:]
        assert [s.version for s in await snaps.list(stream_id="cart-1")] == expected
    assert [s.version for s in await snaps.list(stream_id="cart-2")] == [1]  # another stream: untouched
    for version in (1, 5, 8, 10):  # loads before the kept snapshots replay from the events
        assert (await carts.get("cart-1", version=version)).state() == (
            await Repository(Cart, events).get("cart-1", version=version)
        ).state()

    on_demand = Repository(Cart, events, snapshots=snaps, snapshot_policy=OnDemand(keep=1))
    await on_demand.update("cart-1", lambda c: c.add_item("x", 1))
    assert (await on_demand.take_snapshot("cart-1")).version == 11
    assert [s.version for s in await snaps.list(stream_id="cart-1")] == [11]


async def test_a_failing_snapshot_store_never_fails_the_save(tmp_path: Path) -> None:
    events = MemoryEventStore()

    class Broken(MemorySnapshotStore):
        async def save(self, snapshot: Snapshot) -> None:
            raise OSError("disk full")

    carts = Repository(Cart, events, snapshots=Broken(), snapshot_policy=EveryNEvents(1))
    cart = Cart.open("alice", "cart-1")
    await carts.save(cart)  # the snapshot fails after the append; the save succeeds
    assert (await carts.get("cart-1")).customer_id == "alice"


async def test_events_are_stored_before_the_snapshot_is_written(stores: tuple[EventStore, Any]) -> None:
    """A slow snapshot store holds back only the saving caller, after its events are visible to all."""
    events, snaps = stores
    entered, release = asyncio.Event(), asyncio.Event()

    class Gated:
        def __getattr__(self, name: str) -> Any:
            return getattr(snaps, name)

        async def save(self, snapshot: Snapshot) -> None:
            entered.set()
            await release.wait()
            await snaps.save(snapshot)

    carts = Repository(Cart, events, snapshots=Gated(), snapshot_policy=EveryNEvents(2))
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    saving = asyncio.create_task(carts.save(cart))
    await asyncio.wait_for(entered.wait(), 10)
    assert await events.stream_version("cart-1") == 2  # stored and readable while the snapshot waits
    other = Repository(Cart, events)
    await other.update("cart-1", lambda c: c.add_item("b", 1))  # other writers are not held back either
    release.set()
    await saving
    assert [s.version for s in await snaps.list(stream_id="cart-1")] == [2]
    assert (await carts.get("cart-1")).lines == {"a": 1, "b": 1}


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def _drop_snapshots_table(url: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as db:
            db.execute("DROP TABLE snapshots")
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE snapshots")
    finally:
        await conn.close()


async def test_a_broken_sql_snapshot_store_is_logged_not_raised(sql_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async with open_store(sql_url) as events, SQLSnapshotStore(sql_url) as snaps:
        carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(1))
        await carts.save(Cart.open("alice", "cart-1"))
        await _drop_snapshots_table(sql_url)  # every snapshot statement fails from now on
        loaded = await Repository(Cart, events).get("cart-1")
        loaded.add_item("a", 1)
        with caplog.at_level("WARNING", logger="eventsourcing.repository"):
            result = await carts.save(loaded)
        assert result is not None and result.version == 2
        assert await events.stream_version("cart-1") == 2
        assert "could not snapshot tests.Cart 'cart-1'" in caplog.text
        assert [r.exc_info[0].__name__ for r in caplog.records if r.exc_info] == ["StoreError"]
    async with SQLSnapshotStore(sql_url) as reopened:  # opening creates the table again
        assert await reopened.list() == []


async def test_an_unusable_snapshot_store_falls_back_to_replay(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Cart, events, snapshots=snaps, snapshot_policy=EveryNEvents(1))
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    await carts.save(cart)

    class Down(MemorySnapshotStore):
        async def latest(self, stream_id: str, **bounds: Any) -> Snapshot | None:
            raise StoreUnavailable("snapshot database unreachable")

    assert (await Repository(Cart, events, snapshots=Down()).get("cart-1")).lines == {"a": 1}
    good = (await snaps.list(stream_id="cart-1"))[-1]

    class Corrupt(MemorySnapshotStore):
        async def latest(self, stream_id: str, **bounds: Any) -> Snapshot | None:
            return Snapshot("cart-1", good.stream_type, good.version, good.timestamp, good.fingerprint, b"{not json")

    assert (await Repository(Cart, events, snapshots=Corrupt()).get("cart-1")).lines == {"a": 1}


async def test_as_of_loads_read_only_the_needed_window(stores: tuple[EventStore, Any]) -> None:
    events, snaps = stores
    carts = Repository(Tally, events, snapshots=snaps, snapshot_policy=EveryNEvents(100))
    tally = Tally("t-1")
    for n in range(2_500):
        tally.emit(Tally.Added(key="k", amount=n))
    await carts.save(tally)  # one snapshot, at 2,500
    recorded = await events.read("t-1")
    for probe in (0, 999, 1_000, 1_001, 2_000, 2_499):
        at = recorded[probe].timestamp
        expected = [e for e in recorded if e.timestamp <= at][-1].version
        assert (await carts.get("t-1", as_of=at)).version == expected
        assert (await Repository(Tally, events).get("t-1", as_of=at)).version == expected


async def test_snapshots_serve_as_of_loads(stores: tuple[EventStore, Any]) -> None:
    events, _ = stores
    spy = SpyingSnapshots()
    carts = Repository(Tally, events, snapshots=spy, snapshot_policy=EveryNEvents(10))
    tally = Tally("t-1")
    for n in range(25):
        tally.emit(Tally.Added(key="k", amount=n))
        await carts.save(tally)
        await asyncio.sleep(0.001)
    recorded = await events.read("t-1")
    plain = Repository(Tally, events)
    for event in recorded:
        with_snap = await carts.get("t-1", as_of=event.timestamp)
        assert with_snap.state() == (await plain.get("t-1", as_of=event.timestamp)).state()
    assert spy.served  # snapshots were used
    assert all(s.timestamp <= as_of for s, _, as_of in spy.served if as_of is not None)


def test_policy_arguments() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        EveryNEvents(0)
    assert EveryNEvents(100).should_snapshot(100, 99)
    assert not EveryNEvents(100).should_snapshot(199, 100)
    assert EveryNEvents(100).should_snapshot(250, 0)
    with pytest.raises(ValueError, match="snapshot store"):
        Repository(Cart, MemoryEventStore(), snapshot_policy=EveryNEvents(1))
    for keep in (0, -1):
        with pytest.raises(InvalidArgument, match="n >= 1"):
            EveryNEvents(10, keep=keep)
        with pytest.raises(InvalidArgument, match="n >= 1"):
            OnDemand(keep=keep)


COMPARISONS: list[int] = []


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, int]]:
    """1 to 500 operations; drawn from a seed so long histories are as likely as short ones."""
    size = draw(st.integers(1, 500))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return [
        ("add", rng.choice("abcde"), rng.randint(-1000, 1000)) if rng.random() < 0.8 else ("clear", rng.choice("ab"), 0)
        for _ in range(size)
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), interval=st.sampled_from([1, 7, 100]), chunk=st.integers(1, 60))
def snapshot_plus_tail_equals_full_replay(history: list[tuple[str, str, int]], interval: int, chunk: int) -> None:
    async def check() -> int:
        events, spy = MemoryEventStore(), SpyingSnapshots()
        with_snaps = Repository(Tally, events, snapshots=spy, snapshot_policy=EveryNEvents(interval))
        plain = Repository(Tally, events)
        tally = Tally("t-1")
        for start in range(0, len(history), chunk):  # saves of random sizes cross interval boundaries
            for op, key, amount in history[start : start + chunk]:
                tally.emit(Tally.Added(key=key, amount=amount) if op == "add" else Tally.Cleared(key=key))
            await with_snaps.save(tally)
        comparisons = 0
        replayed = await events.read("t-1")
        for event in replayed:
            expected = Tally._rebuild("t-1", replayed[: event.version]).state()
            assert (await with_snaps.get("t-1", version=event.version)).state() == expected
            comparisons += 1
        assert (await with_snaps.get("t-1")).state() == (await plain.get("t-1")).state()
        for snapshot, max_version, _ in spy.served:
            assert max_version is None or snapshot.version <= max_version  # never past the wanted version
        if len(history) >= interval:
            assert spy.served
        return comparisons

    comparisons = asyncio.run(check())
    assert comparisons == len(history)
    COMPARISONS.append(comparisons)


def test_snapshot_plus_tail_equals_full_replay_at_every_version() -> None:
    COMPARISONS.clear()
    snapshot_plus_tail_equals_full_replay()  # the whole hypothesis search
    assert sum(COMPARISONS) >= 2000, f"only {sum(COMPARISONS)} versions compared"
