"""Raw aiokafka anchors of the Kafka benchmark: the records our store writes, sent with its producer settings.

Every anchor sends exactly the record `KafkaEventStore.append` would produce for the same events (the
``ESK1`` envelope as the store encodes it, the stream id as key, a 16-byte ``es-token`` header) to a
topic with the same partition count, through an ``acks=all``, ``linger_ms=0`` producer that is
idempotent where the broker supports it (as the store's). So only what the store adds differs:
encoding, the index, and reading its own record back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError, KafkaError
from kafka_sizes import KafkaSizes
from model import NOTE, Account
from records import RAW, Measurement

from eventsourcing import NewEvent
from eventsourcing.serialization import Codec, EventMapper, JSONCodec
from eventsourcing.stores.base import utc_timestamp
from eventsourcing.stores.kafka.envelope import TOKEN_HEADER, EventEntry, encode_envelope
from eventsourcing.stores.sql.rows import iso_utc

Emit = Callable[[Measurement], None]
BACKEND = "kafka"
MAX_RECORD = 1_048_576
"""The store's default ``max_record_bytes`` (the producer's ``max_request_size``)."""

CODECS = ("avro", "json")
"""Payload codecs the bench can run with (the store's default first)."""


def mapper(codec: str) -> EventMapper:
    """A mapper with ``codec``, writing the payload bytes the store writes with it (an Avro payload
    names its schema by id; the id differs from the store's, its size does not)."""
    chosen: Codec
    if codec == "avro":
        from eventsourcing.avro import AvroCodec

        chosen = AvroCodec()
    elif codec == "json":
        chosen = JSONCodec()
    else:
        raise ValueError(f"unknown codec {codec!r}")
    return EventMapper(chosen)


def deposits(n: int, *, opened: bool = False) -> list[NewEvent]:
    """``n`` new events as `Account` emits them (an `Opened` first if ``opened``), fresh ids each call."""
    now = dt.datetime.now(dt.UTC)
    deposit = Account.Deposited(amount=1, note=NOTE)
    events = [NewEvent(deposit, uuid.uuid4(), now) for _ in range(n)]
    if opened and events:
        events[0] = NewEvent(Account.Opened(owner="owner"), events[0].event_id, now)
    return events


def envelope(events: Sequence[NewEvent], expected: int, mapper: EventMapper) -> bytes:
    """The record value `KafkaEventStore.append` produces for ``events`` (built as it builds it)."""
    entries = [
        EventEntry(
            e.event_id.bytes,
            e.event.event_type,
            e.event.schema_version,
            iso_utc(utc_timestamp(e.timestamp)),
            mapper.encode_metadata(e.metadata),
            mapper.encode(e.event),
        )
        for e in events
    ]
    return encode_envelope(Account.type_name, expected, mapper.codec.name, entries)


def record_size(events: int, codec: str) -> int:
    """Bytes of one record of ``events`` events (value, key and token header), as the store writes it."""
    value = envelope(deposits(events, opened=True), 0, mapper(codec))
    return len(value) + len(str(uuid.uuid4())) + len(TOKEN_HEADER) + 16


def _headers() -> list[tuple[str, bytes]]:
    return [(TOKEN_HEADER, uuid.uuid4().bytes)]


async def start_producer(bootstrap_servers: str) -> tuple[AIOKafkaProducer, bool]:
    """A producer with the store's settings, and whether it is idempotent (the broker may refuse that)."""
    for idempotent in (True, False):
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=0,
            max_request_size=MAX_RECORD,
        )
        try:
            await producer.start()
        except KafkaConnectionError:
            await producer.stop()
            raise
        except KafkaError:
            await producer.stop()
            if idempotent:
                continue
            raise
        return producer, idempotent
    raise AssertionError("unreachable")


