"""`read_events` (the narrow read `Repository.get` rebuilds from) selects exactly what `read` does.

On memory and SQLite it is the store's own narrow read; on PostgreSQL `SQLEventStore` builds it from
`read`'s records.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventsourcing import CorruptEvent, EventStore, Repository, open_store
from eventsourcing.stores.replay import ReadsStreamEvents, StreamEvents
from eventsourcing.testing.contract import T0, batch
from tests.model import Cart


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with open_store(database_url) as store:
        yield store


async def as_read(store: EventStore, stream_id: str, **kwargs: Any) -> StreamEvents:
    records = await store.read(stream_id, **kwargs)
    if not records:
        return StreamEvents([], 0, None)
    created_on = records[0].timestamp if records[0].version == 1 else None  # the aggregate's `created_on`
    return StreamEvents([r.event for r in records], records[-1].version, records[-1].timestamp, None, created_on)


async def test_read_events_matches_read(store: EventStore) -> None:
    assert isinstance(store, ReadsStreamEvents)
    await store.append("s-1", batch(1, 5), 0, stream_type="tests.stream")  # event n at T0 + n seconds
    await store.append("s-2", batch(6, 2), 0, stream_type="tests.stream")
    cases: list[dict[str, Any]] = [
        {},
        {"from_version": 2},
        {"from_version": 5},
        {"from_version": 6},  # past the end
        {"to_version": 3},
        {"from_version": 2, "to_version": 4},
        {"as_of": T0},  # before the first event
        {"as_of": T0 + dt.timedelta(seconds=3, milliseconds=500)},
        {"as_of": T0 + dt.timedelta(days=1), "to_version": 2},
        {"from_version": 3, "as_of": T0 + dt.timedelta(seconds=4)},
        {"from_version": 4, "as_of": T0 + dt.timedelta(seconds=2)},  # nothing in range
    ]
    for kwargs in cases:
        got = await store.read_events("s-1", **kwargs)
        assert got._replace(stream_type=None) == await as_read(store, "s-1", **kwargs), kwargs
        assert got.stream_type in (None, "tests.stream") if got.events else got.stream_type is None
        assert got.timestamp is None or got.timestamp.tzinfo is not None
    assert await store.read_events("no-such-stream") == StreamEvents([], 0, None)
    assert [e.model_dump()["n"] for e in (await store.read_events("s-2")).events] == [6, 7]


async def test_read_events_checks_its_arguments(store: EventStore) -> None:
    assert isinstance(store, ReadsStreamEvents)
    with pytest.raises(ValueError, match="from_version"):
        await store.read_events("s-1", from_version=0)
    with pytest.raises(ValueError, match="to_version"):
        await store.read_events("s-1", from_version=3, to_version=2)


async def test_read_events_names_a_corrupt_event(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite:///{path}") as store:
        await store.append("s-1", batch(1, 3), 0, stream_type="tests.stream")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET payload = x'00' WHERE stream_id = 's-1' AND version = 2")
    async with open_store(f"sqlite:///{path}") as store:
        assert isinstance(store, ReadsStreamEvents)
        with pytest.raises(CorruptEvent, match=r"'s-1' version 2"):
            await store.read_events("s-1")
        assert (await store.read_events("s-1", to_version=1)).version == 1


async def test_a_forwarding_wrapper_keeps_seeing_the_repositorys_reads(tmp_path: Path) -> None:
    """A decorator that forwards unknown attributes is not bypassed through the inner store's read_events."""

    class Tracing:
        def __init__(self, inner: EventStore) -> None:
            self.inner, self.reads = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def read(self, stream_id: str, **kwargs: Any) -> Any:
            self.reads += 1
            return await self.inner.read(stream_id, **kwargs)

    async with open_store(f"sqlite:///{tmp_path / 'events.db'}") as inner:
        store = Tracing(inner)
        carts = Repository(Cart, store)  # type: ignore[arg-type]
        await carts.save(Cart.open("alice", "cart-1"))
        assert (await carts.get("cart-1")).customer_id == "alice"
        assert (await carts.get("cart-1", version=1)).version == 1
        assert store.reads == 2
