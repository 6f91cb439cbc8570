"""Reactors (process managers) and deadlines against real stores: commands sent once in effect
whatever re-reads a page (a reset checkpoint, two runners at once), deadlines fired by the
application clock (freezegun), cancelled, fired by two runners at once to one effect, a rebuild
that sends nothing again, failing commands stopping the reactor or going to the dead letters —
on SQLite and PostgreSQL views."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from freezegun import freeze_time

from eventsourcing import (
    Aggregate,
    Command,
    CommandBus,
    DomainEvent,
    EventStore,
    RecordedEvent,
    Repository,
    SQLEventStore,
    on,
)
from eventsourcing.projections import (
    PoisonEvent,
    ProjectionRunner,
    Reaction,
    Reactor,
    SQLCheckpointStore,
    command_id_for,
)
from tests.model import Cart, CheckOut, OpenCart, cart_bus

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
UNPAID_AFTER = dt.timedelta(minutes=30)


class Order(Aggregate):
    type_name = "tests.Order"

    class Started(DomainEvent):
        event_type = "tests.order.started"
        cart_id: str

    class Paid(DomainEvent):
        event_type = "tests.order.paid"

    class Cancelled(DomainEvent):
        event_type = "tests.order.cancelled"

    cart_id: str = ""
    status: str = ""

    @on(Started)
    def _started(self, event: Started) -> None:
        self.cart_id, self.status = event.cart_id, "started"

    @on(Paid)
    def _paid(self, event: Paid) -> None:
        self.status = "paid"

    @on(Cancelled)
    def _cancelled(self, event: Cancelled) -> None:
        self.status = "cancelled"


class StartOrder(Command):
    order_id: str
    cart_id: str


class PayOrder(Command):
    order_id: str


class CancelUnpaid(Command):
    order_id: str


class Notify(Command):
    """A command whose handler stores nothing: every dispatch runs it (no event marks it as done)."""

    text: str


class Refuse(Command):
    order_id: str


class Shop:
    """The write side: carts and orders on one bus; ``notified`` records each run of `Notify`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.bus: CommandBus = cart_bus(store)
        self.orders = Repository(Order, store)
        self.notified: list[str] = []

        @self.bus.handler(StartOrder)
        async def start(command: StartOrder) -> None:
            order = Order(command.order_id)
            order.emit(Order.Started(cart_id=command.cart_id))
            await self.orders.save(order)

        @self.bus.handler(PayOrder)
        async def pay(command: PayOrder) -> None:
            await self.orders.update(command.order_id, lambda order: order.emit(Order.Paid()))

        @self.bus.handler(CancelUnpaid)
        async def cancel(command: CancelUnpaid) -> None:
            def decide(order: Order) -> None:
                if order.status == "started":
                    order.emit(Order.Cancelled())

            await self.orders.update(command.order_id, decide)

        @self.bus.handler(Notify)
        async def notify(command: Notify) -> None:
            self.notified.append(command.text)

        @self.bus.handler(Refuse)
        async def refuse(command: Refuse) -> None:
            raise ValueError(f"order {command.order_id} cannot be refused now")

    async def checkout(self, cart_id: str) -> None:
        await self.bus.dispatch(OpenCart(cart_id=cart_id, customer_id="c"))
        await self.bus.dispatch(CheckOut(cart_id=cart_id))


class Fulfilment(Reactor):
    name = "fulfilment"
    deadlines = True

    @on(Cart.CheckedOut)
    def checked_out(self, event: RecordedEvent[Cart.CheckedOut], react: Reaction) -> None:
        order_id = f"order-{event.stream_id}"
        react.send(StartOrder(order_id=order_id, cart_id=event.stream_id))
        react.send(Notify(text=f"checked out {event.stream_id}"))
        react.schedule(CancelUnpaid(order_id=order_id), at=event.timestamp + UNPAID_AFTER, key=f"unpaid:{order_id}")

    @on(Order.Paid)
    def paid(self, event: RecordedEvent[Order.Paid], react: Reaction) -> None:
        react.cancel(f"unpaid:{event.stream_id}")


