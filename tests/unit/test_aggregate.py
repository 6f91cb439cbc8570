"""Aggregates without any store: emit, handlers, versions, per-instance state, read-only history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from eventsourcing import Aggregate, DomainEvent, on
from eventsourcing.testing import AggregateScenario
from tests.model import Cart, CartError


def test_new_aggregate_has_an_id_and_version_zero() -> None:
    cart = Cart()
    assert isinstance(cart.id, str) and len(cart.id) == 36
    assert cart.version == 0
    assert cart.pending_events == ()
    assert Cart("given-id").id == "given-id"


def test_emit_applies_at_once_and_queues() -> None:
    cart = Cart.open("alice")
    cart.add_item("sku-1", 2)
    assert cart.customer_id == "alice"
    assert cart.lines == {"sku-1": 2}
    assert cart.version == 2
    assert [type(e.event) for e in cart.pending_events] == [Cart.Opened, Cart.ItemAdded]
    assert len({e.event_id for e in cart.pending_events}) == 2
    collected = cart.collect_events()
    assert len(collected) == 2
    assert cart.pending_events == ()
    assert cart.version == 2


def test_mutable_defaults_are_per_instance() -> None:
    a, b = Cart.open("a"), Cart.open("b")
    a.add_item("sku-1", 1)
    assert b.lines == {} and b.history == []
    assert Cart.lines == {}  # the class default itself is never touched


def test_state_lists_declared_fields() -> None:
    cart = Cart.open("alice")
    assert cart.state() == {"customer_id": "alice", "lines": {}, "history": [], "checked_out": False}
    assert "Cart(id=" in repr(cart)


def test_a_failing_decision_emits_nothing() -> None:
    cart = Cart.open("alice")
    with pytest.raises(CartError):
        cart.add_item("sku-1", 0)
    assert cart.version == 1
    assert len(cart.pending_events) == 1


def test_emit_takes_only_domain_events() -> None:
    with pytest.raises(TypeError, match="DomainEvent"):
        Cart().emit("not an event")  # type: ignore[arg-type]


def test_on_requires_event_types() -> None:
    with pytest.raises(TypeError):
        on(str)  # type: ignore[arg-type]


def test_handlers_are_inherited_and_overridable() -> None:
    class Base(Aggregate):
        class Happened(DomainEvent):
            event_type = "tests.inherit.happened"

        count: int = 0

        def happen(self) -> None:
            self.emit(self.Happened())

        @on(Happened)
        def _happened(self, event: Happened) -> None:
            self.count += 1

    class Derived(Base):
        @on(Base.Happened)
        def _happened_twice(self, event: Base.Happened) -> None:
            self.count += 2

    base, derived = Base(), Derived()
    base.happen()
    derived.happen()
    assert (base.count, derived.count) == (1, 2)


def test_event_without_handler_changes_nothing_but_counts() -> None:
    class Quiet(Aggregate):
        class Noted(DomainEvent):
            event_type = "tests.quiet.noted"

    q = Quiet()
    q.emit(Quiet.Noted())
    assert q.version == 1


def test_timestamps_come_from_the_application_clock_in_utc() -> None:
    with freeze_time("2026-02-03 04:05:06.789"):
        cart = Cart.open("alice")
    (opened,) = cart.pending_events
    assert opened.timestamp == dt.datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=dt.UTC)
    assert opened.timestamp.tzinfo is not None


def test_timestamps_never_decrease_within_a_stream() -> None:
    with freeze_time("2026-02-03 10:00:00"):
        cart = Cart.open("alice")
    with freeze_time("2026-02-03 09:00:00"):  # the clock went backwards
        cart.add_item("sku-1", 1)
    first, second = cart.pending_events
    assert second.timestamp == first.timestamp
    assert cart.last_event_at == first.timestamp


async def test_scenario_given_when_then() -> None:
    await (
        AggregateScenario(Cart)
        .given(Cart.Opened(customer_id="alice"))
        .when(lambda cart: cart.add_item("sku-1", 2, Decimal("9.99")))
        .then(Cart.ItemAdded(sku="sku-1", quantity=2, unit_price=Decimal("9.99")))
    )


async def test_scenario_for_a_factory() -> None:
    cart = await AggregateScenario(Cart).when(lambda _: Cart.open("bob")).then(Cart.Opened(customer_id="bob"))
    assert cart.customer_id == "bob"


async def test_scenario_then_raises() -> None:
    await (
        AggregateScenario(Cart)
        .given(Cart.Opened(customer_id="a"), Cart.CheckedOut())
        .when(lambda cart: cart.add_item("sku-1", 1))
        .then_raises(CartError, match="checked out")
    )


async def test_scenario_reports_a_difference() -> None:
    scenario = AggregateScenario(Cart).given(Cart.Opened(customer_id="a")).when(lambda c: c.add_item("x", 1))
    with pytest.raises(AssertionError, match="events differ"):
        await scenario.then(Cart.CheckedOut())
    with pytest.raises(AssertionError, match="expected CartError"):
        await AggregateScenario(Cart).when(lambda c: c.add_item("x", 1)).then_raises(CartError)
