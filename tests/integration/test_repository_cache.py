"""The repository's aggregate cache (``cache_size``): loads read only newer events, never stale state.

A cached aggregate is a prefix of its stream; every `get` still reads what was stored after it. The
tests below count the events each load reads (a spying store), write behind the cache's back, raise
in commands, mutate what they were handed, race gets, and overflow the bound.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventsourcing import (
    Aggregate,
    ConcurrencyError,
    DomainEvent,
    EventStore,
    Repository,
    on,
    open_store,
)
from eventsourcing.stores.replay import StreamEvents
from tests.model import Cart, CartError


class Spy:
    """The store, recording from which version each stream read started."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.reads: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def read_events(self, stream_id: str, *, from_version: int = 1, **kwargs: Any) -> StreamEvents:
        self.reads.append((stream_id, from_version))
        result: StreamEvents = await self.store.read_events(stream_id, from_version=from_version, **kwargs)  # type: ignore[attr-defined]
        return result


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'events.db'}"
    async with open_store(url) as store:
        yield store


async def test_a_cached_load_reads_only_newer_events_and_equals_a_full_replay(store: EventStore) -> None:
    spy = Spy(store)
    carts = Repository(Cart, spy, cache_size=10)  # type: ignore[arg-type]
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    await carts.save(cart)  # a save caches nothing: only states rebuilt from stored events are cached
    first = await carts.get("cart-1")
    first.add_item("b", 1)
    await carts.save(first)
    loaded = await carts.get("cart-1")
    assert spy.reads == [("cart-1", 1), ("cart-1", 3)]  # the second load applied only the new event
    assert loaded.state() == (await Repository(Cart, store).get("cart-1")).state()
    assert (loaded.version, loaded.last_event_at) == (3, first.last_event_at)
    assert loaded is not first and not loaded.read_only


async def test_another_writers_events_are_applied_to_the_cached_state(store: EventStore) -> None:
    spy = Spy(store)
    carts = Repository(Cart, spy, cache_size=10)  # type: ignore[arg-type]
    await carts.save(Cart.open("alice", "cart-1"))
    await carts.get("cart-1")
    other = Repository(Cart, store)  # another process, as far as the cache can tell
    await other.update("cart-1", lambda c: c.add_item("b", 2))
    await other.update("cart-1", lambda c: c.add_item("c", 3))
    spy.reads.clear()
    loaded = await carts.get("cart-1")
    assert (loaded.version, loaded.lines) == (3, {"b": 2, "c": 3})
    assert loaded.last_event_at == (await store.read("cart-1"))[-1].timestamp
    assert spy.reads == [("cart-1", 2)]
    await carts.get("cart-1")
    assert spy.reads[-1] == ("cart-1", 4)  # the tail it applied was cached too
    loaded.add_item("d", 4)  # and the state it returned is current: saving it does not conflict
    await carts.save(loaded)
    assert (await other.get("cart-1")).lines == {"b": 2, "c": 3, "d": 4}


async def test_a_stale_aggregate_still_conflicts_and_update_retries_on_fresh_state(store: EventStore) -> None:
    carts = Repository(Cart, store, cache_size=10)
    await carts.save(Cart.open("alice", "cart-1"))
    stale = await carts.get("cart-1")
    await Repository(Cart, store).update("cart-1", lambda c: c.add_item("b", 1))
    stale.add_item("a", 1)
    with pytest.raises(ConcurrencyError):
        await carts.save(stale)
    attempts: list[int] = []

    async def change(cart: Cart) -> None:
        attempts.append(cart.version)
        if len(attempts) == 1:  # the first attempt loses the race to another writer
            await Repository(Cart, store).update("cart-1", lambda c: c.add_item("c", 1))
        cart.add_item("a", 1)

    await carts.update("cart-1", change)
    assert attempts == [2, 3]  # the retry loaded the other writer's event through the cache
    assert (await Repository(Cart, store).get("cart-1")).lines == {"b": 1, "c": 1, "a": 1}
    assert (await carts.get("cart-1")).lines == {"b": 1, "c": 1, "a": 1}


async def test_a_failing_command_does_not_poison_the_cache(store: EventStore) -> None:
    carts = Repository(Cart, store, cache_size=10)
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    await carts.save(cart)

    def bad(cart: Cart) -> None:
        cart.add_item("b", 5)  # applied to the caller's copy ...
        cart.lines["junk"] = 1
        raise CartError("... then the command fails")

    with pytest.raises(CartError):
        await carts.update("cart-1", bad)
    loaded = await carts.get("cart-1")
    assert (loaded.version, loaded.lines, loaded.pending_events) == (2, {"a": 1}, ())
    assert await store.stream_version("cart-1") == 2


async def test_callers_never_share_the_cached_instance(store: EventStore) -> None:
    carts = Repository(Cart, store, cache_size=10)
    cart = Cart.open("alice", "cart-1")
    cart.add_item("a", 1)
    await carts.save(cart)
    cart.lines["after-save"] = 1  # the saved instance is the caller's, not the cache's
    cart.history.append("x")
    one = await carts.get("cart-1")
    one.lines["one"] = 1  # nor is a loaded one
    two = await carts.get("cart-1")
    assert one is not two
    assert two.lines == {"a": 1} and two.history == ["a"]
    unsaved = await carts.get("cart-1")
    unsaved.add_item("c", 1)  # emitted, never saved
    assert (await carts.get("cart-1")).version == 2


