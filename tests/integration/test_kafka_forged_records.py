"""Well-formed records the store did not write (forged, or written by a broken client) are foreign.

Each case below is an envelope that decodes, produced on an event topic with a raw aiokafka
producer, at ``expected=ANY`` so that the concurrency rule alone would accept it. The index must
validate every record completely before accepting it and ignore such a record with a warning, as it
ignores plain garbage: the stream and ``read_all`` read as if it were not there, a fresh store (which
rebuilds its index from the log) agrees, and a later valid append works.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from eventsourcing import ANY, DomainEvent, NewEvent
from eventsourcing.avro import wire
from eventsourcing.stores.kafka import KafkaEventStore
from eventsourcing.stores.kafka.envelope import ENVELOPE_HEADER, EventEntry, encode_confluent, encode_envelope
from eventsourcing.stores.sql.rows import iso_utc

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TYPE = "it_forged.stream"


class Noted(DomainEvent):
    event_type = "it_forged.noted"
    text: str


@dataclass(frozen=True)
class Forged:
    """A record to produce: its key, value and headers."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def _entry(store: KafkaEventStore, **changes: object) -> EventEntry:
    """A valid entry of a `Noted` event encoded by ``store``'s codec, with ``changes`` applied."""
    entry = EventEntry(uuid4().bytes, Noted.event_type, 1, iso_utc(T0), None, store.codec.encode(Noted(text="forged")))
    return entry._replace(**changes)  # type: ignore[arg-type]


def _envelope(store: KafkaEventStore, *entries: EventEntry, stream_type: str = TYPE, codec: str = "") -> Forged:
    value = encode_envelope(stream_type, ANY, codec or store.codec.name, list(entries))
    return Forged(b"s-1", value, [])


def _json_store_entry(store: KafkaEventStore, payload: bytes) -> Forged:
    return _envelope(store, _entry(store, payload=payload), codec="json")


JSON = b'{"text": "forged"}'

CASES: dict[str, Callable[[KafkaEventStore], Forged]] = {
    "a payload that is not JSON": lambda s: _json_store_entry(s, b"not json"),
    "a JSON payload that is not an object": lambda s: _json_store_entry(s, b"[1, 2]"),
    "a payload that is not framed Avro": lambda s: _envelope(s, _entry(s, payload=b"\x07garbage")),
    "an Avro payload naming a schema nobody wrote": lambda s: _envelope(
        s, _entry(s, payload=wire.frame(12345, b"\x02a"))
    ),
    "an Avro body that does not decode with its schema": lambda s: _envelope(
        s,
        _entry(s, payload=wire.frame(s.codec.schema_id(Noted), b"\xff\xff\xff\xff\xff\x01")),  # type: ignore[attr-defined]
    ),
    "an Avro body with bytes after it": lambda s: _envelope(
        s, _entry(s, payload=s.codec.encode(Noted(text="x")) + b"\x00")
    ),
    "an Avro payload whose schema is another event type's": lambda s: _envelope(
        s, _entry(s, event_type="it_forged.other")
    ),
    "an Avro payload whose schema is another schema version's": lambda s: _envelope(s, _entry(s, schema_version=2)),
    "the timestamp not-a-time": lambda s: _envelope(s, _entry(s, timestamp="not-a-time")),
    "a timestamp without a timezone": lambda s: _envelope(s, _entry(s, timestamp="2026-01-01T00:00:00.000000")),
    "a timestamp in another zone than UTC": lambda s: _envelope(
        s, _entry(s, timestamp="2026-01-01T01:00:00.000000+01:00")
    ),
    "a 3-byte event id": lambda s: _envelope(s, _entry(s, event_id=b"abc")),
    "the same event id twice in one record": lambda s: _envelope(s, *[_entry(s, event_id=b"\x01" * 16)] * 2),
    "a stream type that is not the topic's": lambda s: _envelope(s, _entry(s), stream_type="it_forged.elsewhere"),
    "an empty event type": lambda s: _envelope(s, _entry(s, event_type="")),
    "schema version 0": lambda s: _envelope(s, _entry(s, schema_version=0)),
    # JSON payloads, so that no Avro schema's type or version can give these away:
    "schema version 2**70": lambda s: _envelope(s, _entry(s, schema_version=2**70, payload=JSON), codec="json"),
    "an event type with a lone surrogate": lambda s: _envelope(
        s, _entry(s, event_type="it_forged.\ud800", payload=JSON), codec="json"
    ),
    "a stream type with a lone surrogate": lambda s: _envelope(s, _entry(s), stream_type="it_forged.\ud800"),
    "a codec with a lone surrogate": lambda s: _envelope(s, _entry(s), codec="\ud800"),
    "metadata that is not JSON": lambda s: _envelope(s, _entry(s, metadata=b"{nope")),
    "metadata that is not a JSON object": lambda s: _envelope(s, _entry(s, metadata=b"[1]")),
    "a key that is not UTF-8": lambda s: Forged(b"s-1\xff", _envelope(s, _entry(s)).value, []),
    "a Confluent record with a bad timestamp": lambda s: _confluent(s, _entry(s, timestamp="yesterday")),
    "a Confluent record with a bad body": lambda s: _confluent(
        s,
        _entry(s, payload=wire.frame(s.codec.schema_id(Noted), b"\xff")),  # type: ignore[attr-defined]
    ),
}