async def create_topic(bootstrap_servers: str, topic: str, partitions: int) -> None:
    """``topic`` with the store's settings (infinite retention, replicated on up to 3 brokers)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers)
    await client.bootstrap()
    try:
        replicas = min(3, max(1, len((await client.fetch_all_metadata()).brokers())))
    finally:
        await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        configs = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
        await admin.create_topics([NewTopic(topic, partitions, replicas, topic_configs=configs)])
    finally:
        await admin.close()


def _ms(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


def emit_latencies(emit: Emit, impl: str, metric: str, latencies: list[float], rnd: int) -> None:
    """``<metric>_p50`` and ``<metric>_p99`` in milliseconds."""
    n = len(latencies)
    emit(Measurement(impl, BACKEND, f"{metric}_p50", statistics.median(latencies) * 1e3, "ms", n, rnd))
    emit(Measurement(impl, BACKEND, f"{metric}_p99", _ms(latencies, 0.99), "ms", n, rnd))


class RawAnchors:
    """The raw measures of one run, on a topic of their own (``<prefix>.bench.account``)."""

    def __init__(
        self, bootstrap_servers: str, prefix: str, sizes: KafkaSizes, emit: Emit, rnd: int, codec: str
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.mapper = mapper(codec)
        self.topic = f"{prefix}.{Account.type_name}"
        self.sizes = sizes
        self.emit = emit
        self.rnd = rnd
        self.idempotent = False

    def envelope(self, events: Sequence[NewEvent], expected: int) -> bytes:
        return envelope(events, expected, self.mapper)

    async def _producer(self) -> AIOKafkaProducer:
        await create_topic(self.bootstrap_servers, self.topic, 8)
        producer, self.idempotent = await start_producer(self.bootstrap_servers)
        for _ in range(20):  # warm-up: connections, metadata
            await producer.send_and_wait(self.topic, self.envelope(deposits(1), 0), key=b"warm-up", headers=_headers())
        return producer

    async def sequential(self) -> None:
        """One ``send_and_wait`` at a time of one-event records onto ``accounts`` keys, as the commands do."""
        s = self.sizes
        keys = [str(uuid.uuid4()).encode() for _ in range(s.accounts)]
        values = [self.envelope(deposits(1), 1 + i // s.accounts) for i in range(s.raw_sends)]
        producer = await self._producer()
        try:
            latencies = []
            started = time.perf_counter()
            for i, value in enumerate(values):
                t0 = time.perf_counter()
                await producer.send_and_wait(self.topic, value, key=keys[i % s.accounts], headers=_headers())
                latencies.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - started
        finally:
            await producer.stop()
        self.emit(Measurement(RAW, BACKEND, "command", s.raw_sends / elapsed, "rec/s", s.raw_sends, self.rnd))
        emit_latencies(self.emit, RAW, "command", latencies, self.rnd)

    async def concurrent(self) -> None:
        """``writers`` tasks, each doing ``send_and_wait`` one record at a time onto keys of its own."""
        s = self.sizes
        producer = await self._producer()
        latencies: list[float] = []

        async def writer(keys: list[bytes], values: list[bytes]) -> None:
            for i, value in enumerate(values):
                t0 = time.perf_counter()
                await producer.send_and_wait(self.topic, value, key=keys[i % len(keys)], headers=_headers())
                latencies.append(time.perf_counter() - t0)

        work = [
            (
                [str(uuid.uuid4()).encode() for _ in range(s.writer_streams)],
                [self.envelope(deposits(1), 1 + i // s.writer_streams) for i in range(s.writer_appends)],
            )
            for _ in range(s.writers)
        ]
        try:
            started = time.perf_counter()
            await asyncio.gather(*(writer(keys, values) for keys, values in work))
            elapsed = time.perf_counter() - started
        finally:
            await producer.stop()
        n = s.writer_total
        self.emit(Measurement(RAW, BACKEND, "writers", n / elapsed, "rec/s", n, self.rnd))
        emit_latencies(self.emit, RAW, "writers", latencies, self.rnd)

    async def pipelined(self) -> None:
        """Every record sent without waiting (aiokafka packs what queues up into batches per partition,
        one request per broker in flight), then every acknowledgement awaited: the produce ceiling."""
        s = self.sizes
        keys = [str(uuid.uuid4()).encode() for _ in range(s.writers * s.writer_streams)]
        values = [self.envelope(deposits(1), 1 + i // len(keys)) for i in range(s.pipelined)]
        producer = await self._producer()
        try:
            started = time.perf_counter()
            acks = [
                await producer.send(self.topic, value, key=keys[i % len(keys)], headers=_headers())
                for i, value in enumerate(values)
            ]
            await asyncio.gather(*acks)
            elapsed = time.perf_counter() - started
        finally:
            await producer.stop()
        self.emit(Measurement(RAW, BACKEND, "pipelined", s.pipelined / elapsed, "rec/s", s.pipelined, self.rnd))

    async def big_record(self) -> None:
        """``send_and_wait`` of one record holding ``batch`` events (the store's record of that append)."""
        s = self.sizes
        producer = await self._producer()
        try:
            times = []
            for _ in range(s.batch_reps):
                value = self.envelope(deposits(s.batch, opened=True), 0)
                key = str(uuid.uuid4()).encode()
                t0 = time.perf_counter()
                await producer.send_and_wait(self.topic, value, key=key, headers=_headers())
                times.append(time.perf_counter() - t0)
        finally:
            await producer.stop()
        rate = s.batch / statistics.median(times)
        self.emit(Measurement(RAW, BACKEND, "batch", rate, "ev/s", s.batch, self.rnd))


AREAS = ("command", "writers", "batch")


async def run(
    area: str, bootstrap_servers: str, prefix: str, sizes: KafkaSizes, emit: Emit, rnd: int, codec: str
) -> bool:
    """The raw anchors of one area; whether the producer was idempotent."""
    anchors = RawAnchors(bootstrap_servers, prefix, sizes, emit, rnd, codec)
    if area == "command":
        await anchors.sequential()
    elif area == "writers":
        await anchors.concurrent()
        await anchors.pipelined()
    elif area == "batch":
        await anchors.big_record()
    else:
        raise ValueError(f"no raw anchor for area {area!r}")
    return anchors.idempotent