class Stubborn(Reactor):
    """Sends a command that always fails, for carts whose id starts with ``bad``."""

    name = "stubborn"

    @on(Cart.CheckedOut)
    async def checked_out(self, event: RecordedEvent[Cart.CheckedOut], react: Reaction) -> None:
        await asyncio.sleep(0)  # async handlers are allowed
        react.send(Notify(text=event.stream_id))
        if event.stream_id.startswith("bad"):
            react.send(Refuse(order_id=event.stream_id))


class ForgivingStubborn(Stubborn):
    name = "stubborn-dl"
    dead_letters = True


@pytest.fixture(params=["sqlite", "postgresql"])
def views_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'views.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def views(views_url: str) -> AsyncIterator[SQLCheckpointStore]:
    async with SQLCheckpointStore(views_url) as views:
        yield views


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        yield Shop(store)


async def events_of(store: EventStore, event_type: type[DomainEvent]) -> list[RecordedEvent[DomainEvent]]:
    return [e for e in await store.read_all(limit=100_000) if isinstance(e.event, event_type)]


async def test_each_command_has_its_effect_once_whatever_re_reads_the_log(
    shop: Shop, views: SQLCheckpointStore
) -> None:
    for i in range(6):
        await shop.checkout(f"cart-{i}")
    reactor = Fulfilment(shop.bus)
    async with ProjectionRunner(shop.store, views, [reactor], batch_size=4) as a:
        assert await a.catch_up() == 18  # opened + checked out per cart, then the orders it started
        started = await events_of(shop.store, Order.Started)
        assert sorted(e.stream_id for e in started) == [f"order-cart-{i}" for i in range(6)]
        # The command ids are derived from the triggering event: the order of cart-0 was started by
        # command 0 of the reactor for cart-0's CheckedOut event, whose first event id is derived from it.
        checked_out = {e.stream_id: e for e in await events_of(shop.store, Cart.CheckedOut)}
        first = started[0]
        assert first.metadata["causation_id"] == str(
            command_id_for("fulfilment", checked_out[first.event.cart_id].event_id, 0)  # type: ignore[attr-defined]
        )
        assert first.metadata["correlation_id"] == checked_out[first.event.cart_id].metadata["correlation_id"]  # type: ignore[attr-defined]

        # The checkpoint is reset behind the runner's back (a restore, a crash before the commit):
        # every page is read again and every command sent again, with the same ids: no new effect.
        await views.reset("fulfilment")
        async with ProjectionRunner(shop.store, views, [Fulfilment(shop.bus)], batch_size=3) as b:
            await asyncio.gather(a.catch_up(), b.catch_up(), b.catch_up())
    assert len(await events_of(shop.store, Order.Started)) == 6
    assert all(o.version == 1 for o in [await shop.orders.get(f"order-cart-{i}") for i in range(6)])


async def test_deadlines_fire_by_the_application_clock_once_unless_cancelled(
    shop: Shop, views: SQLCheckpointStore
) -> None:
    with freeze_time(T0) as clock:
        for i in range(4):
            await shop.checkout(f"cart-{i}")
        async with (
            ProjectionRunner(shop.store, views, [Fulfilment(shop.bus)]) as a,
            ProjectionRunner(shop.store, views, [Fulfilment(shop.bus)]) as b,
        ):
            await a.catch_up()
            await shop.bus.dispatch(PayOrder(order_id="order-cart-1"))
            await a.catch_up()  # the Paid event cancels cart-1's deadline
            assert await a.fire_deadlines() == 0
            clock.tick(UNPAID_AFTER - dt.timedelta(seconds=1))
            assert await a.fire_deadlines() == 0
            clock.tick(dt.timedelta(seconds=1))
            fired = await asyncio.gather(a.fire_deadlines(), b.fire_deadlines())  # two processes, say
            assert 3 <= sum(fired) <= 6  # each due deadline sent by one or both: its effect is once
            assert await a.fire_deadlines() == 0 and await b.fire_deadlines() == 0
    statuses = {i: (await shop.orders.get(f"order-cart-{i}")).status for i in range(4)}
    assert statuses == {0: "cancelled", 1: "paid", 2: "cancelled", 3: "cancelled"}
    assert len(await events_of(shop.store, Order.Cancelled)) == 3


