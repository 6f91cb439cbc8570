"""The Kafka side of the Kafka event store: topics, produce and fetch, through aiokafka.

Fetches are issued directly (aiokafka's low-level client) rather than through a consumer, because
the store needs to control them: a writer that has just produced fetches its partition at once
instead of waiting for a long poll, and every fetch reports the partition's high watermark, which is
how the store knows where "the end of a partition" is (no ``end_offsets``, no consumer group, no
offset commits). Every aiokafka error is translated into the library's error tree here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    BrokerResponseError,
    KafkaConnectionError,
    KafkaError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    RecordTooLargeError,
)
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords

from eventsourcing.errors import AppendOutcomeUnknown, StoreError, StoreUnavailable
from eventsourcing.stores.kafka.errors import OffsetOutOfRange
from eventsourcing.stores.kafka.index import RawRecord

log = logging.getLogger(__name__)

_TOPIC_EXISTS = 36
_NO_ERROR = 0
_OFFSET_OUT_OF_RANGE = 1
_RETRIABLE_FETCH = {3, 6, 5}  # unknown topic or partition, not leader, leader not available


@dataclass(frozen=True, slots=True)
class Fetched:
    """A partition's part of a fetch response: its records from the fetch offset, and its high watermark."""

    high_watermark: int
    records: list[RawRecord]
    next_offset: int
    """The offset after the last record in the response, control records included (the fetch offset if none)."""


