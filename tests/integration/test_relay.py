"""The relay: chosen events published to Kafka as integration events, Avro in the Confluent wire
format that plain fastavro decodes with the schema from the schemas topic, keyed by stream id, with
ids derived from the source events; and, with the relay SIGKILLed at random moments and restarted,
every integration event on the topic, each exactly once after de-duplication by id, in per-stream
order. On the test broker."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Column, MetaData, Table, Text

from eventsourcing import DomainEvent, RecordedEvent, SQLEventStore, clock, on
from eventsourcing.projections import PoisonEvent, ProjectionRunner, Projector, Relay, ViewBatch, integration_event_id
from eventsourcing.projections.relay import headers_of, integration_events
from eventsourcing.projections.topic import KafkaTopic
from tests.model import Cart, CheckOut, OpenCart, cart_bus

ROOT = Path(__file__).resolve().parents[2]


class OrderPlaced(DomainEvent):
    """The public contract: its own name, version and fields (no internal event leaks)."""

    event_type = "shop.order_placed"
    cart_id: str
    customer_id: str


class OrderEvents(Relay):
    name = "order-events"
    topic = "unset"  # each test sets its own

    @on(Cart.CheckedOut)
    def checked_out(self, event: RecordedEvent[Cart.CheckedOut]) -> OrderPlaced:
        return OrderPlaced(cart_id=event.stream_id, customer_id=event.metadata.get("customer", "?"))


def relay_class(topic: str) -> type[OrderEvents]:
    return type("TopicRelay", (OrderEvents,), {"topic": topic, "name": OrderEvents.name})


def event_id(record: Any) -> str:
    return headers_of(record)["event-id"]


async def consume(bootstrap: str, topic: str, expect_ids: int, key: Callable[[Any], Any] = event_id) -> list[Any]:
    """Every record of ``topic`` until ``expect_ids`` distinct keys (event ids) were seen (bounded wait)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[Any] = []
        seen: set[str] = set()
        deadline = clock.monotonic() + 60
        while len(seen) < expect_ids:
            assert clock.monotonic() < deadline, f"only {len(seen)} of {expect_ids} ids on {topic}"
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for record in batch:
                    records.append(record)
                    seen.add(key(record))
        return records
    finally:
        await consumer.stop()


async def schemas_of(bootstrap: str, topic: str) -> dict[int, Any]:
    records = await consume(bootstrap, f"{topic}-schemas", 1, lambda r: r.key)
    return {int(r.key): fastavro.parse_schema(json.loads(r.value)) for r in records}


def decode(value: bytes, schemas: dict[int, Any]) -> dict[str, Any]:
    assert value[0] == 0
    schema = schemas[int.from_bytes(value[1:5], "big")]
    return dict(fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, None))  # type: ignore[call-arg]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLEventStore]:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        yield store


async def checkout(store: SQLEventStore, carts: int) -> None:
    bus = cart_bus(store)
    for i in range(carts):
        await bus.dispatch(OpenCart(cart_id=f"cart-{i}", customer_id=f"c{i}"), customer=f"c{i}")
        await bus.dispatch(CheckOut(cart_id=f"cart-{i}"), customer=f"c{i}")


async def test_published_events_decode_with_plain_fastavro_and_carry_derived_ids(
    store: SQLEventStore, kafka_bootstrap: str, tmp_path: Path
) -> None:
    await checkout(store, 8)
    topic = f"relay-{uuid.uuid4().hex[:10]}"
    async with (
        relay_class(topic)(kafka_bootstrap) as relay,
        ProjectionRunner(store, f"sqlite:///{tmp_path / 'views.db'}", [relay], batch_size=5) as runner,
    ):
        assert await runner.catch_up() == 16  # opened + checked out per cart: only the latter is published
    records = await consume(kafka_bootstrap, topic, 8)
    schemas = await schemas_of(kafka_bootstrap, topic)
    checked_out = {e.stream_id: e for e in await store.read_all(limit=1000) if isinstance(e.event, Cart.CheckedOut)}
    assert len(records) == 8
    for record in records:
        headers = headers_of(record)
        source = checked_out[record.key.decode()]
        assert headers["event-type"] == "shop.order_placed"
        assert headers["event-id"] == str(integration_event_id("order-events", source.event_id, 0))
        assert (headers["source-stream-id"], int(headers["source-version"])) == (source.stream_id, source.version)
        assert decode(record.value, schemas) == {
            "cart_id": source.stream_id,
            "customer_id": source.metadata["customer"],
        }


CRASH_CARTS = 300
CRASH_KILLS = 10
CRASH_MAX_RUN = 25


