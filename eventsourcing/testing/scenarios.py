"""Given / when / then: check decisions without a database.

Every scenario is a synchronous builder ending in an awaited check, in an ``async def`` test::

    await AggregateScenario(ShoppingCart).given(
        ShoppingCart.Opened(customer_id="alice"),
    ).when(
        lambda cart: cart.add_item("sku-1", 2, Decimal("9.99")),
    ).then(
        ShoppingCart.ItemAdded(sku="sku-1", quantity=2, unit_price=Decimal("9.99")),
    )

A scenario set up but never checked, or a ``then`` never awaited, fails the test (see
`eventsourcing.testing.obligations`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Generic, Self, TypeVar
from uuid import uuid4

from eventsourcing import clock
from eventsourcing.aggregate import Aggregate
from eventsourcing.commands import Command, CommandBus
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.stores.base import EventStore
from eventsourcing.stores.memory import MemoryEventStore
from eventsourcing.testing.obligations import Check, Tracked

A = TypeVar("A", bound=Aggregate)


class ScenarioFailed(AssertionError):
    """The scenario's outcome differs from what was expected."""


class AggregateScenario(Tracked, Generic[A]):
    """Given past events, when an action on the aggregate, then these events (or this error)."""

    def __init__(self, aggregate_type: type[A], aggregate_id: str = "scenario-aggregate") -> None:
        self.aggregate_type = aggregate_type
        self.aggregate_id = aggregate_id
        self._given: list[DomainEvent] = []
        self._action: Callable[[A], Any] | None = None

    def given(self, *events: DomainEvent) -> Self:
        self._started()
        self._given.extend(events)
        return self

    def when(self, action: Callable[[A], Any]) -> Self:
        """``action`` gets the aggregate rebuilt from the given events (a new, empty one if none).
        If it returns an aggregate (a factory such as ``Cart.open``), that one's events are checked."""
        self._started()
        self._action = action
        return self

    def _run(self) -> A:
        if self._action is None:
            raise ScenarioFailed("the scenario has no when(...)")
        now = clock.now()
        history = [
            RecordedEvent(event, self.aggregate_id, n, n, now, uuid4(), event.event_type, event.schema_version, {})
            for n, event in enumerate(self._given, start=1)
        ]
        aggregate = self.aggregate_type._rebuild(self.aggregate_id, history)
        result = self._action(aggregate)
        return result if isinstance(result, self.aggregate_type) else aggregate

    def then(self, *expected: DomainEvent) -> Check[A]:
        """Assert the action emitted exactly ``expected``, in order; awaiting returns the aggregate."""
        return self._check("then", lambda: self._then(expected))

    async def _then(self, expected: Sequence[DomainEvent]) -> A:
        aggregate = self._run()
        emitted = [e.event for e in aggregate.pending_events]
        _compare(list(expected), emitted)
        return aggregate

    def then_raises(self, error: type[BaseException], match: str | None = None) -> Check[BaseException]:
        """Assert the action raised ``error`` (message matching the regex ``match``); awaiting returns it."""
        return self._check("then_raises", lambda: self._then_raises(error, match))

    async def _then_raises(self, error: type[BaseException], match: str | None) -> BaseException:
        try:
            aggregate = self._run()
        except error as raised:
            if match is not None and not re.search(match, str(raised)):
                raise ScenarioFailed(
                    f"{type(raised).__name__} raised, but {str(raised)!r} does not match {match!r}"
                ) from raised
            return raised
        emitted = [e.event for e in aggregate.pending_events]
        raise ScenarioFailed(f"expected {error.__name__}, but the action succeeded and emitted {emitted!r}")


class CommandScenario(Tracked):
    """Given events already stored, when a command is dispatched, then these events are stored.

    ``make_bus`` builds the application's `CommandBus` on the store the scenario provides
    (a fresh `MemoryEventStore` unless one is given)::

        await CommandScenario(build_bus).given(ShoppingCart, "cart-1", opened).when(AddItem(...)).then(added)

    ``scenario.store`` and ``scenario.bus`` are there to prepare more (dispatch a first delivery, say).
    """

    def __init__(self, make_bus: Callable[[EventStore], CommandBus], store: EventStore | None = None) -> None:
        self.store = store or MemoryEventStore()
        self.bus = make_bus(self.store)
        self._given: list[tuple[str, str, list[DomainEvent]]] = []
        self._command: Command | None = None

    def given(self, aggregate_type: type[Aggregate] | str, stream_id: str, *events: DomainEvent) -> Self:
        self._started()
        stream_type = aggregate_type if isinstance(aggregate_type, str) else aggregate_type.type_name
        self._given.append((stream_type, stream_id, list(events)))
        return self

    def when(self, command: Command) -> Self:
        self._started()
        self._command = command
        return self

    async def _run(self) -> Any:
        if self._command is None:
            raise ScenarioFailed("the scenario has no when(...)")
        now = clock.now()
        for stream_type, stream_id, events in self._given:
            version = await self.store.stream_version(stream_id)
            batch = [NewEvent(e, uuid4(), now) for e in events]
            await self.store.append(stream_id, batch, version, stream_type=stream_type)
        self._after = await _head(self.store)
        return await self.bus.dispatch(self._command)

    def then(self, *expected: DomainEvent) -> Check[list[RecordedEvent[DomainEvent]]]:
        """Assert the command stored exactly ``expected`` (in log order); awaiting returns the recorded events."""
        return self._check("then", lambda: self._then(expected))

    async def _then(self, expected: Sequence[DomainEvent]) -> list[RecordedEvent[DomainEvent]]:
        await self._run()
        recorded = await _all_after(self.store, self._after)
        _compare(list(expected), [r.event for r in recorded])
        return recorded

    def then_raises(self, error: type[BaseException], match: str | None = None) -> Check[BaseException]:
        """Assert dispatching raised ``error`` and stored nothing; awaiting returns the error."""
        return self._check("then_raises", lambda: self._then_raises(error, match))

    async def _then_raises(self, error: type[BaseException], match: str | None) -> BaseException:
        try:
            await self._run()
        except error as raised:
            if match is not None and not re.search(match, str(raised)):
                raise ScenarioFailed(
                    f"{type(raised).__name__} raised, but {str(raised)!r} does not match {match!r}"
                ) from raised
            stored = await _all_after(self.store, self._after)
            if stored:
                raise ScenarioFailed(f"{type(raised).__name__} raised, but events were stored: {stored!r}") from None
            return raised
        raise ScenarioFailed(f"expected {error.__name__}, but the command succeeded")


async def _head(store: EventStore) -> Any:
    after = None
    while page := await store.read_all(after=after, limit=1000):
        after = page[-1].position
    return after


async def _all_after(store: EventStore, after: Any) -> list[RecordedEvent[DomainEvent]]:
    out: list[RecordedEvent[DomainEvent]] = []
    while page := await store.read_all(after=after, limit=1000):
        out.extend(page)
        after = page[-1].position
    return out


def _compare(expected: Sequence[DomainEvent], actual: Sequence[DomainEvent]) -> None:
    if list(expected) != list(actual):
        lines = ["events differ:", "  expected:"]
        lines += [f"    {e!r}" for e in expected] or ["    (none)"]
        lines += ["  actual:"]
        lines += [f"    {e!r}" for e in actual] or ["    (none)"]
        raise ScenarioFailed("\n".join(lines))


__all__ = ["AggregateScenario", "Check", "CommandScenario", "ScenarioFailed"]
