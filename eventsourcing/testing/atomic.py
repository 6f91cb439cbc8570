"""Contract: an atomic append to several streams stores all of them or none.

Against every backend: each part's expectation and type are checked, a refused part leaves every
stream and the global log as they were, an exact retry is recognised, and concurrent transfers
between accounts never leave one side without the other. A store whose capabilities say
``atomic_streams=False`` (Kafka) must refuse several streams with `UnsupportedOperation`, storing
nothing, and still take one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventsourcing.aggregate import Aggregate, on
from eventsourcing.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InvalidArgument,
    StreamTypeMismatch,
    UnsupportedOperation,
)
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.repository import Repository
from eventsourcing.saving import save_atomically
from eventsourcing.stores.atomic import AppendsAtomically, StreamAppend
from eventsourcing.stores.base import ANY, EventStore

TYPE = "contract.Ledger"
T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class Ledger(Aggregate):
    type_name = TYPE

    class Moved(DomainEvent):
        event_type = "contract.Ledger.Moved"
        transfer: UUID
        amount: int

    balance: int = 0

    def move(self, transfer: UUID, amount: int) -> None:
        self.emit(self.Moved(transfer=transfer, amount=amount))

    @on(Moved)
    def _moved(self, event: Moved) -> None:
        self.balance += event.amount


def moved(amount: int, transfer: UUID | None = None) -> NewEvent:
    return NewEvent(Ledger.Moved(transfer=transfer or uuid4(), amount=amount), uuid4(), T0)


def part(stream_id: str, events: list[NewEvent], expected: Any, stream_type: str = TYPE) -> StreamAppend:
    return StreamAppend(stream_id, events, expected, stream_type)


async def everything(store: EventStore) -> list[RecordedEvent[DomainEvent]]:
    out: list[RecordedEvent[DomainEvent]] = []
    after = None
    while page := await store.read_all(after=after, limit=500):
        out.extend(page)
        after = page[-1].position
    return out


class AtomicAppendContract:
    @pytest.fixture
    async def store(self) -> Any:  # pragma: no cover - bindings override it
        raise NotImplementedError

    @staticmethod
    def _atomic(store: EventStore) -> AppendsAtomically:
        assert isinstance(store, AppendsAtomically), f"{type(store).__name__} has no append_streams"
        return store

    async def test_one_part_is_a_plain_append(self, store: EventStore) -> None:
        a = f"a-{uuid4()}"
        (result,) = await self._atomic(store).append_streams([part(a, [moved(1), moved(2)], 0)])
        assert result.version == 2
        assert [e.version for e in await store.read(a)] == [1, 2]

    async def test_several_streams_are_stored_together(self, store: EventStore) -> None:
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        a, b, c = (f"{x}-{uuid4()}" for x in "abc")
        await store.append(b, [moved(5)], 0, stream_type=TYPE)
        t = uuid4()
        results = await self._atomic(store).append_streams(
            [part(a, [moved(-3, t)], 0), part(b, [moved(3, t), moved(0)], 1), part(c, [], 0)]
        )
        assert [(r.stream_id, r.version) for r in results] == [(a, 1), (b, 3), (c, 0)]
        assert [e.version for e in await store.read(a)] == [1]
        assert [e.version for e in await store.read(b)] == [1, 2, 3]
        assert await store.read(c) == []  # an empty part stores nothing (it was a guard)
        log = await everything(store)
        assert [(e.stream_id, e.version) for e in log][-3:] == [(a, 1), (b, 2), (b, 3)]
        assert results[0].position == log[-3].position and results[1].position == log[-1].position

    @pytest.mark.parametrize("refused", [0, 1, 2])
    async def test_a_refused_part_stores_nothing_of_any(self, store: EventStore, refused: int) -> None:
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        streams = [f"s{i}-{uuid4()}" for i in range(3)]
        for stream in streams:
            await store.append(stream, [moved(1)], 0, stream_type=TYPE)
        before = await everything(store)
        parts = [part(s, [moved(1)], 2 if i == refused else 1) for i, s in enumerate(streams)]
        with pytest.raises(ConcurrencyError) as caught:
            await self._atomic(store).append_streams(parts)
        assert caught.value.stream_id == streams[refused]
        assert caught.value.actual == 1
        assert await everything(store) == before
        for stream in streams:
            assert await store.stream_version(stream) == 1
        results = await self._atomic(store).append_streams([part(s, [moved(1)], 1) for s in streams])
        assert [r.version for r in results] == [2, 2, 2]  # nothing was left locked or half written

    async def test_an_empty_part_guards_a_stream_that_changed(self, store: EventStore) -> None:
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        a, guard = f"a-{uuid4()}", f"guard-{uuid4()}"
        await store.append(guard, [moved(1), moved(1)], 0, stream_type=TYPE)
        with pytest.raises(ConcurrencyError) as caught:
            await self._atomic(store).append_streams([part(a, [moved(1)], 0), part(guard, [], 1)])
        assert caught.value.stream_id == guard
        assert await store.read(a) == []

    async def test_a_part_of_another_type_stores_nothing(self, store: EventStore) -> None:
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        a, other = f"a-{uuid4()}", f"other-{uuid4()}"
        await store.append(other, [moved(1)], 0, stream_type="contract.Other")
        with pytest.raises(StreamTypeMismatch):
            await self._atomic(store).append_streams([part(a, [moved(1)], 0), part(other, [moved(1)], ANY)])
        assert await store.read(a) == []
        assert await store.stream_version(other) == 1

    async def test_an_exact_retry_returns_the_original_results(self, store: EventStore) -> None:
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        a, b = f"a-{uuid4()}", f"b-{uuid4()}"
        parts = [part(a, [moved(-1), moved(-1)], 0), part(b, [moved(2)], 0)]
        first = await self._atomic(store).append_streams(parts)
        before = await everything(store)
        again = await self._atomic(store).append_streams(parts)  # the caller never heard the answer
        assert [(r.stream_id, r.version, r.position) for r in again] == [
            (r.stream_id, r.version, r.position) for r in first
        ]
        assert await everything(store) == before

    async def test_reused_ids_in_another_grouping_store_nothing(self, store: EventStore) -> None:
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        a, b = f"a-{uuid4()}", f"b-{uuid4()}"
        stored = moved(1)
        await store.append(a, [stored], 0, stream_type=TYPE)
        with pytest.raises(DuplicateEventId):
            await self._atomic(store).append_streams([part(a, [stored], 0), part(b, [moved(1)], 0)])
        assert await store.read(b) == []

    async def test_bad_arguments_are_refused_before_anything_is_stored(self, store: EventStore) -> None:
        atomic = self._atomic(store)
        a = f"a-{uuid4()}"
        with pytest.raises(InvalidArgument, match="at least one"):
            await atomic.append_streams([])
        with pytest.raises(InvalidArgument, match="more than once"):
            await atomic.append_streams([part(a, [moved(1)], 0), part(a, [moved(1)], 1)])
        shared = moved(1)
        with pytest.raises(DuplicateEventId):
            await atomic.append_streams([part(a, [shared], 0), part(f"b-{uuid4()}", [shared], 0)])
        with pytest.raises(InvalidArgument):
            await atomic.append_streams([part(a, [moved(1)], -1)])
        with pytest.raises(InvalidArgument):
            await atomic.append_streams("not appends")  # type: ignore[arg-type]
        assert await store.read(a) == []

    async def test_save_atomically_stores_both_aggregates_or_is_refused(self, store: EventStore) -> None:
        one, two = Ledger(f"l-{uuid4()}"), Ledger(f"l-{uuid4()}")
        transfer = uuid4()
        one.move(transfer, -1)
        two.move(transfer, 1)
        if not store.capabilities.atomic_streams:
            with pytest.raises(UnsupportedOperation):
                await save_atomically(store, one, two)
            assert one.pending_events and two.pending_events  # nothing stored: they keep their events
            await self._refuses_several(store)
            return
        results = await save_atomically(store, one, two)
        assert [r.version for r in results] == [1, 1]
        assert not one.pending_events and not two.pending_events
        repo = Repository(Ledger, store)
        assert [(await repo.get(x.id)).balance for x in (one, two)] == [-1, 1]

    async def _refuses_several(self, store: EventStore) -> None:
        """A store without atomic appends to several streams refuses them, storing nothing."""
        a, b = f"a-{uuid4()}", f"b-{uuid4()}"
        with pytest.raises(UnsupportedOperation, match="one stream only"):
            await self._atomic(store).append_streams([part(a, [moved(1)], 0), part(b, [moved(1)], 0)])
        assert await store.read(a) == [] and await store.read(b) == []

    async def test_concurrent_transfers_never_store_one_side_alone(self, store: EventStore) -> None:
        """Tasks move money between 4 accounts with `save_atomically`, retrying conflicts: every
        transfer id is in both accounts or in neither, and the balances sum to zero."""
        if not store.capabilities.atomic_streams:
            await self._refuses_several(store)
            return
        repo = Repository(Ledger, store)
        accounts = [f"acc{i}-{uuid4()}" for i in range(4)]
        for account in accounts:
            ledger = Ledger(account)
            ledger.move(uuid4(), 0)
            await repo.save(ledger)
        done: list[UUID] = []
        conflicts = 0

        async def transfers(seed: int) -> None:
            nonlocal conflicts
            rng = random.Random(seed)
            for _ in range(8):
                src, dst = rng.sample(accounts, 2)
                transfer, amount = uuid4(), rng.randint(1, 9)
                while True:
                    debit, credit = await repo.get(src), await repo.get(dst)
                    debit.move(transfer, -amount)
                    credit.move(transfer, amount)
                    try:
                        await save_atomically(store, debit, credit)
                    except ConcurrencyError:
                        conflicts += 1
                        continue
                    done.append(transfer)
                    break

        await asyncio.gather(*(transfers(seed) for seed in range(6)))
        seen: dict[UUID, int] = {}
        total = 0
        for account in accounts:
            for record in await store.read(account):
                event = record.event
                assert isinstance(event, Ledger.Moved)
                if event.amount:
                    seen[event.transfer] = seen.get(event.transfer, 0) + 1
                total += event.amount
        assert sorted(seen) == sorted(done) and set(seen.values()) == {2}
        assert total == 0
        assert len(done) == 48