class KafkaLog:
    """Producer, admin client and fetch client of one store, started and stopped together."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "eventsourcing",
        idempotent: bool | None = None,
        max_record_bytes: int = 1_048_576,
        request_timeout_ms: int = 30_000,
        replication_factor: int | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.idempotent = idempotent
        self.max_record_bytes = max_record_bytes
        self.request_timeout_ms = request_timeout_ms
        self.replication_factor = replication_factor
        self._client: Any = None
        self._producer: Any = None
        self._admin: Any = None
        self._leaders: dict[tuple[str, int], int] = {}

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except (TimeoutError, KafkaConnectionError, NodeNotReadyError, ConnectionError, OSError) as err:
            raise StoreUnavailable(f"Kafka at {self.bootstrap_servers} is unreachable ({what}): {err}") from err
        except (MessageSizeTooLargeError, RecordTooLargeError) as err:
            raise self._too_large(what) from err
        except KafkaError as err:
            if type(err) is KafkaError or err.retriable:  # "unable to get cluster metadata", leader moves, ...
                raise StoreUnavailable(f"Kafka at {self.bootstrap_servers} is unavailable ({what}): {err}") from err
            raise StoreError(f"Kafka refused {what}: {type(err).__name__}: {err}") from err

    def _too_large(self, what: str) -> StoreError:
        return StoreError(
            f"{what}: the record is larger than the producer's limit of {self.max_record_bytes} bytes "
            "(one append is one record: append fewer events at once, or raise max_record_bytes and the "
            "topic's max.message.bytes)"
        )

    async def start(self) -> None:
        with self._translated("connecting"):
            self._client = AIOKafkaClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"{self.client_id}-fetch",
                request_timeout_ms=self.request_timeout_ms,
            )
            await self._client.bootstrap()
            self._admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"{self.client_id}-admin",
                request_timeout_ms=self.request_timeout_ms,
            )
            await self._admin.start()
            self._producer = await self._start_producer()

    async def _start_producer(self) -> Any:
        """An ``acks=all`` producer, idempotent where the broker supports it (``idempotent=None``)."""
        attempts = [True, False] if self.idempotent is None else [self.idempotent]
        quiet = _DropInitProducerId() if self.idempotent is None else None
        sender_log = logging.getLogger("aiokafka.producer.sender")
        if quiet is not None:  # a broker without the idempotent producer is expected, not an error to log
            sender_log.addFilter(quiet)
        try:
            return await self._try_producers(attempts)
        finally:
            if quiet is not None:
                sender_log.removeFilter(quiet)

    async def _try_producers(self, attempts: list[bool]) -> Any:
        for idempotent in attempts:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"{self.client_id}-produce",
                acks="all",
                enable_idempotence=idempotent,
                linger_ms=0,
                max_request_size=self.max_record_bytes,
                request_timeout_ms=self.request_timeout_ms,
            )
            try:
                await producer.start()
            except KafkaConnectionError:
                await producer.stop()
                raise
            except KafkaError as err:
                await producer.stop()
                if idempotent and len(attempts) > 1:
                    log.info("the broker does not support the idempotent producer (%s); event ids dedupe retries", err)
                    continue
                raise
            return producer
        raise AssertionError("unreachable")

    async def stop(self) -> None:
        for closer in (
            self._producer and self._producer.stop,
            self._admin and self._admin.close,
            self._client and self._client.close,
        ):
            if closer is not None:
                try:
                    await closer()
                except Exception as err:  # closing a broken connection: nothing left to save
                    log.debug("closing a Kafka client: %s", err)
        self._producer = self._admin = self._client = None

    # -- topics ---------------------------------------------------------------------------------

    async def topics(self, prefix: str) -> dict[str, int]:
        """Topics whose name starts with ``prefix``, with their partition counts (also refreshes leaders)."""
        try:
            with self._translated("listing topics"):
                cluster = await self._client.fetch_all_metadata()
        except StoreUnavailable:  # a connection a restarted broker closed fails once: a new one is made
            with self._translated("listing topics"):
                cluster = await self._client.fetch_all_metadata()
        found: dict[str, int] = {}
        for topic in cluster.topics():
            if topic.startswith(prefix):
                partitions = cluster.partitions_for_topic(topic) or set()
                found[topic] = len(partitions)
                for partition in partitions:
                    leader = cluster.leader_for_partition(TopicPartition(topic, partition))
                    if leader is not None and leader >= 0:
                        self._leaders[(topic, partition)] = leader
        return found

    async def create_topic(self, topic: str, partitions: int) -> None:
        """Create ``topic`` with infinite retention (no error if it exists), replicated
        ``replication_factor`` times (None: 3, or the number of brokers if fewer)."""
        replicas = self.replication_factor or min(3, max(1, len(self._client.cluster.brokers())))
        configs = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
        with self._translated(f"creating topic {topic!r}"):
            response = await self._admin.create_topics([NewTopic(topic, partitions, replicas, topic_configs=configs)])
        for name, code, message, *_ in response.topic_errors:
            if code not in (_NO_ERROR, _TOPIC_EXISTS):
                raise StoreError(f"Kafka refused to create topic {name!r}: error {code} {message or ''}".strip())

    # -- records --------------------------------------------------------------------------------

    async def produce(
        self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]], partition: int | None = None
    ) -> tuple[int, int]:
        """Send one record (to ``partition``, or where the producer's partitioner puts its key) and wait
        for the broker's acknowledgement: its (partition, offset).

        Only a refusal the broker (or the client, before sending) states for certain is a `StoreError`;
        any other failure — a timeout, a lost connection, a retriable broker error — may come after
        the record was appended, so it is `AppendOutcomeUnknown`: re-sending the same events settles it.
        """
        what = f"appending to topic {topic!r}"
        try:
            meta = await self._producer.send_and_wait(topic, value, key=key, headers=list(headers), partition=partition)
        except (MessageSizeTooLargeError, RecordTooLargeError) as err:
            raise self._too_large(what) from err
        except BrokerResponseError as err:
            if not err.retriable:  # the broker refused the record: it is not in the log
                raise StoreError(f"Kafka refused {what}: {type(err).__name__}: {err}") from err
            raise AppendOutcomeUnknown(key.decode(), f"{what}: {type(err).__name__}: {err}") from err
        except Exception as err:  # timeouts, connections closed after sending, the client's own failures
            raise AppendOutcomeUnknown(key.decode(), f"{what}: {type(err).__name__}: {err}") from err
        return int(meta.partition), int(meta.offset)

    async def fetch(
        self, offsets: Mapping[tuple[str, int], int], max_bytes: int = 8_388_608
    ) -> dict[tuple[str, int], Fetched]:
        """Fetch every partition in ``offsets`` from its offset: records at or after the offset, and each
        partition's high watermark. The broker answers at once when it has records and after 1 ms when
        it has none (a wait of 0 makes some brokers answer with no partitions at all)."""
        by_node: dict[int, dict[str, list[tuple[int, int, int]]]] = {}
        for (topic, partition), offset in offsets.items():
            node = self._leaders.get((topic, partition))
            if node is None:
                await self.topics(topic)
                node = self._leaders.get((topic, partition))
                if node is None:
                    raise StoreUnavailable(f"Kafka has no leader for {topic}/{partition}")
            by_node.setdefault(node, {}).setdefault(topic, []).append((partition, offset, max_bytes))
        with self._translated("reading"):
            responses = await asyncio.gather(
                *(
                    self._client.send(node, FetchRequest(1, 1, max_bytes, 0, list(topics.items())))
                    for node, topics in by_node.items()
                )
            )
        out: dict[tuple[str, int], Fetched] = {}
        stale = False
        for response in responses:
            for topic, partitions in response.topics:
                for partition, error_code, high_watermark, *data in partitions:
                    if error_code in _RETRIABLE_FETCH:
                        stale = True
                        continue
                    if error_code == _OFFSET_OUT_OF_RANGE:
                        raise OffsetOutOfRange(f"{topic}/{partition}", offsets[topic, partition])
                    if error_code != _NO_ERROR:
                        raise StoreError(f"Kafka refused a fetch of {topic}/{partition}: error code {error_code}")
                    start = offsets[topic, partition]
                    records, next_offset = _records(data[-1], start)
                    out[topic, partition] = Fetched(high_watermark, records, next_offset)
        if stale:
            await self.topics("")
        return out


class _DropInitProducerId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "InitProducerId" not in record.getMessage()


def _records(data: bytes | None, start: int) -> tuple[list[RawRecord], int]:
    """The data records at or after ``start`` in a fetched record set, and the offset after the last
    record of any kind (transaction markers are skipped but moved past)."""
    records: list[RawRecord] = []
    next_offset = start
    if not data:
        return records, next_offset
    batches = MemoryRecords(data)
    while batches.has_next():
        batch = batches.next_batch()
        if batch is None:
            break
        control = getattr(batch, "is_control_batch", False)
        for record in batch:
            if record.offset < start:
                continue
            next_offset = max(next_offset, record.offset + 1)
            if not control:
                headers = getattr(record, "headers", None) or []
                records.append(RawRecord(record.offset, record.key, record.value, headers))
    return records, next_offset
