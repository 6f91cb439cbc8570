"""Contract: acknowledged means readable, for every payload type the codecs take.

Hypothesis draws event payloads from every type the codecs support, with the values that codecs
get wrong: floats including NaN and infinities, Decimals with huge exponents, ints around Python's
int-string digit limit, deeply nested lists, text with NUL and lone surrogates, datetimes at the
edges of the calendar in any offset. Each is appended to a fresh stream. The rule: an append that
is acknowledged reads back equal (``read`` and ``get_event``); one that is refused raises a
library error (`SerializationError` for payloads) and stores nothing.

Hypothesis runs in a worker thread and each example runs on the test's event loop, where the
store lives (`run_examples`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from eventsourcing.errors import EventSourcingError, SerializationError
from eventsourcing.events import DomainEvent, NewEvent
from eventsourcing.stores.base import EventStore

PAYLOAD_STREAM = "contract.Payloads"
T1 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class FloatPayload(DomainEvent):
    event_type = "contract.FloatPayload"
    x: float
    xs: list[float] = []


class DecimalPayload(DomainEvent):
    event_type = "contract.DecimalPayload"
    x: Decimal


class IntPayload(DomainEvent):
    event_type = "contract.IntPayload"
    x: int


class TextPayload(DomainEvent):
    event_type = "contract.TextPayload"
    x: str
    tags: dict[str, str] = {}


class TimePayload(DomainEvent):
    event_type = "contract.TimePayload"
    x: dt.datetime


class Item(BaseModel):
    name: str
    at: dt.datetime | None = None


class NestedPayload(DomainEvent):
    event_type = "contract.NestedPayload"
    items: list[Item]
    tree: list[Any] = []


class LoosePayload(DomainEvent):
    event_type = "contract.LoosePayload"
    x: Any


def nest(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


OFFSETS = st.sampled_from([dt.UTC, *(dt.timezone(dt.timedelta(hours=h)) for h in (-12, -5, 5, 14)), None])
EDGE_TIMES = st.sampled_from(
    [
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ]
)
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy", "\U0010ffff", "é\u200d👍"]
)
BIG_INTS = st.integers(4200, 4400).map(lambda n: 10**n - 1) | st.integers(4200, 4400).map(lambda n: -(10**n))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
DECIMALS = st.decimals(allow_nan=True, allow_infinity=True) | st.builds(
    lambda m, e: Decimal(f"{m}E{e}"), st.integers(-(10**30), 10**30), st.integers(-999_999, 999_999)
)
LOOSE = st.recursive(
    st.none() | st.booleans() | FLOATS | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def _made(cls: type[DomainEvent]) -> Callable[..., DomainEvent | None]:
    def make(**fields: Any) -> DomainEvent | None:
        try:
            return cls(**fields)
        except ValidationError:  # a value the model itself refuses (a NaN Decimal): nothing to append
            return None

    return make


PAYLOADS = st.one_of(
    st.builds(_made(FloatPayload), x=FLOATS, xs=st.lists(FLOATS, max_size=3)),
    st.builds(_made(DecimalPayload), x=DECIMALS),
    st.builds(_made(IntPayload), x=st.integers() | BIG_INTS),
    st.builds(_made(TextPayload), x=TEXT, tags=st.dictionaries(TEXT, TEXT, max_size=2)),
    st.builds(_made(TimePayload), x=st.datetimes(timezones=OFFSETS) | EDGE_TIMES),
    st.builds(
        _made(NestedPayload),
        items=st.lists(st.builds(Item, name=TEXT, at=st.none() | EDGE_TIMES), max_size=3),
        tree=st.integers(0, 400).map(nest),
    ),
    st.builds(_made(LoosePayload), x=LOOSE | st.integers(0, 400).map(nest)),
)

PAYLOAD_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


async def run_examples(check: Callable[[Any], Coroutine[Any, Any, None]], strategy: Any, config: settings) -> None:
    """Run hypothesis over ``strategy`` with ``check`` (a coroutine function) on this event loop."""
    loop = asyncio.get_running_loop()

    @config
    @given(strategy)
    def examples(value: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(value), loop).result()

    await asyncio.to_thread(examples)


class PayloadContract:
    """Mixed into `EventStoreContract`: acknowledged payloads read back equal, refused ones store nothing."""

    async def test_acknowledged_payloads_read_back_equal(self, store: EventStore) -> None:
        async def check(event: DomainEvent) -> None:
            await _check_round_trip(store, event)

        await run_examples(check, PAYLOADS.filter(lambda event: event is not None), PAYLOAD_SETTINGS)

    async def test_known_bad_payloads_are_refused(self, store: EventStore) -> None:
        bad: list[DomainEvent] = [
            FloatPayload(x=math.nan),
            FloatPayload(x=1.0, xs=[math.nan]),  # (infinities read back under Avro, not JSON: see the loose one)
            IntPayload(x=10**5000),
            TextPayload(x="\ud800"),
            LoosePayload(x=nest(300)),
            LoosePayload(x={"a": -math.inf}),
        ]
        for event in bad:
            stream_id = f"bad-{uuid4()}"
            new = NewEvent(event, uuid4(), T1)
            try:
                await store.append(stream_id, [new], 0, stream_type=PAYLOAD_STREAM)
            except SerializationError:
                pass
            else:
                raise AssertionError(f"{event!r} was acknowledged (codec {getattr(store, 'codec', None)!r})")
            assert await store.read(stream_id) == []
            assert await store.get_event(new.event_id) is None


async def _check_round_trip(store: EventStore, event: DomainEvent) -> None:
    stream_id = f"payload-{uuid4()}"
    new = NewEvent(event, uuid4(), T1)
    try:
        await store.append(stream_id, [new], 0, stream_type=PAYLOAD_STREAM)
    except EventSourcingError:
        assert await store.read(stream_id) == [], "a refused append stored something"
        assert await store.get_event(new.event_id) is None, "a refused append stored something"
        return
    (record,) = await store.read(stream_id)
    assert type(record.event) is type(event)
    assert record.event == event, f"acknowledged {event!r}, read back {record.event!r}"
    found = await store.get_event(new.event_id)
    assert found is not None and found.event == event
