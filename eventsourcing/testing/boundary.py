"""Contract: bad arguments get library errors that name them, and nothing is stored.

Every public entry point of a store (and `Repository.get`) raises an `EventSourcingError` for an
argument it cannot use: `InvalidArgument` and `InvalidTimestamp` (both `ValueError` subclasses) or
`SerializationError` (metadata), never a raw ``OverflowError``, ``TypeError``, ``AttributeError``
or ``ValueError`` from a driver or the standard library. Hypothesis throws arbitrary junk at the
version, limit and position arguments; tables list the cases that must be refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from eventsourcing.errors import (
    EventSourcingError,
    InvalidArgument,
    InvalidTimestamp,
    SerializationError,
)
from eventsourcing.events import DomainEvent, NewEvent
from eventsourcing.stores.base import EventStore
from eventsourcing.testing.payloads import run_examples

T2 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
BOUNDARY_STREAM = "contract.Boundary"
PLUS5, MINUS5 = dt.timezone(dt.timedelta(hours=5)), dt.timezone(dt.timedelta(hours=-5))


class Poked(DomainEvent):
    event_type = "contract.Poked"
    n: int = 0


def _new(**overrides: Any) -> NewEvent:
    fields: dict[str, Any] = {"event": Poked(n=1), "event_id": uuid4(), "timestamp": T2}
    fields.update(overrides)
    return NewEvent(**fields)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.text(max_size=5),
    st.lists(st.integers() | st.floats() | st.text(max_size=2), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers() | st.lists(st.integers(), max_size=3), max_size=2),
)
JUNK_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

# Tokens that no store issues: each must be refused with InvalidArgument naming the argument.
NEVER_POSITIONS: list[Any] = [
    -1,
    1.5,
    True,
    "5",
    2**70,
    [],
    [1.5, 2],
    [2**70, 1],
    [-1, 1],
    {"x": "y"},
    {"t/0": [2**70, 0]},
    [[]],
]


async def _refused(call: Awaitable[Any], error: type[Exception], named: str) -> None:
    with pytest.raises(error, match=re.escape(named)):
        await call


class BoundaryContract:
    """Mixed into `EventStoreContract`."""

    async def _log(self, store: EventStore) -> list[Any]:
        return [e.event_id for e in await store.read_all(limit=100_000)]

    async def test_bad_append_arguments_are_refused_by_name(self, store: EventStore) -> None:
        s: Any = store  # called with arguments of the wrong types on purpose
        add = BOUNDARY_STREAM
        await store.append("b-ok", [_new()], 0, stream_type=BOUNDARY_STREAM)
        before = await self._log(store)
        for expected in (1.5, 2**70, -1, "0", True, None):
            await _refused(
                s.append("b-1", [_new()], expected, stream_type=add),
                InvalidArgument,
                "expected_version",
            )
        for stream_id in ("", "a\x00b", "\ud800", 5, None):
            await _refused(s.append(stream_id, [_new()], 0, stream_type=add), InvalidArgument, "stream_id")
        for stream_type in ("", "t\x00", 7):
            await _refused(s.append("b-1", [_new()], 0, stream_type=stream_type), InvalidArgument, "stream_type")
        for event_id in ("not-a-uuid", str(uuid4()), 123, None):
            await _refused(
                store.append("b-1", [_new(event_id=event_id)], 0, stream_type=BOUNDARY_STREAM),
                InvalidArgument,
                "event_id",
            )
        await _refused(s.append("b-1", [_new(event="x")], 0, stream_type=add), InvalidArgument, "event")
        await _refused(s.append("b-1", "abc", 0, stream_type=add), InvalidArgument, "events")
        for timestamp in (
            dt.datetime(1, 1, 1, tzinfo=PLUS5),
            dt.datetime(9999, 12, 31, 23, 59, tzinfo=MINUS5),
            "2026-01-01T00:00:00+00:00",
            dt.datetime(2026, 1, 1),
            None,
        ):
            await _refused(
                store.append("b-1", [_new(timestamp=timestamp)], 0, stream_type=BOUNDARY_STREAM),
                InvalidTimestamp,
                "timestamp",
            )
        for metadata in ({"x": object()}, {"x": math.nan}, {"x": 10**5000}, "not a mapping", {"x": {1, 2}}):
            await _refused(
                store.append("b-1", [_new(metadata=metadata)], 0, stream_type=BOUNDARY_STREAM),
                SerializationError,
                "metadata",
            )
        assert await self._log(store) == before
        assert await store.stream_info("b-1") is None

    async def test_bad_read_arguments_are_refused_by_name(self, store: EventStore) -> None:
        s: Any = store  # called with arguments of the wrong types on purpose
        await store.append("r-1", [_new(), _new()], 0, stream_type=BOUNDARY_STREAM)
        for version in (0, -1, 1.5, "1", True, None):
            await _refused(s.read("r-1", from_version=version), InvalidArgument, "from_version")
        for version in (0, 1.5, "2", False):
            await _refused(s.read("r-1", to_version=version), InvalidArgument, "to_version")
        for as_of in (
            dt.datetime(1, 1, 1, tzinfo=PLUS5),
            dt.datetime(9999, 12, 31, 23, tzinfo=MINUS5),
            "2026-01-01",
            dt.datetime(2026, 1, 1),
        ):
            await _refused(s.read("r-1", as_of=as_of), InvalidTimestamp, "as_of")
        for stream_id in ("", "a\x00", "\udc00", 3):
            await _refused(s.read(stream_id), InvalidArgument, "stream_id")
            await _refused(s.stream_version(stream_id), InvalidArgument, "stream_id")
            await _refused(s.stream_info(stream_id), InvalidArgument, "stream_id")
        for limit in (0, -1, 1.5, True, "10", None):
            await _refused(s.read_all(limit=limit), InvalidArgument, "limit")
            await _refused(s.list_streams(limit=limit), InvalidArgument, "limit")
        for position in NEVER_POSITIONS:
            await _refused(s.read_all(after=position), InvalidArgument, "position")
        await _refused(s.read_all(stream_types="contract.Boundary"), InvalidArgument, "stream_types")
        await _refused(s.head(stream_types="contract.Boundary"), InvalidArgument, "stream_types")
        for event_id in ("x", str(uuid4()), 5):
            await _refused(s.get_event(event_id), InvalidArgument, "event_id")
        await _refused(s.list_streams(after=5), InvalidArgument, "after")
        await _refused(s.list_streams(stream_type=5), InvalidArgument, "stream_type")
        # Huge versions and limits are not errors: they mean "to the end".
        assert [e.version for e in await store.read("r-1", to_version=2**70)] == [1, 2]
        assert await store.read("r-1", from_version=2**70) == []
        assert len(await store.read_all(limit=2**70)) == 2
        last = (await store.read_all())[-1].position
        for junk in NEVER_POSITIONS:
            with pytest.raises(InvalidArgument):
                store.covers(junk, last)
            with pytest.raises(InvalidArgument):
                store.covers(last, junk)

    async def test_timestamps_at_the_calendar_edges_read_back(self, store: EventStore) -> None:
        first = dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)
        last = dt.datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=dt.UTC)
        evening = dt.datetime(9999, 12, 31, 18, tzinfo=dt.UTC).astimezone(PLUS5)
        edges = [first, first + dt.timedelta(microseconds=1), evening, last]
        await store.append("edge-1", [_new(timestamp=t) for t in edges], 0, stream_type=BOUNDARY_STREAM)
        assert [e.timestamp for e in await store.read("edge-1")] == edges
        assert [e.version for e in await store.read("edge-1", as_of=first)] == [1]
        assert [e.version for e in await store.read("edge-1", as_of=last)] == [1, 2, 3, 4]
        # The very first and last instants are refused (PostgreSQL's driver maps them to -infinity/infinity).
        for instant in (dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC)):
            with pytest.raises(InvalidTimestamp, match="timestamp"):
                await store.append("edge-2", [_new(timestamp=instant)], 0, stream_type=BOUNDARY_STREAM)
        assert await store.read("edge-2") == []

    async def test_read_all_after_a_negative_position_is_refused(self, store: EventStore) -> None:
        # The memory store once answered read_all(after=-1) with the last event only (a negative slice).
        await store.append("n-1", [_new(), _new(), _new()], 0, stream_type=BOUNDARY_STREAM)
        with pytest.raises(InvalidArgument, match="position"):
            await store.read_all(after=-1)

    async def test_junk_arguments_never_raise_raw_errors(self, store: EventStore) -> None:
        await store.append("j-1", [_new(), _new()], 0, stream_type=BOUNDARY_STREAM)
        calls: list[Callable[[Any], Awaitable[Any]]] = [
            lambda v: store.read("j-1", from_version=v),
            lambda v: store.read("j-1", to_version=v),
            lambda v: store.read("j-1", as_of=v),
            lambda v: store.read_all(after=v),
            lambda v: store.read_all(limit=v),
            lambda v: store.read_all(stream_types=v),
            lambda v: store.append("j-2", [_new()], v, stream_type=BOUNDARY_STREAM),
            lambda v: store.append("j-3", [_new(timestamp=v)], 0, stream_type=BOUNDARY_STREAM),
            lambda v: store.append("j-4", [_new(metadata={"v": v})], 0, stream_type=BOUNDARY_STREAM),
            lambda v: store.get_event(v),
            lambda v: store.stream_version(v),
            lambda v: store.list_streams(after=v),
        ]

        async def check(value: Any) -> None:
            for call in calls:
                with contextlib.suppress(EventSourcingError):
                    await call(value)
                with contextlib.suppress(EventSourcingError):
                    store.covers(value, value)

        await run_examples(check, JUNK, JUNK_SETTINGS)
        for stream_id in ("j-2", "j-3", "j-4"):  # whatever was accepted is readable
            for event in await store.read(stream_id):
                assert event.version >= 1