@pytest.mark.slow
async def test_a_relay_killed_anywhere_loses_nothing_and_duplicates_only_by_id(
    store: SQLEventStore, kafka_bootstrap: str, tmp_path: Path
) -> None:
    await checkout(store, CRASH_CARTS)
    topic = f"relay-{uuid.uuid4().hex[:10]}"
    args = [str(tmp_path / "events.db"), str(tmp_path / "views.db"), kafka_bootstrap, topic, "7"]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.relay_worker", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    rng = random.Random(3)
    republished = 0  # records acknowledged by Kafka whose batch's commit a kill prevented
    for attempt in range(CRASH_KILLS):
        worker = start()
        assert worker.stdout is not None and worker.stdin is not None
        assert (await asyncio.to_thread(worker.stdout.readline)).strip() == b"ready", worker.communicate()
        # Kill it after a random number of mapped events, or (every other run) just after a batch's
        # records were acknowledged and before its checkpoint commits: they will be published again.
        taken, in_window = rng.randint(0, CRASH_MAX_RUN), attempt % 2 == 1
        while True:
            line = (await asyncio.to_thread(worker.stdout.readline)).strip()
            assert line, worker.communicate()
            if line == b"e":
                taken -= 1
                if taken <= 0 and not in_window:
                    break
            else:
                assert line.startswith(b"f "), line
                if taken <= 0 and in_window:
                    republished += int(line.split()[1])
                    break
                worker.stdin.write(b"go\n")
                worker.stdin.flush()
        os.kill(worker.pid, signal.SIGKILL)
        _out, err = worker.communicate()
        assert worker.returncode == -signal.SIGKILL, err.decode()
    worker = start()  # it waits after every acknowledged batch: let it go on each time
    _out, err = await asyncio.to_thread(worker.communicate, b"go\n" * CRASH_CARTS, 300)
    assert worker.returncode == 0, err.decode()
    assert republished > 0

    records = await consume(kafka_bootstrap, topic, CRASH_CARTS)
    applied: set[str] = set()
    unique = integration_events(records, applied)
    expected = {
        str(integration_event_id("order-events", e.event_id, 0)): e.stream_id
        for e in await store.read_all(limit=10_000)
        if isinstance(e.event, Cart.CheckedOut)
    }
    assert {headers_of(r)["event-id"]: r.key.decode() for r in unique} == expected
    # Per-stream order: one integration event per stream here, so check the partitions' order against
    # the source order instead: within a partition, first occurrences come in source-position order.
    log_order = {e.stream_id: i for i, e in enumerate(await store.read_all(limit=10_000))}
    by_partition: dict[int, list[int]] = {}
    for record in unique:
        by_partition.setdefault(record.partition, []).append(log_order[record.key.decode()])
    assert all(order == sorted(order) for order in by_partition.values())
    assert len(records) - len(unique) >= republished  # those were published again, with the same ids


# -- the consuming side: a projection of the topic ------------------------------------------------

placed = Table(
    "placed",
    MetaData(),
    Column("event_id", Text, primary_key=True),
    Column("cart_id", Text, nullable=False),
    Column("partition_offset", Text, nullable=False),
)


class Shipments(Projector):
    """One row per integration event: duplicates on the topic (same event-id) are applied once."""

    name = "shipments"
    tables = (placed,)

    @on(OrderPlaced)
    def order_placed(self, event: RecordedEvent[OrderPlaced], view: ViewBatch) -> None:
        view.execute(
            "INSERT INTO {placed} (event_id, cart_id, partition_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING",
            (str(event.event_id), event.event.cart_id, json.dumps(event.position, sort_keys=True)),
        )


class ForgivingShipments(Shipments):
    name = "shipments-dl"
    dead_letters = True


async def test_a_projection_of_the_topic_applies_each_record_once_and_stops_at_a_bad_one(
    store: SQLEventStore, kafka_bootstrap: str, tmp_path: Path
) -> None:
    await checkout(store, 12)
    topic = f"relay-{uuid.uuid4().hex[:10]}"
    relay_views = f"sqlite:///{tmp_path / 'relay-views.db'}"
    async with relay_class(topic)(kafka_bootstrap) as relay:
        async with ProjectionRunner(store, relay_views, [relay], batch_size=5) as runner:
            await runner.catch_up()
            await runner.views.reset("order-events")  # a restored backup, say
        async with ProjectionRunner(store, relay_views, [relay], batch_size=5) as runner:
            await runner.catch_up()  # every record published again: twice on the topic
    async with (
        KafkaTopic(kafka_bootstrap, topic) as source,
        ProjectionRunner(source, f"sqlite:///{tmp_path / 'shipping.db'}", [Shipments()], batch_size=7) as shipping,
    ):
        assert await shipping.catch_up() == 24
        rows = await shipping.views.fetch("SELECT cart_id FROM placed")
        assert sorted(r[0] for r in rows) == sorted(f"cart-{i}" for i in range(12))
        head = await source.head()
        assert source.covers((await shipping.views.load("shipments")).position, head)
        assert await shipping.catch_up() == 0  # nothing twice: the offsets are its checkpoint

        # A record that is not an integration event (no headers, not Avro): poison, or a dead letter.
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"not avro", key=b"cart-0")
        finally:
            await producer.stop()
        with pytest.raises(PoisonEvent):
            await shipping.catch_up()
    async with (
        KafkaTopic(kafka_bootstrap, topic) as source,
        ProjectionRunner(source, f"sqlite:///{tmp_path / 'shipping.db'}", [ForgivingShipments()]) as shipping,
    ):
        assert await shipping.catch_up() == 25
        (letter,) = await shipping.dead_letters("shipments-dl")
        assert letter.stream_id == "cart-0"
        assert len(await shipping.views.fetch("SELECT cart_id FROM placed")) == 12