def _confluent(store: KafkaEventStore, entry: EventEntry) -> Forged:
    header, value = encode_confluent(TYPE, ANY, entry)
    return Forged(b"s-1", value, [(ENVELOPE_HEADER, header)])


@pytest.fixture
def prefix() -> str:
    return f"t{uuid4().hex[:12]}"


@pytest.fixture
async def store(kafka_bootstrap: str, prefix: str) -> AsyncIterator[KafkaEventStore]:
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=1) as store:
        yield store


async def _produce(bootstrap: str, topic: str, forged: Forged) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, forged.value, key=forged.key, headers=forged.headers)
    finally:
        await producer.stop()


def _noted(text: str) -> list[NewEvent]:
    return [NewEvent(Noted(text=text), uuid4(), T0)]


async def _texts(store: KafkaEventStore) -> tuple[list[str], list[str]]:
    stream = [e.event.text for e in await store.read("s-1")]  # type: ignore[attr-defined]
    log = [e.event.text for e in await store.read_all()]  # type: ignore[attr-defined]
    return stream, log


@pytest.mark.parametrize("case", list(CASES))
async def test_a_forged_well_formed_record_is_foreign_and_poisons_nothing(
    case: str, store: KafkaEventStore, kafka_bootstrap: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    await store.append("s-1", _noted("a"), 0, stream_type=TYPE)
    with caplog.at_level(logging.WARNING, logger="eventsourcing.stores.kafka"):
        await _produce(kafka_bootstrap, store.topic_for(TYPE), CASES[case](store))
        await store.sync()
        assert await store.stream_version("s-1") == 1
        assert await _texts(store) == (["a"], ["a"])
        result = await store.append("s-1", _noted("b"), 1, stream_type=TYPE)
        assert result.version == 2
        async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:  # rebuilds its index from the log
            assert await _texts(fresh) == (["a", "b"], ["a", "b"])
            assert [s.stream_id for s in await fresh.list_streams()] == ["s-1"]
    assert await _texts(store) == (["a", "b"], ["a", "b"])
    assert any("ignored" in r.getMessage() for r in caplog.records), "the forged record was not reported"


class Renamed(DomainEvent):
    event_type = "it_forged.renamed"
    name: str


async def test_a_payload_naming_a_schema_another_writer_saved_is_read_after_loading_the_schemas(
    store: KafkaEventStore, kafka_bootstrap: str, prefix: str
) -> None:
    await store.append("s-1", _noted("a"), 0, stream_type=TYPE)
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, poll_interval=30) as other:
        # `other` writes a schema `store` has never seen; `store` meets it in the record first.
        await other.append("s-1", [NewEvent(Renamed(name="n"), uuid4(), T0)], 1, stream_type=TYPE)
    await store.sync()
    assert [e.event_type for e in await store.read("s-1")] == ["it_forged.noted", "it_forged.renamed"]


@pytest.mark.parametrize("stream_id", ["s-1", "s-new"])  # a stream with events, and one without
async def test_a_record_in_another_partition_than_its_stream_ids_is_foreign(
    stream_id: str, kafka_bootstrap: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The library puts a stream's records in the partition its id hashes to; a record elsewhere would
    split a stream across partitions, where readers could not agree on its history."""
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=2) as store:
        await store.append("s-1", _noted("a"), 0, stream_type=TYPE)
        topic = store.topic_for(TYPE)
        value = encode_envelope(TYPE, ANY, store.codec.name, [_entry(store)])
        elsewhere = 1 - (murmur2(stream_id.encode()) & 0x7FFFFFFF) % 2
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=stream_id.encode(), partition=elsewhere)
        finally:
            await producer.stop()
        with caplog.at_level(logging.WARNING, logger="eventsourcing.stores.kafka"):
            await store.sync()
            async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:
                assert await _texts(fresh) == (["a"], ["a"])
                assert await fresh.stream_version(stream_id) == (1 if stream_id == "s-1" else 0)
        assert await _texts(store) == (["a"], ["a"])
        await store.append(stream_id, _noted("b"), 1 if stream_id == "s-1" else 0, stream_type=TYPE)
        assert any("partition" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)


class Shadowed(DomainEvent):
    event_type = "it_forged.shadowed"
    text: str


async def test_a_forged_schema_record_keyed_with_a_schemas_id_hides_nothing(
    store: KafkaEventStore, kafka_bootstrap: str, prefix: str
) -> None:
    """Schemas are loaded by content: a record on the schemas topic that borrows a schema's id as its
    key, written before the schema itself, must not make the events of that schema foreign to readers
    while their writer acknowledged them."""
    from eventsourcing.avro import AvroCodec

    schema_id = AvroCodec().schema_id(Shadowed)
    await _produce(
        kafka_bootstrap, f"{prefix}-schemas", Forged(str(schema_id).encode(), b'{"type": "record", "x": 1}', [])
    )
    await store.append("s-1", [NewEvent(Shadowed(text="kept"), uuid4(), T0)], 0, stream_type=TYPE)
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:
        assert [e.event.text for e in await fresh.read("s-1")] == ["kept"]  # type: ignore[attr-defined]
