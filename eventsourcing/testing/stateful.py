"""Contract: the event store against a reference model, by hypothesis stateful testing.

A `RuleBasedStateMachine` drives a store with random programs: appends with every form of
expectation (the right int, a stale int, ``0``/NO_STREAM, ANY, EXISTS), exact retries of earlier
batches with the same ids (and a stale expectation), batches that reuse some stored ids (rejected
whole), a stream reused under another type, and concurrent writers (an ``asyncio.gather`` of
appends to one stream with the same expectation: exactly one wins). The model is a dict of
streams; after every step the store must agree with it through ``read``, ``stream_version``,
``stream_info``, ``read_all`` (filtered to the machine's own stream types, so one store can serve
every example) and ``get_event``.

The machine runs in a worker thread (hypothesis drives it synchronously) and every store call runs
on the test's event loop, where the store lives.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from eventsourcing.errors import ConcurrencyError, DuplicateEventId, StreamTypeMismatch
from eventsourcing.events import DomainEvent, NewEvent
from eventsourcing.stores.base import ANY, EXISTS, AppendResult, EventStore, Expected

T = TypeVar("T")
T3 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)

STATEFUL_SETTINGS = settings(
    max_examples=12,
    stateful_step_count=14,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
EXPECTATIONS = ("exact", "stale", "no_stream", "any", "exists")


class Stepped(DomainEvent):
    event_type = "contract.Stepped"
    n: int


@dataclass
class Stream:
    stream_type: str
    event_ids: list[UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    stream_id: str
    events: list[NewEvent]
    stream_type: str
    result: AppendResult


class StoreMachine(RuleBasedStateMachine):
    """Subclassed per test with ``store`` and ``loop`` set (see `check_store_against_model`)."""

    store: EventStore
    loop: asyncio.AbstractEventLoop

    def __init__(self) -> None:
        super().__init__()
        tag = uuid4().hex[:10]
        self.types = (f"sm{tag}.A", f"sm{tag}.B")
        self.ids = [f"sm{tag}-{i}" for i in range(3)]
        self.streams: dict[str, Stream] = {}
        self.batches: list[Batch] = []
        self.order: list[UUID] = []  # the model's global order (checked on stores with a total order)
        self.counter = 0

    # -- helpers ------------------------------------------------------------------------------

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=120)

    def new_events(self, count: int) -> list[NewEvent]:
        out = []
        for _ in range(count):
            self.counter += 1
            out.append(NewEvent(Stepped(n=self.counter), uuid4(), T3 + dt.timedelta(seconds=self.counter)))
        return out

    def actual(self, stream_id: str) -> int:
        stream = self.streams.get(stream_id)
        return len(stream.event_ids) if stream else 0

    def expectation(self, kind: str, actual: int) -> Expected:
        if kind == "exact":
            return actual
        if kind == "stale":
            return actual + 1 if actual == 0 else actual - 1
        if kind == "no_stream":
            return 0
        return ANY if kind == "any" else EXISTS

    def record(self, stream_id: str, stream_type: str, events: list[NewEvent], result: AppendResult) -> None:
        stream = self.streams.setdefault(stream_id, Stream(stream_type))
        stream.event_ids.extend(e.event_id for e in events)
        self.order.extend(e.event_id for e in events)
        assert result.stream_id == stream_id
        assert result.version == len(stream.event_ids)
        if events:
            self.batches.append(Batch(stream_id, events, stream_type, result))

    # -- rules --------------------------------------------------------------------------------

    @rule(
        stream=st.integers(0, 2),
        count=st.integers(0, 3),
        kind=st.sampled_from(EXPECTATIONS),
        other_type=st.booleans(),
    )
    def append(self, stream: int, count: int, kind: str, other_type: bool) -> None:
        stream_id = self.ids[stream]
        current = self.streams.get(stream_id)
        stream_type = self.types[0] if current is None else current.stream_type
        if other_type and current is not None and count:
            stream_type = self.types[1] if current.stream_type == self.types[0] else self.types[0]
        actual = self.actual(stream_id)
        expected = self.expectation(kind, actual)
        events = self.new_events(count)
        call = self.store.append(stream_id, events, expected, stream_type=stream_type)
        if current is not None and stream_type != current.stream_type:
            with pytest.raises(StreamTypeMismatch) as mismatch:
                self.run(call)
            assert (mismatch.value.given, mismatch.value.stored) == (stream_type, current.stream_type)
            return
        admitted = expected is ANY or (expected is EXISTS and actual > 0) or expected == actual
        if not admitted:
            with pytest.raises(ConcurrencyError) as conflict:
                self.run(call)
            assert (conflict.value.stream_id, conflict.value.actual) == (stream_id, actual)
            return
        self.record(stream_id, stream_type, events, self.run(call))

    @precondition(lambda self: bool(self.batches))
    @rule(pick=st.integers(0, 10**6), kind=st.sampled_from(EXPECTATIONS))
    def retry(self, pick: int, kind: str) -> None:
        batch = self.batches[pick % len(self.batches)]
        expected = self.expectation(kind, self.actual(batch.stream_id))
        again = self.run(self.store.append(batch.stream_id, batch.events, expected, stream_type=batch.stream_type))
        assert again == batch.result

    @precondition(lambda self: bool(self.batches))
    @rule(pick=st.integers(0, 10**6), keep=st.integers(1, 3), kind=st.sampled_from(EXPECTATIONS))
    def reuse_some_ids(self, pick: int, keep: int, kind: str) -> None:
        batch = self.batches[pick % len(self.batches)]
        events = [*batch.events[:keep], *self.new_events(1)]
        expected = self.expectation(kind, self.actual(batch.stream_id))
        with pytest.raises(DuplicateEventId):
            self.run(self.store.append(batch.stream_id, events, expected, stream_type=batch.stream_type))

    @rule(stream=st.integers(0, 2), writers=st.integers(2, 4), count=st.integers(1, 2))
    def concurrent_writers(self, stream: int, writers: int, count: int) -> None:
        stream_id = self.ids[stream]
        current = self.streams.get(stream_id)
        stream_type = self.types[0] if current is None else current.stream_type
        actual = self.actual(stream_id)
        batches = [self.new_events(count) for _ in range(writers)]

        async def race() -> list[AppendResult | BaseException]:
            return await asyncio.gather(
                *(self.store.append(stream_id, b, actual, stream_type=stream_type) for b in batches),
                return_exceptions=True,
            )

        outcomes = self.run(race())
        wins = [(b, o) for b, o in zip(batches, outcomes, strict=True) if isinstance(o, AppendResult)]
        losses = [o for o in outcomes if isinstance(o, ConcurrencyError)]
        assert len(wins) == 1 and len(losses) == writers - 1, outcomes
        ((events, result),) = wins
        self.record(stream_id, stream_type, events, result)

    # -- what the store must agree with -------------------------------------------------------

    @invariant()
    def streams_agree(self) -> None:
        async def observe() -> list[Any]:
            out = []
            for stream_id in self.ids:
                out.append(
                    (
                        [e.event_id for e in await self.store.read(stream_id)],
                        await self.store.stream_version(stream_id),
                        await self.store.stream_info(stream_id),
                    )
                )
            return out

        for stream_id, (ids, version, info) in zip(self.ids, self.run(observe()), strict=True):
            stream = self.streams.get(stream_id)
            assert ids == ([] if stream is None else stream.event_ids)
            assert version == len(ids)
            if stream is None or not stream.event_ids:
                assert info is None
            else:
                assert (info.stream_type, info.version) == (stream.stream_type, len(ids))

    @invariant()
    def global_log_agrees(self) -> None:
        async def log() -> list[Any]:
            out: list[Any] = []
            after = None
            while page := await self.store.read_all(after=after, limit=7, stream_types=list(self.types)):
                out.extend(page)
                after = page[-1].position
            return out

        events = self.run(log())
        assert sorted(e.event_id.hex for e in events) == sorted(i.hex for i in self.order)
        for stream_id in self.ids:  # each stream's order holds in the global log
            versions = [e.version for e in events if e.stream_id == stream_id]
            assert versions == list(range(1, len(versions) + 1))
        if self.store.capabilities.total_order:
            assert [e.event_id for e in events] == self.order
        if self.order:
            found = self.run(self.store.get_event(self.order[-1]))
            assert found is not None and found.event_id == self.order[-1]


async def check_store_against_model(store: EventStore, config: settings = STATEFUL_SETTINGS) -> None:
    """Run `StoreMachine` programs against ``store`` (open, on this event loop)."""
    machine = type("BoundStoreMachine", (StoreMachine,), {"store": store, "loop": asyncio.get_running_loop()})
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=config)


class StatefulContract:
    """Mixed into `EventStoreContract`."""

    async def test_store_agrees_with_the_reference_model(self, store: EventStore) -> None:
        await check_store_against_model(store)
