"""The Kafka store beyond the contract: several stores on one log, records it did not write, limits, outages."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from eventsourcing import (
    ConcurrencyError,
    ConfigurationError,
    DomainEvent,
    NewEvent,
    StoreError,
    StoreUnavailable,
    open_store,
)
from eventsourcing.stores.kafka import KafkaEventStore
from eventsourcing.stores.kafka.envelope import MAGIC

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TYPE = "it_kafka.stream"


class Said(DomainEvent):
    event_type = "it_kafka.said"
    text: str


def said(*texts: str) -> list[NewEvent]:
    return [NewEvent(Said(text=t), uuid4(), T0) for t in texts]


@pytest.fixture
def prefix() -> str:
    return f"t{uuid4().hex[:12]}"


@pytest.fixture
async def store(kafka_bootstrap: str, prefix: str) -> AsyncIterator[KafkaEventStore]:
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=2) as store:
        yield store


async def test_open_store_builds_a_kafka_store_from_its_url(kafka_bootstrap: str, tmp_path: Path) -> None:
    index = tmp_path / "index.db"
    url = f"kafka://{kafka_bootstrap}?prefix=t{uuid4().hex[:12]}&partitions=3&index={index}"
    async with open_store(url) as store:
        assert isinstance(store, KafkaEventStore)
        assert store.partitions == 3
        await store.append("s-1", said("a"), 0, stream_type=TYPE)
    assert index.exists()
    with pytest.raises(ConfigurationError, match="unknown parameter 'partitons'"):
        open_store(f"kafka://{kafka_bootstrap}?partitons=3")


async def test_another_store_sees_appends_by_polling_and_at_once_after_sync(
    store: KafkaEventStore, kafka_bootstrap: str, prefix: str
) -> None:
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, poll_interval=30) as other:  # no polling here
        await store.append("s-1", said("a", "b"), 0, stream_type=TYPE)
        await other.sync()
        assert [e.event.text for e in await other.read("s-1")] == ["a", "b"]
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as follower:
        await store.append("s-1", said("c"), 2, stream_type=TYPE)
        deadline = time.monotonic() + 5
        while await follower.stream_version("s-1") < 3:  # the poller reads it within its interval
            assert time.monotonic() < deadline, "the follower's poller never read the append"
            await asyncio.sleep(0.01)


async def test_two_stores_racing_on_one_stream_agree_on_the_winner(
    store: KafkaEventStore, kafka_bootstrap: str, prefix: str
) -> None:
    await store.append("s-1", said("start"), 0, stream_type=TYPE)
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as other:
        outcomes = await asyncio.gather(
            *(s.append("s-1", said(f"from {n}"), 1, stream_type=TYPE) for n, s in enumerate([store, other] * 4)),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(winners) == 1 and sum(isinstance(o, ConcurrencyError) for o in outcomes) == 7
        await store.sync()
        await other.sync()
        texts = [[e.event.text for e in await s.read("s-1")] for s in (store, other)]
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:
        texts.append([e.event.text for e in await fresh.read("s-1")])
    assert texts[0] == texts[1] == texts[2] and len(texts[0]) == 2


async def test_records_the_store_did_not_write_are_ignored(
    store: KafkaEventStore, kafka_bootstrap: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    await store.append("s-1", said("a"), 0, stream_type=TYPE)
    topic = store.topic_for(TYPE)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for key, value in [(b"s-1", b"not an envelope"), (None, b"no key"), (b"s-1", MAGIC + b"\xff\xff\xff\xff")]:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    with caplog.at_level(logging.WARNING, logger="eventsourcing.stores.kafka"):
        await store.sync()
        await store.append("s-1", said("b"), 1, stream_type=TYPE)
        async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:
            assert [e.event.text for e in await fresh.read("s-1")] == ["a", "b"]
    assert [e.event.text for e in await store.read("s-1")] == ["a", "b"]
    assert sum("ignored" in r.getMessage() for r in caplog.records) >= 3


async def test_an_append_too_large_for_one_record_is_refused_whole(kafka_bootstrap: str, prefix: str) -> None:
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, max_record_bytes=20_000) as store:
        with pytest.raises(StoreError, match="larger than the producer's limit"):
            await store.append("s-1", said(*("x" * 100 for _ in range(300))), 0, stream_type=TYPE)
        assert await store.read("s-1") == []
        await store.append("s-1", said("small"), 0, stream_type=TYPE)


async def test_an_unreachable_broker_is_a_clear_error_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        async with KafkaEventStore("127.0.0.1:1", prefix="t"):
            pass
    assert time.monotonic() - started < 10


async def test_the_file_index_is_reused_and_a_memory_index_rebuilt(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    index = str(tmp_path / "index.db")
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, index=index) as store:
        for n in range(5):
            await store.append(f"s-{n}", said("a", "b"), 0, stream_type=TYPE)
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, index=index) as again:
        assert len(await again.list_streams()) == 5
        await again.append("s-0", said("c"), 2, stream_type=TYPE)
        assert [e.version for e in await again.read("s-0")] == [1, 2, 3]
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as rebuilt:
        assert [e.version for e in await rebuilt.read("s-0")] == [1, 2, 3]


async def test_a_closed_store_refuses_to_work(kafka_bootstrap: str, prefix: str) -> None:
    store = KafkaEventStore(kafka_bootstrap, prefix=prefix)
    with pytest.raises(StoreError, match="not open"):
        await store.read("s-1")
    with pytest.raises(ValueError, match="not a Kafka store position"):
        async with store:
            await store.read_all(after=42)


async def test_the_confluent_wire_format_is_decodable_by_kafka_tooling(kafka_bootstrap: str, prefix: str) -> None:
    import io
    import json

    from aiokafka import AIOKafkaConsumer, TopicPartition
    from fastavro import parse_schema, schemaless_reader

    from eventsourcing.avro import schema_id

    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=1, wire_format="confluent") as store:
        await store.append("s-1", said("hello"), 0, stream_type=TYPE)
        await store.append("s-1", said("two", "at once"), 1, stream_type=TYPE)  # a batch: an envelope
        schemas = {schema_id(s): s for s in await store.stored_schemas()}
        assert [e.event.text for e in await store.read("s-1")] == ["hello", "two", "at once"]
        topic = store.topic_for(TYPE)
    # What a Confluent-style consumer does: magic byte, schema id, then the Avro body.
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek(TopicPartition(topic, 0), 0)
        records = [r for batch in (await consumer.getmany(timeout_ms=2000)).values() for r in batch]
    finally:
        await consumer.stop()
    value = records[0].value
    assert value[0] == 0
    writer = schemas[int.from_bytes(value[1:5], "big")]
    assert schemaless_reader(io.BytesIO(value[5:]), parse_schema(json.loads(json.dumps(writer))), None) == {
        "text": "hello"
    }
    assert dict(records[0].headers)["es-envelope"]
    assert records[1].value[:4] == MAGIC
