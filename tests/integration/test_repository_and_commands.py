"""Repository (get / version / as_of / save / update) and the command bus, on memory and SQLite."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from freezegun import freeze_time

from eventsourcing import (
    AggregateNotFound,
    CommandBus,
    CommandError,
    ConcurrencyError,
    EventStore,
    InvalidArgument,
    InvalidCommand,
    InvalidTimestamp,
    ReadOnlyAggregate,
    Repository,
    UnknownCommand,
    open_store,
)
from eventsourcing.testing import CommandScenario
from tests.model import AddItem, Cart, CartError, CheckOut, OpenCart, cart_bus


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'events.db'}"
    async with open_store(url) as store:
        yield store


async def test_save_and_get(store: EventStore) -> None:
    carts = Repository(Cart, store)
    cart = Cart.open("alice")
    cart.add_item("sku-1", 2)
    result = await carts.save(cart)
    assert result is not None and result.version == 2
    assert cart.pending_events == ()
    loaded = await carts.get(cart.id)
    assert (loaded.version, loaded.customer_id, loaded.lines) == (2, "alice", {"sku-1": 2})
    assert not loaded.read_only
    assert await carts.save(loaded) is None  # nothing pending: nothing to do


async def test_get_unknown_aggregate(store: EventStore) -> None:
    with pytest.raises(AggregateNotFound, match="no events"):
        await Repository(Cart, store).get("no-such-cart")


async def test_get_version(store: EventStore) -> None:
    carts = Repository(Cart, store)
    cart = Cart.open("alice")
    for n in range(1, 5):
        cart.add_item(f"sku-{n}", n)
    await carts.save(cart)
    v3 = await carts.get(cart.id, version=3)
    assert v3.version == 3 and v3.lines == {"sku-1": 1, "sku-2": 2}
    assert v3.read_only
    with pytest.raises(ReadOnlyAggregate):
        v3.add_item("sku-9", 1)
    with pytest.raises(AggregateNotFound, match="version 9 does not exist"):
        await carts.get(cart.id, version=9)
    with pytest.raises(InvalidArgument, match="version starts at 1"):  # a ValueError, as time-travel.md says
        await carts.get(cart.id, version=0)
    with pytest.raises(InvalidArgument, match="not both"):  # a library error, like every other bad argument
        await carts.get(cart.id, version=1, as_of=dt.datetime.now(dt.UTC))


async def test_get_as_of_controlled_by_freezegun(store: EventStore) -> None:
    carts = Repository(Cart, store)
    with freeze_time("2026-03-01 10:00:00"):
        cart = Cart.open("alice")
        await carts.save(cart)
    with freeze_time("2026-03-01 11:00:00"):
        await carts.update(cart.id, lambda c: c.add_item("sku-1", 1))
    with freeze_time("2026-03-01 12:00:00"):
        await carts.update(cart.id, lambda c: c.add_item("sku-2", 1))

    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

    with pytest.raises(AggregateNotFound, match="at or before"):
        await carts.get(cart.id, as_of=at("2026-03-01 09:59:59"))  # before the first event
    assert (await carts.get(cart.id, as_of=at("2026-03-01 10:00:00"))).version == 1  # exactly on it
    assert (await carts.get(cart.id, as_of=at("2026-03-01 11:30:00"))).lines == {"sku-1": 1}  # between
    assert (await carts.get(cart.id, as_of=at("2026-03-01 11:00:00"))).version == 2  # on the second
    latest_then = await carts.get(cart.id, as_of=at("2030-01-01 00:00:00"))  # after the last
    assert latest_then.version == 3 and latest_then.read_only
    with pytest.raises(InvalidTimestamp, match="no timezone"):
        await carts.get(cart.id, as_of=dt.datetime(2026, 3, 1, 11))


async def test_stale_aggregate_cannot_overwrite(store: EventStore) -> None:
    carts = Repository(Cart, store)
    cart = Cart.open("alice")
    await carts.save(cart)
    mine, theirs = await carts.get(cart.id), await carts.get(cart.id)
    mine.add_item("sku-1", 1)
    await carts.save(mine)
    theirs.add_item("sku-2", 1)
    with pytest.raises(ConcurrencyError) as raised:
        await carts.save(theirs)
    assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == (cart.id, 1, 2)
    assert len(theirs.pending_events) == 1  # kept, so the caller can see what was refused
    assert (await carts.get(cart.id)).lines == {"sku-1": 1}


async def test_update_retries_on_conflict(store: EventStore) -> None:
    carts = Repository(Cart, store)
    cart = Cart.open("alice")
    await carts.save(cart)
    runs = 0

    async def add_with_interference(c: Cart) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:  # another writer gets in between our load and our save
            await carts.update(cart.id, lambda other: other.add_item("theirs", 1))
        c.add_item("mine", 1)

    updated = await carts.update(cart.id, add_with_interference)
    assert runs == 2
    assert updated.lines == {"theirs": 1, "mine": 1}
    assert (await carts.get(cart.id)).version == 3


async def test_update_gives_up_after_max_attempts(store: EventStore) -> None:
    carts = Repository(Cart, store, max_attempts=3)
    cart = Cart.open("alice")
    await carts.save(cart)
    runs = 0

    async def always_interfered(c: Cart) -> None:
        nonlocal runs
        runs += 1
        await Repository(Cart, store).update(cart.id, lambda other: other.add_item("theirs", 1))
        c.add_item("mine", 1)

    with pytest.raises(ConcurrencyError):
        await carts.update(cart.id, always_interfered)
    assert runs == 3
    assert "mine" not in (await carts.get(cart.id)).lines


async def test_update_propagates_domain_errors_and_saves_nothing(store: EventStore) -> None:
    carts = Repository(Cart, store)
    cart = Cart.open("alice")
    await carts.save(cart)
    with pytest.raises(CartError):
        await carts.update(cart.id, lambda c: c.add_item("sku", -1))
    assert (await carts.get(cart.id)).version == 1


async def test_repository_checks_its_types(store: EventStore) -> None:
    with pytest.raises(TypeError):
        Repository(str, store)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="max_attempts"):
        Repository(Cart, store, max_attempts=0)


# -- commands -------------------------------------------------------------------------------------


async def test_command_dispatch_and_metadata(store: EventStore) -> None:
    bus = cart_bus(store)
    open_cmd = OpenCart(cart_id="cart-1", customer_id="alice")
    result = await bus.dispatch(open_cmd)
    assert result.value == "cart-1" and not result.duplicate
    await bus.dispatch(AddItem(cart_id="cart-1", sku="sku-1", quantity=2))
    events = await store.read("cart-1")
    assert [e.event_type for e in events] == ["tests.cart.opened", "tests.cart.item_added"]
    assert events[0].metadata["causation_id"] == str(open_cmd.command_id)
    assert events[0].metadata["correlation_id"] == str(open_cmd.command_id)


async def test_command_results_say_where_the_events_landed(store: EventStore) -> None:
    bus = cart_bus(store)
    opened = await bus.dispatch(OpenCart(cart_id="cart-1", customer_id="alice"))
    add = AddItem(cart_id="cart-1", sku="sku-1", quantity=1)
    added = await bus.dispatch(add)
    log = await store.read_all()
    assert [(r.stream_id, r.version) for r in opened.appended] == [("cart-1", 1)]
    assert opened.position == log[0].position
    assert added.position == log[1].position
    again = await bus.dispatch(add)
    assert again.duplicate
    assert again.position == log[1].position


async def test_update_with_an_expected_version(store: EventStore) -> None:
    carts = Repository(Cart, store)
    await carts.save(Cart.open("alice", "cart-1"))
    await carts.update("cart-1", lambda c: c.add_item("a", 1), expected_version=1)
    with pytest.raises(ConcurrencyError, match="stale") as raised:
        await carts.update("cart-1", lambda c: c.add_item("b", 1), expected_version=1)
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert (await carts.get("cart-1")).lines == {"a": 1}


async def test_retried_command_never_emits_twice(store: EventStore) -> None:
    bus = cart_bus(store)
    await bus.dispatch(OpenCart(cart_id="cart-1", customer_id="alice"))
    add = AddItem(cart_id="cart-1", sku="sku-1", quantity=1)
    first = await bus.dispatch(add)
    again = await bus.dispatch(add)  # the client did not see the first answer and retries
    assert not first.duplicate and again.duplicate
    check_out = CheckOut(cart_id="cart-1")
    await bus.dispatch(check_out)
    assert (await bus.dispatch(check_out)).duplicate  # not "already checked out": the same command
    events = await store.read("cart-1")
    assert [e.event_type for e in events].count("tests.cart.item_added") == 1
    assert len(events) == 3


async def test_racing_deliveries_of_one_command_emit_once(store: EventStore) -> None:
    bus = cart_bus(store)
    await bus.dispatch(OpenCart(cart_id="cart-1", customer_id="alice"))
    add = AddItem(cart_id="cart-1", sku="sku-1", quantity=1)
    outcomes = await asyncio.gather(*(bus.dispatch(add) for _ in range(5)), return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert (await Repository(Cart, store).get("cart-1")).lines == {"sku-1": 1}


async def test_update_returns_stored_state_after_an_idempotent_retry(store: EventStore) -> None:
    carts = Repository(Cart, store)
    await carts.save(Cart.open("alice", "cart-1"))
    add = AddItem(cart_id="cart-1", sku="sku-1", quantity=1)
    from eventsourcing import context

    results = []
    for _ in range(2):  # the same command run twice without the bus's pre-check
        with context.command_context(add.command_id):
            results.append(await carts.update("cart-1", lambda c: c.add_item("sku-1", 1)))
    assert [r.lines for r in results] == [{"sku-1": 1}, {"sku-1": 1}]
    assert [r.version for r in results] == [2, 2]


async def test_command_ids_are_stable_across_conflict_retries(store: EventStore) -> None:
    """A command that needed two attempts stores the same event ids as one that needed one."""
    bus = cart_bus(store)
    await bus.dispatch(OpenCart(cart_id="cart-1", customer_id="alice"))
    add = AddItem(cart_id="cart-1", sku="sku-1", quantity=1)
    carts = Repository(Cart, store)
    interfered = False
    original_get = carts.get

    async def get_then_interfere(aggregate_id: str, **kwargs: object) -> Cart:
        nonlocal interfered
        cart = await original_get(aggregate_id)
        if not interfered:
            interfered = True
            await Repository(Cart, store).update(aggregate_id, lambda c: c.add_item("theirs", 1))
        return cart

    carts.get = get_then_interfere  # type: ignore[method-assign]
    from eventsourcing import context

    with context.command_context(add.command_id):
        await carts.update("cart-1", lambda c: c.add_item("sku-1", 1))
    mine = (await store.read("cart-1"))[-1]
    assert mine.event_id == context.first_event_id(add.command_id)


async def test_racing_deliveries_of_a_creating_command_report_a_duplicate(store: EventStore) -> None:
    bus = CommandBus(store)
    carts = Repository(Cart, store)

    @bus.handler(OpenCart)
    async def open_with_new_id(command: OpenCart) -> str:
        cart = Cart.open(command.customer_id)  # a random id: racing deliveries do not collide on versions
        await carts.save(cart)
        return cart.id

    command = OpenCart(cart_id="ignored", customer_id="alice")
    outcomes = await asyncio.gather(*(bus.dispatch(command) for _ in range(4)))
    assert sum(not o.duplicate for o in outcomes) == 1
    assert len([e async for e in _all(store)]) == 1


async def _all(store: EventStore) -> AsyncIterator[object]:
    for event in await store.read_all():
        yield event


async def test_a_reused_command_id_with_another_payload_is_refused(store: EventStore) -> None:
    bus = cart_bus(store)
    first = OpenCart(cart_id="cart-1", customer_id="alice")
    await bus.dispatch(first, user_id="u-7")
    assert (await store.read("cart-1"))[0].metadata["user_id"] == "u-7"
    reused = OpenCart(command_id=first.command_id, cart_id="cart-2", customer_id="mallory")
    with pytest.raises(CommandError, match="already used for a different OpenCart"):
        await bus.dispatch(reused)
    assert await store.read("cart-2") == []


async def test_invalid_and_unknown_commands(store: EventStore) -> None:
    bus = cart_bus(store)
    with pytest.raises(InvalidCommand, match="quantity") as raised:
        bus.parse("AddItem", {"cart_id": "c", "sku": "s", "quantity": "lots"})
    assert raised.value.errors
    with pytest.raises(InvalidCommand, match="price: Extra inputs"):
        bus.parse("AddItem", {"cart_id": "c", "sku": "s", "quantity": 1, "price": 3})
    with pytest.raises(InvalidCommand):
        bus.parse("AddItem", b"{not json")
    with pytest.raises(UnknownCommand, match="known: AddItem, CheckOut, OpenCart"):
        bus.parse("Explode", {})
    result = await bus.dispatch_raw("OpenCart", '{"cart_id": "c-9", "customer_id": "x"}')
    assert result.value == "c-9"
    with pytest.raises(CartError):
        await bus.dispatch(AddItem(cart_id="c-9", sku="s", quantity=0))
    assert len(await store.read("c-9")) == 1


async def test_command_scenario(store: EventStore) -> None:
    opened = Cart.Opened(customer_id="alice")
    await (
        CommandScenario(cart_bus, store)
        .given(Cart, f"cart-{uuid4()}", opened)
        .when(OpenCart(cart_id="cart-new", customer_id="bob"))
        .then(Cart.Opened(customer_id="bob"))
    )
    await (
        CommandScenario(cart_bus)
        .given(Cart, "cart-2", opened, Cart.CheckedOut())
        .when(AddItem(cart_id="cart-2", sku="s", quantity=1))
        .then_raises(CartError, match="checked out")
    )
