"""`KafkaTopic`: a Kafka topic of integration events, read as a global log that projections and
reactors follow — the consuming side of a `Relay` (or of any producer that writes the same format).

::

    async with KafkaTopic("127.0.0.1:9092", "shop.orders") as orders, \\
               ProjectionRunner(orders, "sqlite:///shipping.db", [Shipments()]) as runner:
        await runner.run()

Exactly once per record: the runner commits each batch's view change and the topic's offsets (its
checkpoint, a map ``{"topic/partition": offset of the last record applied}``) in one transaction
of the view database, so nothing is committed to Kafka and the consumer group's offsets, had it
any, would be advisory. A restarted runner goes on from the offsets in the view database.

Records are what a `Relay` writes: the key is the source stream id, the value an Avro body in the
Confluent wire format whose writer schema is on ``<topic>-schemas``, the headers ``event-id``,
``event-type``, ``source-version``. The event type must be declared in this process (a
`DomainEvent` subclass with that ``event_type``; fields are resolved from the writer's schema, so
the consumer's class may be an older or newer version of the contract). A record that does not
decode (unknown type or schema, corrupt bytes, no headers) stops the projector just before it
with a `PoisonEvent`, or goes to the dead letters (``dead_letters = True``), like an undecodable
stored event. Duplicates that a relay published (same ``event-id``) are applied as records; a
projector that must apply each integration event once keeps the ids it applied (a primary key).

One process reads all partitions of the topic; sharing them between processes is the partitioned
projections' job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Self

from eventsourcing import ConfigurationError, DomainEvent, RecordedEvent, SerializationError, StoreUnavailable
from eventsourcing.avro.wire import schema_id_of
from eventsourcing.errors import locate
from eventsourcing.registry import events_registry

__all__ = ["KafkaTopic"]

_NAMESPACE = uuid.UUID("6f1d0a52-3c55-4a47-9b3c-0b0d8a4c7e11")  # ids of records without an event-id header


class KafkaTopic:
    """A topic read as a global log (see the module doc). ``fetch_wait`` bounds how long a read waits
    for records that are not there yet (seconds)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        schemas_topic: str | None = None,
        fetch_wait: float = 0.2,
        request_timeout: float = 30.0,
    ) -> None:
        from eventsourcing.avro import AvroCodec, MemorySchemaRegistry

        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.schemas_topic = schemas_topic or f"{topic}-schemas"
        self.fetch_wait = fetch_wait
        self.request_timeout = request_timeout
        self._registry = MemorySchemaRegistry()
        self.codec = AvroCodec(self._registry, read_json=False)
        self._decoders: dict[str, Callable[[bytes], DomainEvent]] = {}
        self._consumer: Any = None
        self._partitions: list[Any] = []
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        try:
            from aiokafka import AIOKafkaConsumer, TopicPartition
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise ConfigurationError(
                "reading a Kafka topic needs aiokafka: install the extra, `pip install 'async-eventsourcing[kafka]'`"
            ) from err
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=int(self.request_timeout * 1000),
        )
        try:
            await consumer.start()
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.topic)
        except Exception as err:
            await consumer.stop()
            raise StoreUnavailable(f"Kafka at {self.bootstrap_servers} is unreachable: {err}") from err
        if not partitions:
            await consumer.stop()
            raise ConfigurationError(f"Kafka at {self.bootstrap_servers} has no topic {self.topic!r}")
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(self._partitions)
        self._consumer = consumer
        await self._load_schemas()

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    # -- the GlobalLog protocol ----------------------------------------------------------------------

    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        """The records after ``after`` (a map of offsets), at most ``limit``: as many as the topic has
        now, up to its end (the high watermark of each partition)."""
        if stream_types is not None:
            raise ConfigurationError("a Kafka topic has no stream types: a projector of it reads every record")
        consumer = self._open()
        cursor: dict[str, int] = dict(after or {})
        async with self._lock:
            for tp in self._partitions:
                wanted = cursor.get(_key(tp), -1) + 1
                if await consumer.position(tp) != wanted:
                    consumer.seek(tp, wanted)
            records: list[Any] = []
            while len(records) < limit:
                try:
                    fetched = await consumer.getmany(
                        timeout_ms=int(self.fetch_wait * 1000), max_records=limit - len(records)
                    )
                except Exception as err:
                    raise StoreUnavailable(
                        f"reading {self.topic!r} from Kafka at {self.bootstrap_servers}: {err}"
                    ) from err
                for batch in fetched.values():
                    records.extend(batch)
                if not fetched and await self._at_end(consumer):
                    break
            if any((sid := _schema_id(r.value)) is not None and sid not in self._registry for r in records):
                await self._load_schemas()  # published since: a relay writes a schema before its first use
        return self._decode(records, cursor)

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        """The offset of the last record of each partition, by the high watermarks of the latest fetches
        (a read that has not fetched a partition yet asks the broker for its end offset)."""
        consumer = self._open()
        async with self._lock:
            ends = {tp: consumer.highwater(tp) for tp in self._partitions}
            unknown = [tp for tp, end in ends.items() if end is None]
            if unknown:
                ends.update(await consumer.end_offsets(unknown))
        head = {_key(tp): end - 1 for tp, end in ends.items() if end}
        return head or None

    def covers(self, checkpoint: Any, position: Any) -> bool:
        if position is None:
            return True
        if checkpoint is None:
            return False
        return all(checkpoint.get(key, -1) >= offset for key, offset in position.items())

    # -- internals ----------------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._consumer is None:
            raise StoreUnavailable(f"the Kafka topic {self.topic!r} is not open: use `async with topic:`")
        return self._consumer

    async def _at_end(self, consumer: Any) -> bool:
        for tp in self._partitions:
            high = consumer.highwater(tp)
            if high is None or await consumer.position(tp) < high:
                return False
        return True

    def _decode(self, records: list[Any], cursor: dict[str, int]) -> list[RecordedEvent[DomainEvent]]:
        out: list[RecordedEvent[DomainEvent]] = []
        decoders = self._decoders
        for record in records:
            key = f"{record.topic}/{record.partition}"
            cursor[key] = record.offset
            position = dict(cursor)
            metadata = {k: v.decode(errors="replace") for k, v in record.headers or ()}
            stream_id = (record.key or b"").decode(errors="replace") or key
            event_type = metadata.pop("event-type", "?")
            try:
                event_id = uuid.UUID(metadata.pop("event-id"))
            except (KeyError, ValueError):
                event_id = uuid.uuid5(_NAMESPACE, f"{key}@{record.offset}")
            version = _int(metadata.get("source-version"), record.offset + 1)
            try:
                decode = decoders.get(event_type) or self._decoder(event_type)
                event = decode(record.value or b"")
            except Exception as err:
                if not isinstance(err, SerializationError):
                    error = SerializationError(f"{self.topic}: a record of {event_type!r} does not decode: {err}")
                    error.__cause__ = err
                    err = error
                locate(
                    err,
                    stream_id=stream_id,
                    version=version,
                    position=position,
                    event_id=event_id,
                    event_type=event_type,
                    schema_version=0,
                    preceding=out,
                )
                raise err from err.__cause__
            timestamp = dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC)
            out.append(RecordedEvent(event, stream_id, version, position, timestamp, event_id, event_type, 1, metadata))
        return out

    def _decoder(self, event_type: str) -> Callable[[bytes], DomainEvent]:
        """The decoder of a declared event type (cached); `UnknownEventType` if none is declared."""
        decoder = self.codec.decoder(events_registry.resolve(event_type))
        self._decoders[event_type] = decoder
        return decoder

    async def _load_schemas(self) -> None:
        """Every schema on the schemas topic (read from its start to its end), into the codec's registry."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False)
        await reader.start()
        try:
            if not reader.partitions_for_topic(self.schemas_topic):
                await reader._client.force_metadata_update()
            if not reader.partitions_for_topic(self.schemas_topic):
                return
            tp = TopicPartition(self.schemas_topic, 0)
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            while True:
                fetched = await reader.getmany(tp, timeout_ms=int(self.fetch_wait * 1000))
                for record in fetched.get(tp, []):
                    try:
                        self._registry.register(json.loads(record.value or b""))
                    except (ValueError, TypeError):
                        continue  # not a schema: a reader of this record will say so
                high = reader.highwater(tp)
                if high is not None and await reader.position(tp) >= high:
                    break
        finally:
            await reader.stop()


def _key(tp: Any) -> str:
    return f"{tp.topic}/{tp.partition}"


def _schema_id(value: bytes | None) -> int | None:
    return schema_id_of(value or b"")


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