async def test_a_rebuild_sends_nothing_it_had_sent_but_reacts_to_what_is_new(
    shop: Shop, views: SQLCheckpointStore
) -> None:
    with freeze_time(T0) as clock:
        for i in range(3):
            await shop.checkout(f"cart-{i}")
        async with ProjectionRunner(shop.store, views, [Fulfilment(shop.bus)]) as runner:
            await runner.catch_up()
            assert len(shop.notified) == 3
            await shop.checkout("cart-late")  # appended, not yet reacted to when the rebuild starts
            await runner.rebuild("fulfilment")
            assert shop.notified == [*[f"checked out cart-{i}" for i in range(3)], "checked out cart-late"]
            # The deadline table is derived again from the log: every deadline is still there.
            clock.tick(UNPAID_AFTER)
            assert await runner.fire_deadlines() == 4
            as_of = await runner.rebuild_as_of("fulfilment", T0, suffix="_then")
            assert as_of and len(shop.notified) == 4  # a view as of a time never sends
    assert {(await shop.orders.get(f"order-cart-{i}")).status for i in range(3)} == {"cancelled"}


async def test_a_failing_command_stops_the_reactor_at_its_event_or_goes_to_the_dead_letters(
    shop: Shop, views: SQLCheckpointStore
) -> None:
    for cart_id in ("ok-1", "bad-2", "ok-3"):
        await shop.checkout(cart_id)
    async with ProjectionRunner(shop.store, views, [Stubborn(shop.bus), ForgivingStubborn(shop.bus)]) as runner:
        with pytest.raises(PoisonEvent, match="bad-2"):
            await runner.catch_up("stubborn")
        (status,) = await runner.status("stubborn")
        assert status.state == "stopped" and "cannot be refused" in (status.error or "")
        await runner.catch_up("stubborn-dl")
        (letter,) = await runner.dead_letters("stubborn-dl")
        assert letter.stream_id == "bad-2" and "cannot be refused" in letter.error
    # Each reactor sent each command once (the part of the page before the failing event is applied
    # again to commit it, without sending again): ok-1 and bad-2's Notify by both, ok-3's by one.
    assert sorted(shop.notified) == ["bad-2", "bad-2", "ok-1", "ok-1", "ok-3"]


# -- crashes --------------------------------------------------------------------------------------

CRASH_CARTS = 400
CRASH_KILLS = 12
CRASH_MAX_RUN = 25  # carts a worker reacts to at most before it is killed: KILLS * MAX_RUN < CARTS


@pytest.mark.slow
async def test_a_reactor_killed_anywhere_has_every_effect_once(shop: Shop, tmp_path: Path) -> None:
    """A reactor process SIGKILLed after a random number of reactions (before, during or after the
    sends and the checkpoint's commit), restarted each time: every order is started exactly once
    and every deadline is scheduled."""
    for i in range(CRASH_CARTS):
        await shop.checkout(f"cart-{i}")
    events_db, views_db = tmp_path / "events.db", tmp_path / "crash-views.db"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.reactor_worker", str(events_db), str(views_db), "7"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    rng = random.Random(11)
    for _ in range(CRASH_KILLS):
        worker = start()
        assert worker.stdout is not None
        assert (await asyncio.to_thread(worker.stdout.readline)).strip() == b"ready", worker.communicate()
        taken = rng.randint(0, CRASH_MAX_RUN)
        assert await asyncio.to_thread(worker.stdout.read, 2 * taken) == b"e\n" * taken
        for _ in range(rng.choice((0, 1, 3, 10))):
            await asyncio.sleep(0)
        assert worker.poll() is None
        os.kill(worker.pid, signal.SIGKILL)
        _out, err = worker.communicate()
        assert worker.returncode == -signal.SIGKILL, err.decode()
    worker = start()
    _out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err.decode()

    started = await events_of(shop.store, Order.Started)
    assert sorted(e.stream_id for e in started) == sorted(f"order-cart-{i}" for i in range(CRASH_CARTS))
    async with SQLCheckpointStore(f"sqlite:///{views_db}") as views:
        (count,) = (await views.fetch("SELECT count(*) FROM fulfilment_deadlines"))[0]
        assert count == CRASH_CARTS
