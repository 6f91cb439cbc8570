"""`Relay`: publishes chosen events of the log to a Kafka topic as public integration events.

::

    class OrderPlaced(DomainEvent):          # the public contract: its own name and schema
        event_type = "shop.order_placed"
        cart_id: str
        total_cents: int

    class ShopEvents(Relay):
        name = "shop-events"
        topic = "shop.orders"

        @on(Cart.CheckedOut)
        def checked_out(self, event: RecordedEvent[Cart.CheckedOut]) -> OrderPlaced | None:
            return OrderPlaced(cart_id=event.stream_id, total_cents=...)

    async with ShopEvents("127.0.0.1:9092") as relay, ProjectionRunner(store, views, [relay]) as runner:
        await runner.run()

The mapping is explicit: only events with a handler are published, as what the handler returns
(an integration event, a list of them, or None), so internal events never leak. A relay runs in
the `ProjectionRunner` like a projector — its checkpoint in the view database, one step at a
time, status, retries on outages — and works on any event store (SQL or Kafka).

Records are keyed by the source stream id (one stream, one partition: per-stream order), valued
with the integration event in Avro, in the Confluent wire format (a zero byte, the schema id in 4
bytes, the schemaless Avro body); each schema is written, before the first record that uses it,
to the topic ``<topic>-schemas`` (key: the schema id in decimal, value: the schema's JSON), so a
consumer with plain ``fastavro`` can decode every record. Headers: ``event-id`` (the integration
event's id, derived from the source event's id: the same at every re-publication),
``event-type``, ``source-stream-id``, ``source-version``, ``source-event-id``.

The guarantee, exactly: a page's records are produced (``acks=all``) and acknowledged before the
relay's checkpoint moves past them, so **no event is lost**. A crash, an outage or a second relay
of the same name re-publishes the records after the checkpoint, so **a record may appear more than
once, always with the same ``event-id``**: a consumer that skips ids it has applied sees each
integration event exactly once. Records of one stream appear in version order, with one exception:
when a publish fails half-way through a page, a later record of that page that the broker did
accept precedes the re-publication of the failed one; ``source-version`` lets an order-sensitive
consumer notice (a version below one it has applied, of an id it has not).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Self

from eventsourcing import ConfigurationError, DomainEvent, RecordedEvent, StoreUnavailable
from eventsourcing.projections.projector import Projector
from eventsourcing.projections.view import ViewBatch

__all__ = ["Relay", "integration_event_id"]


def integration_event_id(relay: str, source_event_id: uuid.UUID, index: int) -> uuid.UUID:
    """The ``event-id`` of the ``index``-th integration event relay ``relay`` publishes for a source event."""
    return uuid.uuid5(source_event_id, f"relay:{relay}:{index}")


class Relay(Projector):
    """Base class for relays. Subclass it, set ``name`` and ``topic``, declare ``@on`` handlers that
    take the recorded event and return the integration event(s) to publish (or None).

    Construct it with the Kafka bootstrap servers; open it (``async with relay:``) before the runner
    runs it. ``partitions`` is used when the relay creates its topic.
    """

    topic: ClassVar[str] = ""
    acknowledges = True  # its records, before each commit

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__async__ = True  # publishing is awaited

    def __init__(self, bootstrap_servers: str, *, partitions: int = 3, request_timeout: float = 30.0) -> None:
        if not self.topic:
            raise ConfigurationError(f"relay {self.name!r} has no topic: set the class attribute `topic`")
        from eventsourcing.avro import AvroCodec

        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
        self.request_timeout = request_timeout
        self.codec = AvroCodec()
        self._producer: Any = None
        self._published_schemas: set[int] = set()
        self._pending: list[asyncio.Future[Any]] = []

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, and create the topic and its schemas topic if they are missing."""
        try:
            from aiokafka import AIOKafkaProducer
            from aiokafka.admin import AIOKafkaAdminClient, NewTopic
            from aiokafka.errors import KafkaError, TopicAlreadyExistsError
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise ConfigurationError(
                "a Relay needs aiokafka: install the extra, `pip install 'async-eventsourcing[kafka]'`"
            ) from err
        timeout_ms = int(self.request_timeout * 1000)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=timeout_ms)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = [(self.topic, self.partitions), (f"{self.topic}-schemas", 1)]
            missing = [NewTopic(t, n, 1, topic_configs={"retention.ms": "-1"}) for t, n in wanted if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another relay process was first
                    await admin.create_topics(missing)
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                acks="all",
                linger_ms=2,
                request_timeout_ms=timeout_ms,
                client_id=f"relay-{self.name}",
            )
            await producer.start()
        except (KafkaError, OSError) as err:
            raise StoreUnavailable(f"relay {self.name!r}: Kafka at {self.bootstrap_servers}: {err}") from err
        finally:
            await admin.close()
        self._producer = producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        self._pending.clear()
        if producer is not None:
            await producer.stop()

    # -- what the runner calls ----------------------------------------------------------------------

    def wrap_handler(
        self, handler: Callable[..., Any], sends: Callable[[RecordedEvent[DomainEvent]], bool]
    ) -> Callable[[RecordedEvent[DomainEvent], ViewBatch], Awaitable[None]]:
        """``handler`` as the runner calls it: map the event, hand its integration events to the
        producer (acknowledged by `acknowledge`, before the batch commits) unless ``sends`` says no."""

        async def publish(event: RecordedEvent[DomainEvent], view: ViewBatch) -> None:
            result = handler(event)
            if result is None or not sends(event):
                return
            published = [result] if isinstance(result, DomainEvent) else list(result)
            for index, integration in enumerate(published):
                await self._send(event, integration, index)

        return publish

    async def acknowledge(self) -> None:
        """Wait for every record handed to the producer since the last call to be acknowledged."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise StoreUnavailable(
                f"relay {self.name!r}: {len(failed)} of {len(pending)} records were not acknowledged by Kafka "
                f"({type(failed[0]).__name__}: {failed[0]}); they are published again from the checkpoint"
            ) from failed[0]

    async def _send(self, source: RecordedEvent[DomainEvent], integration: DomainEvent, index: int) -> None:
        if self._producer is None:
            raise ConfigurationError(f"relay {self.name!r} is not open: use `async with relay:` before running it")
        cls = type(integration)
        schema_id = self.codec.schema_id(cls)
        try:
            if schema_id not in self._published_schemas:
                await self.acknowledge()  # records before the schema's first use, then the schema itself
                schema = json.dumps(self.codec.schema(cls), sort_keys=True).encode()
                await self._producer.send_and_wait(f"{self.topic}-schemas", schema, key=str(schema_id).encode())
                self._published_schemas.add(schema_id)
            event_id = integration_event_id(self.name, source.event_id, index)
            headers = [
                ("event-id", str(event_id).encode()),
                ("event-type", cls.event_type.encode()),
                ("source-stream-id", source.stream_id.encode()),
                ("source-version", str(source.version).encode()),
                ("source-event-id", str(source.event_id).encode()),
            ]
            future = await self._producer.send(
                self.topic, self.codec.encode(integration), key=source.stream_id.encode(), headers=headers
            )
        except StoreUnavailable:
            raise
        except Exception as err:
            if type(err).__module__.startswith("aiokafka"):
                raise StoreUnavailable(f"relay {self.name!r}: Kafka refused a record: {err}") from err
            raise
        self._pending.append(future)


def headers_of(record: Any) -> dict[str, str]:
    """A consumed record's headers as text (for consumers of a relay's topic)."""
    return {key: value.decode() for key, value in (record.headers or ())}


def integration_events(records: Sequence[Any], applied: set[str]) -> list[Any]:
    """The records whose ``event-id`` is not in ``applied`` (which this adds them to), in order:
    what a consumer that de-duplicates by id applies."""
    out = []
    for record in records:
        event_id = headers_of(record).get("event-id")
        if event_id is None or event_id in applied:
            continue
        applied.add(event_id)
        out.append(record)
    return out
