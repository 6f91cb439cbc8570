"""The broker comes back empty (same address, its log gone), or the store is pointed at a cluster
that does not hold its index's topics: the store stops with `KafkaLogLost` and acknowledges nothing.

Each test runs a Tansu broker of its own (`KafkaBroker(own=True)`) and restarts it empty on the
same port, so a store's connections reach a broker whose partitions end before the offsets its
index has read (or whose topics do not exist at all).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from eventsourcing import DomainEvent, NewEvent, StoreError
from eventsourcing.stores.kafka import KafkaEventStore, KafkaLogLost
from tests.kafka_server import KafkaBroker

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TYPE = "it_lost.stream"


class Counted(DomainEvent):
    event_type = "it_lost.counted"
    n: int


def counted(n: int) -> list[NewEvent]:
    return [NewEvent(Counted(n=n), uuid4(), T0)]


@pytest.fixture
def broker() -> Iterator[KafkaBroker]:
    broker = KafkaBroker(own=True).start()
    try:
        yield broker
    finally:
        broker.stop()


async def _fill(store: KafkaEventStore, streams: int = 4, versions: int = 5) -> None:
    for s in range(streams):
        for v in range(versions):
            await store.append(f"s-{s}", counted(v), v, stream_type=TYPE)


async def test_appends_after_the_broker_came_back_empty_are_refused_and_never_acknowledged(
    broker: KafkaBroker,
) -> None:
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=2, request_timeout=5) as store:
        await _fill(store)
        broker.restart_empty()
        acknowledged = []
        errors: list[BaseException] = []
        for s in range(4):  # every stream, so every partition the index has read is tried
            try:
                acknowledged.append(await store.append(f"s-{s}", counted(5), 5, stream_type=TYPE))
            except StoreError as err:
                errors.append(err)
        assert acknowledged == []
        assert errors and isinstance(errors[-1], KafkaLogLost), errors
        assert "lost its data" in str(errors[-1])
        # Stopped for good: every later call says why, and nothing else is acknowledged.
        with pytest.raises(KafkaLogLost):
            await store.append("s-new", counted(0), 0, stream_type=TYPE)
        with pytest.raises(KafkaLogLost):
            await store.read("s-0")
        with pytest.raises(KafkaLogLost):
            await store.sync()


async def test_a_store_that_only_reads_stops_when_it_next_reads_the_log(broker: KafkaBroker) -> None:
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=2) as writer:
        await _fill(writer)
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", poll_interval=30) as reader:
        assert await reader.stream_version("s-0") == 5
        broker.restart_empty()
        with pytest.raises(KafkaLogLost, match="lost its data"):
            await reader.sync()
        with pytest.raises(KafkaLogLost):
            await reader.stream_version("s-0")


async def _read_until_it_fails(store: KafkaEventStore) -> None:
    """Read (from the index) until the store refuses: the poller found the log lost."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        await store.stream_version("s-0")
        assert asyncio.get_running_loop().time() < deadline, "the poller never noticed the empty broker"
        await asyncio.sleep(0.05)


async def test_the_poller_stops_an_idle_store_by_itself(broker: KafkaBroker) -> None:
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=2) as store:
        await _fill(store)
        broker.restart_empty()
        with pytest.raises(KafkaLogLost, match=r"missing on this broker|lost its data"):
            await _read_until_it_fails(store)


async def test_a_topic_recreated_with_fewer_records_than_the_index_read_stops_the_store(broker: KafkaBroker) -> None:
    """The high watermark is below the index's offset although the topic exists (someone recreated it).

    The store that reads has never produced (its producer would ask for the topic after the restart,
    which makes a broker that auto-creates topics create it with its own partition count)."""
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=1) as writer:
        await _fill(writer, streams=1)
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", poll_interval=30) as store:
        assert await store.stream_version("s-0") == 5
        broker.restart_empty()
        async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=1) as other:
            await other.append("s-9", counted(0), 0, stream_type=TYPE)  # the topic exists again, 1 record long
        with pytest.raises(
            KafkaLogLost, match=r"the log ends at offset 1, but this store's index has read it up to offset 5"
        ):
            await store.sync()


async def test_reopening_an_index_whose_topics_are_gone_says_so(broker: KafkaBroker, tmp_path: Path) -> None:
    index = str(tmp_path / "index.db")
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=2, index=index) as store:
        await _fill(store)
        topic = store.topic_for(TYPE)
    broker.restart_empty()
    with pytest.raises(KafkaLogLost) as caught:
        async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", index=index):
            pass
    message = str(caught.value)
    assert f"the topics of this index are missing on this broker ({topic})" in message
    assert "wrong broker" in message and "lost its data" in message
    assert "no leader" not in message


def _partition(stream_id: str, partitions: int) -> int:
    return int(murmur2(stream_id.encode()) & 0x7FFFFFFF) % partitions  # the producer's default partitioner


async def test_a_topic_back_with_more_partitions_never_acknowledges_a_stream_elsewhere(broker: KafkaBroker) -> None:
    stream = next(f"s-{n}" for n in range(100) if _partition(f"s-{n}", 2) != _partition(f"s-{n}", 3))
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=2, poll_interval=30) as store:
        for v in range(5):
            await store.append(stream, counted(v), v, stream_type=TYPE)
        broker.restart_empty()
        async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=3) as other:
            await other.append("x", counted(0), 0, stream_type=TYPE)  # the topic exists again, with 3 partitions
        with pytest.raises(KafkaLogLost):
            await store.append(stream, counted(5), 5, stream_type=TYPE)
        with pytest.raises(KafkaLogLost):
            await store.append(stream, counted(5), 5, stream_type=TYPE)


async def test_a_topic_back_with_another_partition_count_stops_a_reopened_store(
    broker: KafkaBroker, tmp_path: Path
) -> None:
    """Streams would move to other partitions, away from their history: the store must not go on."""
    index = str(tmp_path / "index.db")
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=2, index=index) as store:
        await _fill(store)
        topic = store.topic_for(TYPE)
    broker.restart_empty()
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=3) as other:
        await _fill(other, streams=8, versions=3)  # every partition longer than the old index read
    with pytest.raises(KafkaLogLost, match=f"partition count of topics this index has read changed \\({topic}: 2 → 3"):
        async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", index=index):
            pass


async def test_a_schemas_topic_gone_stops_the_store_before_it_writes_payloads_nobody_can_check(
    broker: KafkaBroker,
) -> None:
    """Without its schemas, every other reader finds this store's Avro payloads foreign: it must stop."""
    async with KafkaEventStore(broker.bootstrap_servers, prefix="lost", partitions=1, poll_interval=30) as store:
        await store.append("s-0", counted(0), 0, stream_type=TYPE)
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics(["lost-schemas"])
        finally:
            await admin.close()
        with pytest.raises(KafkaLogLost, match="lost-schemas"):
            await store.sync()
        with pytest.raises(KafkaLogLost):
            await store.append("s-0", counted(1), 1, stream_type=TYPE)
