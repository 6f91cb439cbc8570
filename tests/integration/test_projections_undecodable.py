"""A stored event that does not decode (corrupt bytes, an unknown type) in the log a projection follows:
the projector stops exactly before it with a `PoisonEvent` naming it, or, with dead letters, records
it and moves on; the events around it are applied once. On SQLite, PostgreSQL (JSON and Avro) and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from eventsourcing import EventStore, NewEvent, SerializationError, open_store
from eventsourcing.projections import PoisonEvent, ProjectionRunner, SQLCheckpointStore
from eventsourcing.stores.kafka import KafkaEventStore
from eventsourcing.stores.kafka.envelope import TOKEN_HEADER, EventEntry, encode_envelope
from tests.integration.projections_worker import STREAM_TYPE, Counting, CountingWithDeadLetters, Ticked
from tests.integration.test_projections import T0, append, ticks, view_rows


@pytest.fixture(params=["sqlite", "postgresql-avro", "kafka"])
def backend(request: pytest.FixtureRequest) -> str:
    # The servers start here, outside the event loop of the async fixtures.
    if request.param == "postgresql-avro":
        request.getfixturevalue("postgres_url")
    if request.param == "kafka":
        request.getfixturevalue("kafka_bootstrap")
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.db'}"
        async with open_store(url) as store:
            yield store
    elif backend == "postgresql-avro":
        async with open_store(str(request.getfixturevalue("postgres_url")), codec="avro") as store:
            yield store
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        async with KafkaEventStore(bootstrap, prefix=f"t{uuid.uuid4().hex[:12]}", partitions=1) as store:
            yield store


async def append_undecodable(store: EventStore, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Store event 6 of stream ``p`` with a payload that does not decode; return its event id."""
    bad_id = uuid.uuid4()
    if backend == "kafka":
        assert isinstance(store, KafkaEventStore)
        # Well-formed (the index accepts only records a reader can decode as far as the log tells), but
        # not a Ticked: the store's Avro codec reads a JSON payload and the model refuses it.
        payload = b'{"n": "not a number"}'
        entry = EventEntry(bad_id.bytes, Ticked.event_type, 1, "2026-03-01T09:00:06.000000+00:00", None, payload)
        producer = AIOKafkaProducer(bootstrap_servers=request.getfixturevalue("kafka_bootstrap"))
        await producer.start()
        try:
            value = encode_envelope(STREAM_TYPE, 5, "avro", [entry])
            await producer.send_and_wait(
                store.topic_for(STREAM_TYPE), value, key=b"p", headers=[(TOKEN_HEADER, uuid.uuid4().bytes)]
            )
        finally:
            await producer.stop()
        await store.sync()
        return bad_id
    await append(store, "p", [NewEvent(Ticked(n=99), bad_id, T0)])
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(tmp_path / "events.db") as db:
            db.execute("UPDATE events SET payload = ? WHERE version = 6", (b'{"n": "not a number"}',))
    else:
        conn = await asyncpg.connect(str(request.getfixturevalue("postgres_url")))
        try:
            await conn.execute("UPDATE events SET payload = $1 WHERE version = 6", b"\x00\x00\x00\x00\x01\xff")
        finally:
            await conn.close()
    return bad_id


@pytest.mark.parametrize("batch_size", [1, 100])
async def test_an_undecodable_event_stops_the_projector_just_before_it(
    store: EventStore, backend: str, batch_size: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    first = await append(store, "p", ticks(5))
    bad_id = await append_undecodable(store, backend, tmp_path, request)
    await append(store, "p", ticks(3))
    async with (
        SQLCheckpointStore(f"sqlite:///{tmp_path / 'views.db'}") as views,
        ProjectionRunner(store, views, [Counting()], batch_size=batch_size) as runner,
    ):
        with pytest.raises(PoisonEvent) as caught:
            await runner.catch_up()
        error = caught.value
        assert (error.stream_id, error.version, error.event_id) == ("p", 6, bad_id)
        assert isinstance(error.__cause__, SerializationError)  # CorruptEvent, or UnknownSchema for a bad Avro id
        assert store.covers((await views.load("counting")).position, first.position)
        assert await view_rows(views) == {"p": 5}
        with pytest.raises(PoisonEvent):  # it stays stopped there
            await runner.catch_up()
        (status,) = await runner.status()
        assert status.state == "stopped" and str(bad_id) in (status.error or "")


async def test_an_undecodable_event_goes_to_the_dead_letters_when_configured(
    store: EventStore, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await append(store, "p", ticks(5))
    bad_id = await append_undecodable(store, backend, tmp_path, request)
    rest = await append(store, "p", ticks(3))
    async with (
        SQLCheckpointStore(f"sqlite:///{tmp_path / 'views.db'}") as views,
        ProjectionRunner(store, views, [CountingWithDeadLetters()], batch_size=4) as runner,
    ):
        assert await runner.catch_up() == 9
        assert await view_rows(views) == {"p": 8}
        (letter,) = await runner.dead_letters("counting-dl")
        assert (letter.event_id, letter.stream_id, letter.version) == (bad_id, "p", 6)
        assert letter.error.startswith(("CorruptEvent", "UnknownSchema"))
        assert store.covers((await views.load("counting-dl")).position, rest.position)
