"""Avro payloads in real stores (SQLite, PostgreSQL, Kafka): schemas kept with the events, mixed JSON and
Avro histories, schema evolution by resolution and by upcasters, and precise errors for what cannot decode."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from eventsourcing import CorruptEvent, DomainEvent, NewEvent, open_store, upcaster
from eventsourcing.avro import UnknownSchema
from eventsourcing.avro.derive import EVENT_TYPE_KEY
from eventsourcing.registry import events_registry

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
TYPE = "it_avro.stream"


@pytest.fixture(params=["sqlite", "postgresql", "kafka"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}?prefix=t{uuid4().hex[:12]}&partitions=2"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def event_type() -> str:
    return f"it_avro.{uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def forget(event_type: str) -> Iterator[None]:
    yield
    events_registry.forget(event_type)


def declare(name: str, version: int = 1, **fields: Any) -> type[DomainEvent]:
    """A fresh event class named ``name`` (as after a deploy that changed it), replacing any before."""
    events_registry.forget(name)
    annotations = {key: value[0] for key, value in fields.items()}
    defaults = {key: value[1] for key, value in fields.items() if len(value) > 1}
    namespace = {"__annotations__": annotations, "event_type": name, "schema_version": version, **defaults}
    return type(f"E{version}", (DomainEvent,), namespace)


def new(event: DomainEvent) -> list[NewEvent]:
    return [NewEvent(event, uuid4(), T0)]


async def test_schemas_are_kept_with_the_events(url: str, event_type: str) -> None:
    Placed = declare(event_type, amount=(int,))
    async with open_store(url, codec="avro") as store:
        await store.append("s-1", new(Placed(amount=5)), 0, stream_type=TYPE)
        schemas = await store.stored_schemas()
        assert [s[EVENT_TYPE_KEY] for s in schemas if s.get(EVENT_TYPE_KEY) == event_type] == [event_type]
    async with open_store(url, codec="avro") as again:  # a new codec knows only what the store kept
        (read,) = await again.read("s-1")
        assert read.event == Placed(amount=5)


async def test_json_and_avro_histories_mix(url: str, event_type: str) -> None:
    Placed = declare(event_type, amount=(int,))
    async with open_store(url, codec="json") as store:
        await store.append("s-1", new(Placed(amount=1)), 0, stream_type=TYPE)
    async with open_store(url, codec="avro") as store:
        await store.append("s-1", new(Placed(amount=2)), 1, stream_type=TYPE)
        assert [e.event.amount for e in await store.read("s-1")] == [1, 2]
        assert [e.event.amount for e in await store.read_all()] == [1, 2]


async def test_a_schema_another_process_stored_later_is_loaded_when_met(url: str, event_type: str) -> None:
    async with open_store(url, codec="avro") as reader:
        await reader.read("nothing-yet")
        Placed = declare(event_type, amount=(int,))
        async with open_store(url, codec="avro") as writer:  # a second store: its own codec and registry
            await writer.append("s-1", new(Placed(amount=7)), 0, stream_type=TYPE)
        sync = getattr(reader, "sync", None)
        if sync is not None:
            await sync()
        reader.codec.registry._texts.clear()  # as if this process had never met the class itself
        reader.codec.registry._canonical.clear()
        reader.codec._readers.clear()
        reader.codec._writer_schemas.clear()
        assert [e.event.amount for e in await reader.read("s-1")] == [7]


async def test_compatible_changes_resolve_and_semantic_ones_upcast(url: str, event_type: str) -> None:
    V1 = declare(event_type, amount=(int,))
    async with open_store(url, codec="avro") as store:
        await store.append("s-1", new(V1(amount=5)), 0, stream_type=TYPE)
    # Deploy 2: a field added with a default, same schema version: Avro resolution fills it in.
    V1b = declare(event_type, amount=(int,), currency=(str, "EUR"))
    async with open_store(url, codec="avro") as store:
        assert (await store.read("s-1"))[0].event == V1b(amount=5, currency="EUR")
        await store.append("s-1", new(V1b(amount=6, currency="USD")), 1, stream_type=TYPE)
    # Deploy 3: a rename is semantic: version 2 with an upcaster from the version-1 payloads.
    V2 = declare(event_type, 2, cents=(int,), currency=(str,))

    @upcaster(V2, from_version=1)
    def _cents(data: dict[str, Any]) -> dict[str, Any]:
        return {"cents": data["amount"] * 100, "currency": data.get("currency", "EUR")}

    async with open_store(url, codec="avro") as store:
        await store.append("s-1", new(V2(cents=1, currency="GBP")), 2, stream_type=TYPE)
        assert [e.event for e in await store.read("s-1")] == [
            V2(cents=500, currency="EUR"),
            V2(cents=600, currency="USD"),
            V2(cents=1, currency="GBP"),
        ]


async def test_a_lost_schema_and_corrupt_bytes_are_precise_errors(tmp_path: Path, event_type: str) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    Placed = declare(event_type, amount=(int,))
    async with open_store(url, codec="avro") as store:
        await store.append("s-1", new(Placed(amount=5)), 0, stream_type=TYPE)
        await store.append("s-2", new(Placed(amount=6)), 0, stream_type=TYPE)
    db = sqlite3.connect(tmp_path / "events.db")
    (payload,) = db.execute("SELECT payload FROM events WHERE stream_id = 's-2'").fetchone()
    assert payload[:1] == b"\x00"  # Confluent framing: magic byte, then the schema id
    with db:
        db.execute("UPDATE events SET payload = ? WHERE stream_id = 's-2'", (payload[:-3],))
    async with open_store(url, codec="avro") as store:
        with pytest.raises(CorruptEvent, match=event_type):
            await store.read("s-2")
        assert [e.event.amount for e in await store.read("s-1")] == [5]  # the rest is untouched
    with db:
        db.execute("DELETE FROM event_schemas")
    db.close()
    events_registry.forget(event_type)
    declare(event_type, amount=(int,), note=(str, ""))  # the class moved on; the old schema is gone
    async with open_store(url, codec="avro") as store:
        with pytest.raises(UnknownSchema, match=event_type):
            await store.read("s-1")
