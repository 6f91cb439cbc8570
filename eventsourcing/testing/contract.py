"""The event store contract: the behaviour every backend must have, written once.

Bind it to a store in a few lines (pytest with pytest-asyncio)::

    class TestMyStore(EventStoreContract):
        @pytest.fixture
        async def store(self, tmp_path):
            async with MyStore(...) as store:
                yield store

Each test gets a fresh, empty, open store. Where backends legitimately differ (e.g. whether
``read_all`` is one total order), the suite reads ``store.capabilities`` instead of naming backends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from eventsourcing.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InvalidTimestamp,
    StreamTypeMismatch,
    UnknownEventType,
)
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import events_registry, upcaster
from eventsourcing.stores.base import ANY, EXISTS, EventStore, Expected, StreamInfo
from eventsourcing.testing.atomic import AtomicAppendContract
from eventsourcing.testing.boundary import BoundaryContract
from eventsourcing.testing.payloads import PayloadContract
from eventsourcing.testing.stateful import StatefulContract
from eventsourcing.testing.stream_types import StreamTypeContract

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class Noted(DomainEvent):
    event_type = "contract.Noted"
    text: str
    n: int = 0


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Line(BaseModel):
    sku: str
    quantity: int


class Rich(DomainEvent):
    event_type = "contract.Rich"
    amount: Decimal
    at: dt.datetime
    ref: UUID
    colour: Colour
    lines: list[Line]
    tags: dict[str, int]
    note: str | None = None


def noted(n: int, *, at: dt.datetime | None = None, event_id: UUID | None = None) -> NewEvent:
    return NewEvent(Noted(text=f"event {n}", n=n), event_id or uuid4(), at or T0 + dt.timedelta(seconds=n))


def batch(start: int, count: int) -> list[NewEvent]:
    return [noted(n) for n in range(start, start + count)]


async def read_everything(store: EventStore, page: int = 1000) -> list[RecordedEvent[DomainEvent]]:
    out: list[RecordedEvent[DomainEvent]] = []
    after = None
    while events := await store.read_all(after=after, limit=page):
        out.extend(events)
        after = events[-1].position
    return out


STREAM_TYPE = "contract.Stream"

# (stream length before, expected version, accepted)
EXPECTATIONS: list[tuple[int, Expected, bool]] = [
    (0, 0, True),
    (0, ANY, True),
    (0, EXISTS, False),
    (0, 1, False),
    (0, 3, False),
    (3, 0, False),
    (3, ANY, True),
    (3, EXISTS, True),
    (3, 3, True),
    (3, 2, False),
    (3, 4, False),  # beyond the current version: must fail and never leave a hole
]


class EventStoreContract(PayloadContract, BoundaryContract, StreamTypeContract, StatefulContract, AtomicAppendContract):
    """Subclass and provide a ``store`` fixture that yields a fresh, open `EventStore`."""

    @pytest.fixture
    async def store(self) -> Any:  # pragma: no cover - bindings override it
        raise NotImplementedError("bind the contract: define a `store` fixture in the subclass")

    async def _stream(self, store: EventStore, length: int) -> str:
        stream_id = f"s-{uuid4()}"
        if length:
            await store.append(stream_id, batch(1, length), 0, stream_type=STREAM_TYPE)
        return stream_id

    # -- appending ----------------------------------------------------------------------------

    async def test_append_then_read_back(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 0)
        new = batch(1, 3)
        result = await store.append(stream_id, new, 0, stream_type=STREAM_TYPE)
        assert result.stream_id == stream_id
        assert result.version == 3
        events = await store.read(stream_id)
        assert [e.version for e in events] == [1, 2, 3]
        assert [e.event for e in events] == [n.event for n in new]
        assert [e.event_id for e in events] == [n.event_id for n in new]
        assert [e.timestamp for e in events] == [n.timestamp for n in new]
        assert all(e.stream_id == stream_id and e.event_type == "contract.Noted" for e in events)
        assert all(e.schema_version == 1 for e in events)
        assert events[-1].position == result.position

    @pytest.mark.parametrize(("length", "expected", "accepted"), EXPECTATIONS)
    async def test_expected_version(self, store: EventStore, length: int, expected: Expected, accepted: bool) -> None:
        stream_id = await self._stream(store, length)
        before = await read_everything(store)
        if accepted:
            result = await store.append(stream_id, batch(10, 2), expected, stream_type=STREAM_TYPE)
            assert result.version == length + 2
            assert [e.version for e in await store.read(stream_id)] == list(range(1, length + 3))
        else:
            with pytest.raises(ConcurrencyError) as raised:
                await store.append(stream_id, batch(10, 2), expected, stream_type=STREAM_TYPE)
            assert raised.value.stream_id == stream_id
            assert raised.value.expected == expected
            assert raised.value.actual == length
            assert [e.version for e in await store.read(stream_id)] == list(range(1, length + 1))
            assert await read_everything(store) == before

    async def test_a_stream_keeps_its_type(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 2)
        with pytest.raises(StreamTypeMismatch) as raised:
            await store.append(stream_id, batch(3, 1), 2, stream_type="contract.Other")
        assert (raised.value.given, raised.value.stored) == ("contract.Other", STREAM_TYPE)
        with pytest.raises(StreamTypeMismatch):
            await store.append(stream_id, batch(3, 1), ANY, stream_type="contract.Other")
        assert await store.stream_info(stream_id) == StreamInfo(stream_id, STREAM_TYPE, 2)
        assert await store.stream_info("no-such-stream") is None

    async def test_list_streams(self, store: EventStore) -> None:
        for name, stream_type, length in [("b", "contract.B", 1), ("a", "contract.A", 2), ("c", "contract.A", 3)]:
            await store.append(f"list-{name}", batch(1, length), 0, stream_type=stream_type)
        everything = await store.list_streams()
        assert everything == [
            StreamInfo("list-a", "contract.A", 2),
            StreamInfo("list-b", "contract.B", 1),
            StreamInfo("list-c", "contract.A", 3),
        ]
        assert [s.stream_id for s in await store.list_streams(stream_type="contract.A")] == ["list-a", "list-c"]
        first = await store.list_streams(limit=1)
        assert [s.stream_id for s in first] == ["list-a"]
        rest = await store.list_streams(after=first[-1].stream_id, limit=5)
        assert [s.stream_id for s in rest] == ["list-b", "list-c"]
        assert await store.list_streams(stream_type="contract.None") == []

    async def test_stream_version(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 3)
        assert await store.stream_version(stream_id) == 3
        assert await store.stream_version("no-such-stream") == 0

    async def test_empty_batch_checks_expectation_and_stores_nothing(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 2)
        result = await store.append(stream_id, [], 2, stream_type=STREAM_TYPE)
        assert result.version == 2
        with pytest.raises(ConcurrencyError):
            await store.append(stream_id, [], 5, stream_type=STREAM_TYPE)
        assert len(await store.read(stream_id)) == 2

    async def test_concurrent_appends_with_same_expectation_one_wins(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 1)
        outcomes = await asyncio.gather(
            *(store.append(stream_id, batch(100 + 10 * i, 3), 1, stream_type=STREAM_TYPE) for i in range(8)),
            return_exceptions=True,
        )
        wins = [o for o in outcomes if not isinstance(o, BaseException)]
        losses = [o for o in outcomes if isinstance(o, ConcurrencyError)]
        assert len(wins) == 1
        assert len(losses) == 7
        assert [e.version for e in await store.read(stream_id)] == [1, 2, 3, 4]

    # -- idempotency --------------------------------------------------------------------------

    async def test_exact_retry_is_idempotent(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 1)
        new = batch(2, 3)
        first = await store.append(stream_id, new, 1, stream_type=STREAM_TYPE)
        again = await store.append(stream_id, new, 1, stream_type=STREAM_TYPE)  # stale expectation: a retry
        assert again == first
        also = await store.append(stream_id, new, ANY, stream_type=STREAM_TYPE)
        assert also == first
        assert [e.version for e in await store.read(stream_id)] == [1, 2, 3, 4]
        assert len(await read_everything(store)) == 4

    async def test_retry_after_later_appends_still_returns_original(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 0)
        new = batch(1, 2)
        first = await store.append(stream_id, new, 0, stream_type=STREAM_TYPE)
        await store.append(stream_id, batch(3, 2), 2, stream_type=STREAM_TYPE)
        assert await store.append(stream_id, new, 0, stream_type=STREAM_TYPE) == first
        assert len(await store.read(stream_id)) == 4

    async def test_partly_reused_ids_rejected_whole(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 0)
        stored = batch(1, 2)
        await store.append(stream_id, stored, 0, stream_type=STREAM_TYPE)
        mixed = [stored[1], noted(3)]
        with pytest.raises(DuplicateEventId):
            await store.append(stream_id, mixed, ANY, stream_type=STREAM_TYPE)
        with pytest.raises(DuplicateEventId):
            await store.append(stream_id, mixed, 2, stream_type=STREAM_TYPE)
        assert [e.event_id for e in await store.read(stream_id)] == [e.event_id for e in stored]
        assert await store.get_event(mixed[1].event_id) is None

    async def test_reordered_retry_is_rejected(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 0)
        stored = batch(1, 2)
        await store.append(stream_id, stored, 0, stream_type=STREAM_TYPE)
        with pytest.raises(DuplicateEventId):
            await store.append(stream_id, stored[::-1], 0, stream_type=STREAM_TYPE)

    async def test_id_stored_in_another_stream_is_rejected(self, store: EventStore) -> None:
        one = await self._stream(store, 0)
        other = await self._stream(store, 0)
        event = noted(1)
        await store.append(one, [event], 0, stream_type=STREAM_TYPE)
        with pytest.raises(DuplicateEventId, match=r"stored in stream"):
            await store.append(other, [event], 0, stream_type=STREAM_TYPE)
        assert await store.read(other) == []

    async def test_same_id_twice_in_one_batch_is_rejected(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 0)
        event = noted(1)
        with pytest.raises(DuplicateEventId):
            await store.append(stream_id, [event, event], 0, stream_type=STREAM_TYPE)
        assert await store.read(stream_id) == []

    async def test_invalid_arguments(self, store: EventStore) -> None:
        with pytest.raises(ValueError, match="expected_version"):
            await store.append("s", batch(1, 1), -1, stream_type=STREAM_TYPE)
        with pytest.raises(ValueError, match="stream_type"):
            await store.append("s", batch(1, 1), 0, stream_type="")
        with pytest.raises(ValueError, match="stream_id"):
            await store.append("", batch(1, 1), 0, stream_type=STREAM_TYPE)
        naive = NewEvent(Noted(text="x"), uuid4(), dt.datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="timezone"):
            await store.append("s", [naive], 0, stream_type=STREAM_TYPE)
        assert await store.read("s") == []

    # -- reading ------------------------------------------------------------------------------

    async def test_read_ranges(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 10)

        async def versions(**kwargs: Any) -> list[int]:
            return [e.version for e in await store.read(stream_id, **kwargs)]

        assert await versions() == list(range(1, 11))
        assert await versions(from_version=4) == list(range(4, 11))
        assert await versions(to_version=3) == [1, 2, 3]
        assert await versions(from_version=4, to_version=6) == [4, 5, 6]
        assert await versions(from_version=10, to_version=99) == [10]
        assert await versions(from_version=11) == []
        assert await store.read("no-such-stream") == []
        with pytest.raises(ValueError, match="from_version"):
            await store.read(stream_id, from_version=0)

    async def test_read_as_of(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 5)  # event n at T0 + n seconds

        async def versions(as_of: dt.datetime, **kwargs: Any) -> list[int]:
            return [e.version for e in await store.read(stream_id, as_of=as_of, **kwargs)]

        assert await versions(T0) == []  # before the first event
        assert await versions(T0 + dt.timedelta(seconds=1)) == [1]  # exactly on the first
        assert await versions(T0 + dt.timedelta(seconds=3, milliseconds=500)) == [1, 2, 3]  # between
        assert await versions(T0 + dt.timedelta(days=1)) == [1, 2, 3, 4, 5]  # after the last
        assert await versions(T0 + dt.timedelta(days=1), to_version=2) == [1, 2]
        # Any timezone is accepted and compared as the same instant.
        plus_two = dt.timezone(dt.timedelta(hours=2))
        assert await versions((T0 + dt.timedelta(seconds=2)).astimezone(plus_two)) == [1, 2]
        with pytest.raises(InvalidTimestamp):
            await store.read(stream_id, as_of=dt.datetime(2026, 1, 1))

    async def test_timestamps_are_utc_and_metadata_has_ids(self, store: EventStore) -> None:
        stream_id = f"s-{uuid4()}"
        cid = str(uuid4())
        plus_five = dt.timezone(dt.timedelta(hours=5))
        at = dt.datetime(2026, 3, 1, 17, 30, 0, 123456, tzinfo=plus_five)
        new = [
            NewEvent(Noted(text="a"), uuid4(), at, {"correlation_id": cid, "causation_id": cid, "user": "u1"}),
            NewEvent(Noted(text="b"), uuid4(), at),
        ]
        await store.append(stream_id, new, 0, stream_type=STREAM_TYPE)
        first, second = await store.read(stream_id)
        assert first.timestamp == at
        assert first.timestamp.utcoffset() == dt.timedelta(0)
        assert first.metadata["correlation_id"] == cid
        assert first.metadata["causation_id"] == cid
        assert first.metadata["user"] == "u1"
        assert second.metadata["correlation_id"] is None
        assert second.metadata["causation_id"] is None

    async def test_read_all_order_and_paging(self, store: EventStore) -> None:
        streams = [await self._stream(store, 0) for _ in range(4)]
        appended: list[UUID] = []
        for round_ in range(5):
            for i, stream_id in enumerate(streams):
                new = batch(100 * i + 10 * round_, 1 + (i + round_) % 3)
                version = await store.stream_version(stream_id)
                await store.append(stream_id, new, version, stream_type=STREAM_TYPE)
                appended.extend(e.event_id for e in new)
        everything = await read_everything(store, page=1000)
        for page in (1, 3, 7):
            paged = await read_everything(store, page=page)
            assert [e.event_id for e in paged] == [e.event_id for e in everything]
        assert sorted(e.event_id.hex for e in everything) == sorted(i.hex for i in appended)
        for stream_id in streams:  # per-stream order holds in the global log
            versions = [e.version for e in everything if e.stream_id == stream_id]
            assert versions == list(range(1, len(versions) + 1))
        if store.capabilities.total_order:
            assert [e.event_id for e in everything] == appended
        assert await store.read_all(after=everything[-1].position) == []
        # Position tokens are JSON-serialisable and work after a round trip (checkpoints store them so).
        middle = everything[len(everything) // 2].position
        restored = json.loads(json.dumps(middle))
        after_middle = await store.read_all(after=restored, limit=10_000)
        assert [e.event_id for e in after_middle] == [e.event_id for e in everything[len(everything) // 2 + 1 :]]
        with pytest.raises(ValueError, match="limit"):
            await store.read_all(limit=0)

    async def test_head_and_covers(self, store: EventStore) -> None:
        assert await store.head() is None
        assert store.covers(None, None)
        a, b = f"a-{uuid4()}", f"b-{uuid4()}"
        await store.append(a, batch(1, 2), 0, stream_type="contract.A")
        await store.append(b, batch(3, 2), 0, stream_type="contract.B")
        everything = await read_everything(store)
        assert await store.head() == everything[-1].position
        assert await store.head(stream_types=["contract.A"]) == everything[1].position
        assert await store.head(stream_types=["contract.None"]) is None
        positions = [e.position for e in everything]
        for i, checkpoint in enumerate(positions):
            restored = json.loads(json.dumps(checkpoint))
            assert [store.covers(restored, p) for p in positions] == [j <= i for j in range(len(positions))]
            assert store.covers(checkpoint, None)
            assert not store.covers(None, checkpoint)

    async def test_read_all_filtered_by_stream_type(self, store: EventStore) -> None:
        a, b = f"a-{uuid4()}", f"b-{uuid4()}"
        await store.append(a, batch(1, 3), 0, stream_type="contract.A")
        await store.append(b, batch(4, 2), 0, stream_type="contract.B")
        await store.append(a, batch(6, 1), 3, stream_type="contract.A")
        only_b = await store.read_all(stream_types=["contract.B"])
        assert [(e.stream_id, e.version) for e in only_b] == [(b, 1), (b, 2)]
        only_a = await store.read_all(stream_types=["contract.A"], limit=2)
        assert [(e.stream_id, e.version) for e in only_a] == [(a, 1), (a, 2)]
        rest = await store.read_all(stream_types=["contract.A"], after=only_a[-1].position)
        assert [(e.stream_id, e.version) for e in rest] == [(a, 3), (a, 4)]
        both = await store.read_all(stream_types=["contract.A", "contract.B"])
        assert len(both) == 6

    async def test_get_event(self, store: EventStore) -> None:
        stream_id = await self._stream(store, 0)
        new = batch(1, 2)
        await store.append(stream_id, new, 0, stream_type=STREAM_TYPE)
        found = await store.get_event(new[1].event_id)
        assert found is not None
        assert (found.stream_id, found.version, found.event) == (stream_id, 2, new[1].event)
        assert await store.get_event(uuid4()) is None

    # -- payloads and types ---------------------------------------------------------------------

    async def test_payload_types_round_trip(self, store: EventStore) -> None:
        event = Rich(
            amount=Decimal("12345.6789"),
            at=dt.datetime(2026, 5, 4, 3, 2, 1, 999, tzinfo=dt.UTC),
            ref=uuid4(),
            colour=Colour.BLUE,
            lines=[Line(sku="a", quantity=1), Line(sku="b", quantity=2)],
            tags={"x": 1},
        )
        stream_id = f"s-{uuid4()}"
        await store.append(stream_id, [NewEvent(event, uuid4(), T0)], 0, stream_type=STREAM_TYPE)
        (read,) = await store.read(stream_id)
        assert read.event == event
        assert isinstance(read.event.amount, Decimal)

    async def test_unknown_event_type_is_a_clear_error(self, store: EventStore) -> None:
        name = f"contract.gone.{uuid4().hex}"

        class Gone(DomainEvent):
            event_type = name
            x: int

        stream_id = f"s-{uuid4()}"
        await store.append(stream_id, [NewEvent(Gone(x=1), uuid4(), T0)], 0, stream_type=STREAM_TYPE)
        events_registry.forget(name)  # as if the code that declared it were gone
        with pytest.raises(UnknownEventType, match=name):
            await store.read(stream_id)
        with pytest.raises(UnknownEventType, match=name):
            await read_everything(store)

    async def test_old_schema_versions_are_upcast_on_read(self, store: EventStore) -> None:
        name = f"contract.upcast.{uuid4().hex}"

        class Placed(DomainEvent):
            event_type = name
            amount: int

        stream_id = f"s-{uuid4()}"
        await store.append(stream_id, [NewEvent(Placed(amount=5), uuid4(), T0)], 0, stream_type=STREAM_TYPE)

        events_registry.forget(name)

        class PlacedV3(DomainEvent):
            event_type = name
            schema_version = 3
            amount_cents: int
            currency: str

        @upcaster(PlacedV3, from_version=1)
        def _cents(data: dict[str, Any]) -> dict[str, Any]:
            return {"amount_cents": data["amount"] * 100}

        @upcaster(PlacedV3, from_version=2)
        def _currency(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "currency": "EUR"}

        await store.append(
            stream_id, [NewEvent(PlacedV3(amount_cents=1, currency="USD"), uuid4(), T0)], 1, stream_type=STREAM_TYPE
        )
        old, new = await store.read(stream_id)
        assert old.event == PlacedV3(amount_cents=500, currency="EUR")
        assert old.schema_version == 1  # the record says what was stored; the event is current
        assert new.event == PlacedV3(amount_cents=1, currency="USD")
        assert new.schema_version == 3
        events_registry.forget(name)


def event_ids(events: Sequence[RecordedEvent[DomainEvent]]) -> list[UUID]:
    return [e.event_id for e in events]