async def test_concurrent_loads_apply_a_tail_once_each(store: EventStore) -> None:
    carts = Repository(Cart, store, cache_size=10)
    await carts.save(Cart.open("alice", "cart-1"))
    await carts.get("cart-1")
    for n in range(3):
        await Repository(Cart, store).update("cart-1", lambda c, n=n: c.add_item(f"sku-{n}", 1))
    loads = await asyncio.gather(*(carts.get("cart-1") for _ in range(5)))
    assert {(a.version, tuple(a.history)) for a in loads} == {(4, ("sku-0", "sku-1", "sku-2"))}
    assert (await carts.get("cart-1")).history == ["sku-0", "sku-1", "sku-2"]


async def test_the_cache_is_bounded_least_recently_used_first(store: EventStore) -> None:
    spy = Spy(store)
    carts = Repository(Cart, spy, cache_size=2)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        await carts.save(Cart.open(name, f"cart-{name}"))
        await carts.get(f"cart-{name}")  # cart-a is dropped when cart-c is cached
    spy.reads.clear()
    await carts.get("cart-b")  # hit: b is now the most recently used
    await carts.get("cart-a")  # miss: replayed from version 1, cached, c dropped
    await carts.get("cart-b")
    await carts.get("cart-c")
    assert spy.reads == [("cart-b", 2), ("cart-a", 1), ("cart-b", 2), ("cart-c", 1)]
    assert len(carts._cache) == 2


async def test_historic_loads_bypass_the_cache(store: EventStore) -> None:
    spy = Spy(store)
    carts = Repository(Cart, spy, cache_size=10)  # type: ignore[arg-type]
    cart = Cart.open("alice", "cart-1")
    for sku in ("a", "b", "c"):
        cart.add_item(sku, 1)
    await carts.save(cart)
    spy.reads.clear()
    first = await carts.get("cart-1", version=1)
    assert (first.version, first.lines, first.read_only) == (1, {}, True)
    at = (await store.read("cart-1"))[1].timestamp
    second = await carts.get("cart-1", as_of=at)
    assert (second.version, second.lines, second.read_only) == (2, {"a": 1}, True)
    assert [from_version for _, from_version in spy.reads] == [1, 1]
    latest = await carts.get("cart-1")  # the historic loads did not replace the cached latest state
    assert (latest.version, latest.read_only) == (4, False)


async def test_an_idempotent_retry_leaves_the_stored_state_in_the_cache(store: EventStore) -> None:
    carts = Repository(Cart, store, cache_size=10)
    await carts.save(Cart.open("alice", "cart-1"))
    loaded = await carts.get("cart-1")
    loaded.add_item("a", 1)
    pending = list(loaded.pending_events)
    await carts.save(loaded)
    await carts.get("cart-1")
    # The same events again (a redelivered command), on a copy whose state does not show them: the
    # store recognises the ids and returns the original result, at the copy's version. Caching what
    # a save holds in memory would cache this copy's wrong state.
    again = await Repository(Cart, store).get("cart-1", version=1)
    again._read_only = False
    again._pending = pending
    again._version = 2
    result = await carts.save(again)
    assert result is not None and result.version == 2
    assert (await carts.get("cart-1")).lines == {"a": 1}


class Locked(Aggregate):
    """State that cannot be deep-copied: such an aggregate is simply not cached."""

    type_name = "tests.Locked"

    class Touched(DomainEvent):
        event_type = "tests.locked.touched"

    touches: int = 0

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id)
        self.lock = threading.Lock()

    @on(Touched)
    def _touched(self, event: Touched) -> None:
        self.touches += 1


async def test_an_aggregate_that_cannot_be_copied_is_not_cached(store: EventStore) -> None:
    spy = Spy(store)
    repo = Repository(Locked, spy, cache_size=10)  # type: ignore[arg-type]
    locked = Locked("l-1")
    locked.emit(Locked.Touched())
    await repo.save(locked)
    assert (await repo.get("l-1")).touches == 1
    assert spy.reads == [("l-1", 1)]
    assert not repo._cache


def test_cache_size_is_checked() -> None:
    from eventsourcing import MemoryEventStore

    with pytest.raises(ValueError, match="cache_size"):
        Repository(Cart, MemoryEventStore(), cache_size=-1)


def test_a_clone_is_independent_and_keeps_shared_references_shared() -> None:
    class Shared(Aggregate):
        type_name = "tests.Shared"
        items: dict[str, list[int]] = {}
        when: dt.datetime | None = None

    shared = Shared("s-1")
    inner = [1, 2]
    shared.items = {"x": inner, "y": inner}
    shared.when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clone = shared._clone()
    assert clone.state() == shared.state() and clone.id == "s-1" and clone.pending_events == ()
    clone.items["x"].append(3)
    assert shared.items == {"x": [1, 2], "y": [1, 2]}
    assert clone.items["y"] == [1, 2, 3]  # x and y are still one list in the copy
    assert clone.when is shared.when  # immutable values are shared, not copied


def test_a_clone_of_an_aggregate_with_its_own_slots_copies_them_too() -> None:
    class Slotted(Aggregate):
        __slots__ = ("extra",)
        type_name = "tests.Slotted"
        tags: list[str] = []

    slotted = Slotted("s-1")
    slotted.extra = ["x"]
    slotted.tags.append("t")
    clone = slotted._clone()
    clone.extra.append("y")
    clone.tags.append("u")
    assert (slotted.extra, slotted.tags) == (["x"], ["t"])
    assert (clone.extra, clone.tags, clone.id, clone.pending_events) == (["x", "y"], ["t", "u"], "s-1", ())
