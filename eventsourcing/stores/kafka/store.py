"""`KafkaEventStore`: event streams on Kafka topics, with optimistic concurrency decided by log order.

- One topic per stream type (``<prefix>.<type>``) with a fixed partition count; the record key is
  the stream id, so a stream lives in one partition (the producer's murmur2 partitioner, as Java's).
- One record per append (`envelope`), so a batch is atomic without Kafka transactions.
- The store tails every topic of its prefix into a local index (`index.KafkaIndex`), which applies
  the acceptance rule in partition order. An append produces its record, then reads its partition
  up to that record and reports what the rule decided: the new version, `ConcurrencyError`,
  `DuplicateEventId`, or the original result of an exact retry.
- Reads (`read`, `read_all`, `get_event`, `stream_info`, `list_streams`, `head`) are served by the
  index. They include every append made through this store (an append returns only once it is
  indexed) and, from other writers, what the index has read: it reads to the end of every
  partition on `open` and on `sync`, and polls every ``poll_interval`` seconds in between.
- ``read_all`` is ordered within each partition; its position is a map ``{"topic/partition":
  [offset, index in record]}``, valid against any store on the same topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import logging
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Self
from uuid import UUID, uuid4

from eventsourcing.clock import monotonic
from eventsourcing.errors import (
    AppendOutcomeUnknown,
    ConfigurationError,
    EventSourcingError,
    InvalidArgument,
    StoreError,
    StoreUnavailable,
    UnsupportedOperation,
)
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import EventRegistry
from eventsourcing.serialization import Codec, EventMapper
from eventsourcing.stores.atomic import StreamAppend, check_stream_appends
from eventsourcing.stores.base import (
    MAX_POSITION,
    AppendResult,
    Expected,
    StoreCapabilities,
    StreamInfo,
    check_append_args,
    check_event_id,
    check_limit,
    check_list_args,
    check_read_args,
    check_stream_type,
    check_stream_types,
    check_text,
    conflict,
    resolve_retry,
    utc_timestamp,
)
from eventsourcing.stores.codecs import make_codec, schema_sync
from eventsourcing.stores.integrity import verify_read
from eventsourcing.stores.kafka.envelope import (
    ENVELOPE_HEADER,
    TOKEN_HEADER,
    EventEntry,
    encode_confluent,
    encode_envelope,
)
from eventsourcing.stores.kafka.errors import KafkaLogLost, OffsetOutOfRange
from eventsourcing.stores.kafka.index import EventRow, KafkaIndex, Outcome, Partition, Position, RawRecord
from eventsourcing.stores.kafka.log import Fetched, KafkaLog
from eventsourcing.stores.kafka.loss import (
    fetched_behind,
    gone_topics,
    log_lost,
    out_of_range,
    partitions_changed,
    topics_lost,
)
from eventsourcing.stores.kafka.schemas import KafkaSchemaStore
from eventsourcing.stores.kafka.validation import RecordCheck, UnknownWriterSchema, WriterSchemas, partition_of
from eventsourcing.stores.sql.rows import decode_rows, iso_utc

log = logging.getLogger(__name__)

_TOPIC_CHARS = re.compile(r"[^A-Za-z0-9._-]")
# Pauses before each new look at a partition that ends before the index's offset (None: the last look).
_SECOND_LOOKS = (0.1, 0.3, 0.9, 2.7, None)
_MAX_TOPIC = 249


class KafkaEventStore:
    """An event store on Kafka (``bootstrap_servers``: ``host:port[,host:port...]``).

    ``index`` is the path of the local SQLite index (None: in memory, read from the topics at every
    open). ``partitions`` is the partition count of the topics the store creates (existing topics
    keep theirs). ``codec``: ``"avro"`` (the default; schemas on the topic ``<prefix>-schemas``),
    ``"json"`` or a `Codec`; either way, histories written with JSON stay readable.
    ``wire_format="confluent"`` (Avro only) writes one-event appends so that Kafka tooling can decode
    them: the record's value is the event's framed Avro payload, the envelope travels in a header.
    """

    capabilities = StoreCapabilities(total_order=False, atomic_streams=False)

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        prefix: str = "events",
        partitions: int = 8,
        index: str | None = None,
        codec: Codec | str | None = None,
        registry: EventRegistry | None = None,
        poll_interval: float = 0.05,
        metadata_interval: float = 0.5,
        append_timeout: float = 30.0,
        request_timeout: float = 30.0,
        idempotent: bool | None = None,
        max_record_bytes: int = 1_048_576,
        replication_factor: int | None = None,
        wire_format: str = "envelope",
    ) -> None:
        if not prefix or _TOPIC_CHARS.search(prefix):
            raise ConfigurationError(f"Kafka topic prefix {prefix!r}: use letters, digits, '.', '_' and '-'")
        if partitions < 1:
            raise ConfigurationError("partitions must be at least 1")
        self.prefix = prefix
        self.partitions = partitions
        self.poll_interval = poll_interval
        self.metadata_interval = metadata_interval
        self.append_timeout = append_timeout
        self._mapper = EventMapper(make_codec(codec, default="avro", extra="kafka"), registry)
        self.codec = self._mapper.codec
        if wire_format not in ("envelope", "confluent"):
            raise ConfigurationError(f"wire_format must be 'envelope' or 'confluent', not {wire_format!r}")
        if wire_format == "confluent" and self.codec.name != "avro":
            raise ConfigurationError("the Confluent wire format needs the Avro codec (codec='avro')")
        self.wire_format = wire_format
        self._writer_schemas = WriterSchemas(self._saved_schema)
        self._index = KafkaIndex(index, check=RecordCheck(self.topic_for, self._writer_schemas))
        self._log = KafkaLog(
            bootstrap_servers,
            idempotent=idempotent,
            max_record_bytes=max_record_bytes,
            replication_factor=replication_factor,
            request_timeout_ms=int(request_timeout * 1000),
        )
        self._schema_topic = KafkaSchemaStore(self._log, f"{self.prefix}-schemas")
        self._schemas = schema_sync(self.codec, self.schema_store)
        self._topics: dict[str, int] = {}
        self._waiters: dict[bytes, asyncio.Future[Outcome]] = {}
        self._own: dict[str, dict[int, RawRecord]] = {}  # produced, not yet indexed: partition -> offset -> record
        self._producing = 0  # appends whose record is sent and not yet acknowledged
        self._fetching = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self._topics_read_at = 0.0
        self._opened = False
        self._lost: KafkaLogLost | None = None  # set once the log is found behind the index: the store stops

    def schema_store(self) -> KafkaSchemaStore:
        """Where this store keeps Avro schemas: the topic ``<prefix>-schemas``."""
        return self._schema_topic

    async def _load_schemas(self) -> None:
        """Read the schemas topic: for the codec (decoding) and for the index (validating payloads)."""
        try:
            schemas = await self._schema_topic.load_schemas()
        except KafkaLogLost as err:
            raise self._stop(err) from None
        self._writer_schemas.add(schemas)
        if self._schemas is not None:
            for schema in schemas:  # one by one: a record that is not a usable schema must not stop the rest
                try:
                    self._schemas.registry.load([schema])
                except ConfigurationError as err:
                    log.warning(
                        "%r: a record on the schemas topic is not a usable Avro schema (%s); ignored", self, err
                    )

    def _saved_schema(self, schema_id: int) -> Mapping[str, Any] | None:
        """A schema this store's codec saved on the schemas topic itself (so the index validates this
        store's own records without reading the topic back); None for any other id."""
        if self._schemas is None:
            return None
        registry = self._schemas.registry
        if schema_id not in registry or any(unsaved == schema_id for unsaved, _ in registry.unsaved()):
            return None
        return registry.get(schema_id)

    async def stored_schemas(self) -> list[Mapping[str, Any]]:
        """The Avro schemas on this store's schemas topic."""
        self._require_open()
        try:
            return await self._schema_topic.load_schemas()
        except KafkaLogLost as err:
            raise self._stop(err) from None

    def __repr__(self) -> str:
        return f"KafkaEventStore({self._log.bootstrap_servers!r}, prefix={self.prefix!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, open the index and read every event topic of the prefix to its end."""
        if self._opened:
            return
        self._index.open()
        try:
            await self._log.start()
            await self._load_schemas()
            await self.sync()
        except BaseException:
            await self._log.stop()
            self._index.close()
            raise
        self._opened = True
        self._poller = asyncio.create_task(self._poll(), name=f"{self!r} poller")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(StoreUnavailable("the Kafka store was closed before the append was read back"))
        await self._log.stop()
        self._index.close()
        self._opened = False

    # -- following the topics -------------------------------------------------------------------

    def topic_for(self, stream_type: str) -> str:
        """The topic of a stream type: ``<prefix>.<type>``, other characters replaced and a hash added."""
        name = f"{self.prefix}.{_TOPIC_CHARS.sub('_', stream_type)}"
        if name != f"{self.prefix}.{stream_type}" or len(name) > _MAX_TOPIC:
            digest = hashlib.sha1(stream_type.encode()).hexdigest()[:10]
            name = f"{name[: _MAX_TOPIC - 11]}-{digest}"
        return name

    async def _refresh_topics(self) -> None:
        found = await self._event_topics()
        # A partition the index has read records from must still be there, else the log is lost. A
        # topic with a topic-level error is left out of a metadata response: look twice before stopping.
        gone = self._gone(found)
        if gone:
            found = await self._event_topics()
            gone = self._gone(found)
        if gone:
            raise self._stop(topics_lost(gone, found))
        read = {p.topic for p in self._index.partitions.values() if p.next_offset}
        changed = partitions_changed(self._index.counts, found, read)
        if changed is not None:
            raise self._stop(changed)
        found.pop(self._schema_topic.topic, None)  # not an event topic: the index never reads it
        self._topics = found
        for topic, count in found.items():
            for partition in range(count):
                self._index.partition(topic, partition)
        self._topics_read_at = monotonic()

    async def _event_topics(self) -> dict[str, int]:
        """The event topics of the prefix with their partition counts, and the schemas topic if it is there."""
        listed = await self._log.topics(self.prefix)
        return {t: n for t, n in listed.items() if t.startswith(f"{self.prefix}.") or t == self._schema_topic.topic}

    def _gone(self, found: Mapping[str, int]) -> set[str]:
        gone = gone_topics(self._index.partitions.values(), found)
        if self._schema_topic.end and self._schema_topic.topic not in found:
            gone.add(self._schema_topic.topic)
        return gone

    def _present(self) -> list[Partition]:
        """The index's partitions that the cluster's metadata lists (the others cannot be fetched)."""
        topics = self._topics
        return [p for p in self._index.partitions.values() if p.partition < topics.get(p.topic, 0)]

    def _stop(self, err: KafkaLogLost) -> KafkaLogLost:
        """Stop the store for good (the log no longer holds what the index has read): the error to raise."""
        if self._lost is None:
            self._lost = err
            log.error("%r: %s", self, err)
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(KafkaLogLost(str(err)))
        return KafkaLogLost(str(self._lost))

    async def _ensure_topic(self, topic: str) -> None:
        if topic in self._topics:
            return
        await self._refresh_topics()
        if topic not in self._topics:
            await self._log.create_topic(topic, self.partitions)
            for _ in range(50):
                await self._refresh_topics()
                if topic in self._topics:
                    return
                await asyncio.sleep(0.02)
            raise StoreUnavailable(f"topic {topic!r} was created but does not appear in the cluster's metadata")

    async def _catch_up(self, parts: Sequence[Partition]) -> bool:
        """One fetch of ``parts`` from their next offsets, applied to the index; whether any has more.

        Fetches need no lock: applying skips what is already indexed, so two fetches of the same
        records (the poller's and a writer's) apply them once."""
        fetched = await self._fetch(parts)
        batches = []
        for part in parts:
            got = fetched.get((part.topic, part.partition))
            if got is not None:
                part.high_watermark = max(part.high_watermark, got.high_watermark)
                batches.append((part, got.records, got.next_offset))
        await self._apply(batches)
        return any(p.next_offset < p.high_watermark for p in parts)

    async def _fetch(self, parts: Sequence[Partition]) -> dict[tuple[str, int], Fetched]:
        """Fetch ``parts`` from their next offsets. A partition whose log ends before the offset asked
        for, or does not hold it, is asked again, with fresh metadata, for a few seconds (a leader that
        has just taken over may report an end that lags for a moment); still so, the log has lost what
        the index read, and the store stops before applying anything of the fetch."""
        offsets = {(p.topic, p.partition): p.next_offset for p in parts}
        problem = ""
        for pause in _SECOND_LOOKS:
            try:
                fetched = await self._log.fetch(offsets)
            except OffsetOutOfRange as err:
                problem = out_of_range(err.key, err.offset)
            else:
                behind = fetched_behind(offsets, fetched)
                if behind is None:
                    return fetched
                problem = behind
            if pause is None:
                break
            log.warning("%r: %s; looking again in %gs", self, problem, pause)
            await asyncio.sleep(pause)
            await self._log.topics("")  # fresh leaders
        raise self._stop(log_lost(problem))

    async def _read_up_to(self, part: Partition, offset: int) -> None:
        """Bring ``part`` in the index past ``offset`` (a writer's own record): by applying this process's
        own records if they come next, else by one fetch, shared by the writers waiting at that time."""
        async with self._fetching:  # writers queue here, and most find their record indexed meanwhile
            if part.next_offset > offset or await self._apply_own(part):
                return
            # Acknowledgements of one produce request reach their writers one by one: the record before
            # ours may be this process's, its writer not yet resumed. Let those writers run first.
            for _ in range(3):
                if not self._producing:
                    break
                await asyncio.sleep(0)
                if part.next_offset > offset or await self._apply_own(part):
                    return
            waiting = {p.key: p for key in self._own if (p := self._index.by_key.get(key)) is not None}
            waiting[part.key] = part
            await self._catch_up(list(waiting.values()))

    async def _apply(self, batches: Sequence[tuple[Partition, Sequence[RawRecord], int]]) -> None:
        """Apply fetched records to the index and hand writers their outcomes. A record naming an Avro
        schema not loaded yet (another process's new event class) makes it read the schemas topic
        once and decide again; a schema still missing then makes that record foreign."""
        with self._index_errors():
            try:
                outcomes = self._index.apply(batches)
            except UnknownWriterSchema as err:
                log.info("%r: a record names Avro schema %s: reading the schemas topic", self, err.schema_id)
                await self._load_schemas()
                outcomes = self._index.apply(batches, schemas_loaded=True)
        for token, outcome in outcomes.items():
            waiter = self._waiters.get(token)
            if waiter is not None and not waiter.done():
                waiter.set_result(outcome)

    async def _apply_own(self, part: Partition) -> bool:
        """Apply the records this store produced that come next in ``part``, without reading them back.

        The rule decides a record from the records before it in its partition; when all of those are
        in the index, the outcome of a record we wrote ourselves (acknowledged at that offset, so its
        bytes are ours) needs no fetch. Whether any was applied.
        """
        own = self._own.get(part.key)
        offset = part.next_offset
        run = []
        while own and offset in own:
            run.append(own.pop(offset))
            offset += 1
        if not run:
            return False
        await self._apply([(part, run, offset)])
        return True

    async def sync(self) -> None:
        """Read every event topic of the prefix to the end it has now (new topics included)."""
        if self._lost is not None:
            raise self._stop(self._lost)
        await self._refresh_topics()
        parts = self._present()
        if parts:
            while await self._catch_up(parts):
                pass

    async def _poll(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self.poll_interval if not failures else min(5.0, 0.1 * 2**failures))
            try:
                if monotonic() - self._topics_read_at > self.metadata_interval:
                    await self._refresh_topics()
                parts = self._present()
                more = bool(parts)
                while more:  # behind: read on until the end of every partition
                    more = await self._catch_up(parts)
                with self._index_errors():
                    self._index.flush()  # commit what writers and reads applied since the last poll
                failures = 0
            except asyncio.CancelledError:
                raise
            except KafkaLogLost:  # the store has stopped (and logged why)
                return
            except Exception as err:  # the poller must outlive a broker outage; writers see their own errors
                failures += 1
                log.warning("%r: reading the topics failed (%s); retrying", self, err)

    # -- appending ------------------------------------------------------------------------------

    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """An atomic append to one stream (more are refused: one Kafka record holds one stream's append)."""
        parts = check_stream_appends(appends)
        if len(parts) > 1:
            raise UnsupportedOperation(
                f"the Kafka store appends atomically to one stream only (one record per append), not "
                f"{len(parts)}: save them one by one and let a process (a Reactor) complete the others, or "
                "keep the changes that must be atomic in one aggregate; nothing was stored"
            )
        (part,) = parts
        return [await self.append(part.stream_id, part.events, part.expected_version, stream_type=part.stream_type)]

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: Expected, *, stream_type: str
    ) -> AppendResult:
        check_append_args(stream_id, events, expected_version, stream_type)
        self._require_open()
        if self._schemas is not None:
            await self._schemas.before_append(events)
        mapper = self._mapper
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
        # What the index already knows decides some appends without a record: an exact retry of an
        # indexed append, ids stored elsewhere, another type, a version the stream has passed.
        with self._index_errors():
            found = self._index.stored_refs([e.event_id for e in entries])
            info = self._index.stream_info(stream_id)
            home = self._index.stream_partition(stream_id)
        retry = resolve_retry(stream_id, [e.event_id for e in events], found)
        if retry is not None:
            return retry
        if info is not None:
            check_stream_type(stream_id, stream_type, info.stream_type)
            if isinstance(expected_version, int) and expected_version < info.version:
                raise conflict(stream_id, expected_version, info.version)
        topic = self.topic_for(stream_type)
        await self._ensure_topic(topic)
        token = uuid4().bytes
        headers = [(TOKEN_HEADER, token)]
        if self.wire_format == "confluent" and len(entries) == 1:
            header, value = encode_confluent(stream_type, expected_version, entries[0])
            headers.append((ENVELOPE_HEADER, header))
        else:
            value = encode_envelope(stream_type, expected_version, mapper.codec.name, entries)
        waiter: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiters[token] = waiter
        part: Partition | None = None
        offset = -1
        try:
            self._producing += 1
            try:
                key = stream_id.encode()  # partitioned here, by the count the index knows (and checks records by)
                partition, offset = await self._log.produce(
                    topic, key, value, headers, partition_of(key, self._index.counts[topic])
                )
            except AppendOutcomeUnknown:
                await self._explain_failure()
                raise
            finally:
                self._producing -= 1
            part = self._index.partition(topic, partition)
            if home is not None and home != part.id:
                raise self._stop(
                    log_lost(
                        f"stream {stream_id!r} has its events in {self._index.by_id[home].key}, but the broker "
                        f"acknowledged its append in {part.key}"
                    )
                )
            self._own.setdefault(part.key, {})[offset] = RawRecord(offset, stream_id.encode(), value, headers)
            outcome = await self._outcome(waiter, part, offset, stream_id)
        finally:
            del self._waiters[token]
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # retrieved: a store that stopped may have failed it while this writer raised
            if part is not None:
                self._own.get(part.key, {}).pop(offset, None)
        if isinstance(outcome, EventSourcingError):
            raise outcome
        return outcome

    async def _outcome(self, waiter: asyncio.Future[Outcome], part: Partition, offset: int, stream_id: str) -> Outcome:
        """Read ``part`` up to ``offset`` (the writer's own record) and return what the rule decided."""
        try:
            async with asyncio.timeout(self.append_timeout):
                while not waiter.done():
                    if part.next_offset > offset:  # applied, and its outcome is set with it
                        break
                    if not await self._apply_own(part):  # someone else's record comes first: read it
                        await self._read_up_to(part, offset)
        except TimeoutError:
            raise AppendOutcomeUnknown(
                stream_id,
                f"written to {part.key} at offset {offset} but not read back within {self.append_timeout:g}s",
            ) from None
        except StoreUnavailable as err:
            raise AppendOutcomeUnknown(stream_id, f"written to {part.key} at offset {offset}, then {err}") from err
        if not waiter.done():  # the index read past our offset without meeting our record there
            raise self._stop(
                log_lost(
                    f"{part.key}: the broker acknowledged an append at offset {offset}, where this store's index "
                    "had read another record"
                )
            )
        try:
            return waiter.result()
        except KafkaLogLost:
            raise
        except StoreUnavailable as err:  # the store was closed before the record was read back
            raise AppendOutcomeUnknown(stream_id, f"written to {part.key} at offset {offset}, then {err}") from err

    async def _explain_failure(self) -> None:
        """After a failed append: if the reason is a log that lost its data, stop the store and say so
        (a quick look: a broker that does not answer at once leaves the append's own error as it is)."""
        try:
            async with asyncio.timeout(1.0):
                await self._refresh_topics()
                parts = self._present()
                if parts:
                    await self._catch_up(parts)
        except KafkaLogLost:
            raise
        except (StoreError, TimeoutError) as err:
            log.debug("%r: after a failed append, the log could not be checked: %s", self, err)

    # -- reading --------------------------------------------------------------------------------

    async def read(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> list[RecordedEvent[DomainEvent]]:
        check_text(stream_id, "stream_id")
        first, last, as_of = check_read_args(from_version, to_version, as_of)
        self._require_open()
        with self._index_errors():
            rows = self._index.read(stream_id, first, last, None if as_of is None else iso_utc(as_of))
        end = rows[-1][4] if rows else 0
        await verify_read(
            stream_id,
            first,
            last,
            as_of,
            len(rows),
            end,
            head=functools.partial(self.stream_version, stream_id),
            versions=functools.partial(self._versions, stream_id),
        )
        return await self._decode(self._points(rows))

    async def _versions(self, stream_id: str, first: int, last: int) -> list[int]:
        with self._index_errors():
            return [row[4] for row in self._index.read(stream_id, first, last, None)]

    async def _decode(self, rows: list[tuple[Any, ...]]) -> list[RecordedEvent[DomainEvent]]:
        """Decode index rows; a payload naming a schema not loaded yet reloads the schemas once."""
        if self._schemas is None:
            return decode_rows(self._mapper, rows)

        async def decode() -> list[RecordedEvent[DomainEvent]]:
            return decode_rows(self._mapper, rows)

        return await self._schemas.reading(decode)

    async def read_all(
        self, *, after: Any = None, limit: int = 1000, stream_types: Sequence[str] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        limit = check_limit(limit)
        wanted = check_stream_types(stream_types)
        self._require_open()
        cursor = _position(after)
        with self._index_errors():
            rows = self._index.read_all(cursor, limit, wanted)
        by_id = self._index.by_id
        current = {key: list(value) for key, value in cursor.items()}
        decoded: list[tuple[Any, ...]] = []
        for part, offset, idx, *rest in rows:
            current[by_id[part].key] = [offset, idx]
            decoded.append(({k: list(v) for k, v in current.items()}, *rest))
        return await self._decode(decoded)

    async def get_event(self, event_id: UUID) -> RecordedEvent[DomainEvent] | None:
        check_event_id(event_id)
        self._require_open()
        with self._index_errors():
            row = self._index.get_event(event_id.bytes)
        return None if row is None else (await self._decode(self._points([row])))[0]

    async def head(self, *, stream_types: Sequence[str] | None = None) -> Any:
        wanted = check_stream_types(stream_types)
        self._require_open()
        with self._index_errors():
            return self._index.head(wanted)

    def covers(self, checkpoint: Any, position: Any) -> bool:
        if position is None:
            return True
        if checkpoint is None:
            return False
        done, wanted = _position(checkpoint, "checkpoint"), _position(position, "position")
        return all(key in done and done[key] >= point for key, point in wanted.items())

    async def stream_version(self, stream_id: str) -> int:
        info = await self.stream_info(stream_id)
        return 0 if info is None else info.version

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        check_text(stream_id, "stream_id")
        self._require_open()
        with self._index_errors():
            return self._index.stream_info(stream_id)

    async def list_streams(
        self, *, stream_type: str | None = None, after: str | None = None, limit: int = 1000
    ) -> list[StreamInfo]:
        limit = check_list_args(stream_type, after, limit)
        self._require_open()
        with self._index_errors():
            return self._index.list_streams(stream_type, after, limit)

    # -- helpers --------------------------------------------------------------------------------

    def _points(self, rows: Sequence[EventRow]) -> list[tuple[Any, ...]]:
        by_id = self._index.by_id
        return [({by_id[part].key: [offset, idx]}, *rest) for part, offset, idx, *rest in rows]

    def _require_open(self) -> None:
        if self._lost is not None:
            raise self._stop(self._lost)
        if not self._opened:
            raise StoreError(f"{self!r} is not open: use it as an async context manager or await open()")

    @contextlib.contextmanager
    def _index_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            raise StoreError(f"the Kafka store's index failed: {err}") from err


def _position(value: Any, what: str = "after") -> Position:
    """A read position from a token (as returned, or after a JSON round trip); {} for the start."""
    if value is None:
        return {}
    if isinstance(value, dict) and all(_is_point(key, point) for key, point in value.items()):
        return {key: [point[0], point[1]] for key, point in value.items()}
    raise InvalidArgument(
        f"{what} is not a Kafka store position: {value!r} (expected {{'topic/partition': [offset, index]}}, "
        "as read_all returns)"[:300]
    )


def _is_point(key: object, point: object) -> bool:
    return (
        isinstance(key, str)
        and key.rpartition("/")[2].isdigit()
        and isinstance(point, list | tuple)
        and len(point) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_POSITION for n in point)
    )
