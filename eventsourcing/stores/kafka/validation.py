"""Whether a decoded record is an append this library could have written, checked before the rule.

Anyone with access to the cluster can produce on an event topic. A record that decodes as an
envelope is still *foreign* — ignored with a warning by every reader, as plain garbage is — unless
everything a later read needs holds: a UTF-8 stream id, a stream type whose topic is the record's,
16-byte event ids that are distinct, a non-empty event type, a schema version
of at least 1, a timestamp in the index's canonical UTC form (``2026-01-01T00:00:00.000000+00:00``:
the index compares timestamps as text for ``as_of``), metadata that is a JSON object, and payloads
that decode in the record's codec (a JSON object; framed Avro whose writer schema — of the same event
type and schema version — is on the schemas topic and decodes the whole body).

Every check depends on the log alone (the record, and the schemas topic written before it), never on
the event classes a process has declared, so every reader reaches the same verdict and the rule stays
deterministic. A payload that is well-formed but does not fit its class (a missing field, say) is
accepted and raises `CorruptEvent` when read, as on every store: whether it fits depends on the
classes of the reader. Payloads of codecs other than ``json`` and ``avro`` (a custom `Codec`) are
opaque to the index.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from io import BytesIO
from typing import Any, NamedTuple

from aiokafka.partitioner import murmur2
from pydantic_core import from_json

from eventsourcing.errors import ConfigurationError
from eventsourcing.stores.kafka.envelope import Envelope, EventEntry

_AVRO_MAGIC = 0
_AVRO_HEADER = 5  # magic byte + 4-byte schema id (eventsourcing.avro.wire, which needs fastavro to import)
# The form `iso_utc` writes; fromisoformat then checks the values (a 13th month, a 25th hour).
_MAX_SCHEMA_VERSION = 2**31 - 1  # what every store's schema_version column holds
_CANONICAL_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", re.ASCII).fullmatch


def partition_of(stream_id: bytes, partitions: int) -> int:
    """The partition of a stream id's records: the Java client's (and aiokafka's) murmur2 partitioner."""
    return (int(murmur2(stream_id)) & 0x7FFFFFFF) % partitions


class Foreign(ValueError):
    """The record is not an append this library wrote: the reason."""


class UnknownWriterSchema(Exception):
    """A payload names an Avro schema this process has not loaded: reload the schemas topic and decide
    again (a writer saves its schemas before the records that name them)."""

    def __init__(self, schema_id: int) -> None:
        super().__init__(f"Avro schema {schema_id} is not loaded")
        self.schema_id = schema_id


class _Writer(NamedTuple):
    parsed: Any
    event_type: str | None
    schema_version: int | None
    read: Callable[..., Any]  # fastavro's schemaless_reader, imported with the first schema


class WriterSchemas:
    """The Avro writer schemas payloads may name, by id: parsed once, with their event type and version."""

    def __init__(self, fallback: Callable[[int], Mapping[str, Any] | None] | None = None) -> None:
        self._parsed: dict[int, _Writer | None] = {}  # None: unusable schema
        self._fallback = fallback

    def add(self, schemas: Iterable[Mapping[str, Any]]) -> None:
        for schema in schemas:
            self._add(schema)

    def _add(self, schema: Mapping[str, Any]) -> int:
        try:
            from fastavro import schemaless_reader

            from eventsourcing.avro import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY, schema_id
            from eventsourcing.avro.nodes import parse, unsafe_reason
        except (ImportError, ConfigurationError) as err:  # without fastavro, Avro payloads cannot be read
            raise ConfigurationError(
                "the Kafka topics hold Avro payloads: reading them needs fastavro, "
                "pip install 'async-eventsourcing[kafka]'"
            ) from err
        try:
            key = schema_id(dict(schema))
        except Exception:  # not an Avro schema at all: no payload can name it
            return -1
        if key in self._parsed:
            return key
        try:
            parsed, named = parse(dict(schema))
            usable = unsafe_reason(parsed, named) is None
        except Exception:  # a schema that does not parse decodes nothing: payloads naming it are foreign
            usable = False
        event_type, version = schema.get(EVENT_TYPE_KEY), schema.get(SCHEMA_VERSION_KEY)
        self._parsed[key] = (
            _Writer(
                parsed,
                event_type if isinstance(event_type, str) else None,
                version if isinstance(version, int) else None,
                schemaless_reader,
            )
            if usable
            else None
        )
        return key

    def get(self, schema_id: int) -> _Writer | None:
        """The parsed schema of ``schema_id`` (None if unusable); `UnknownWriterSchema` if not loaded."""
        try:
            return self._parsed[schema_id]
        except KeyError:
            pass
        schema = None if self._fallback is None else self._fallback(schema_id)
        if schema is None:
            raise UnknownWriterSchema(schema_id)
        self._add(schema)
        return self._parsed.get(schema_id)


class RecordCheck:
    """Validates decoded records of the topics of one prefix (``topic_for``: stream type → topic)."""

    def __init__(self, topic_for: Callable[[str], str], schemas: WriterSchemas) -> None:
        self._topic_for = topic_for
        self._topics: dict[str, str] = {}
        self.schemas = schemas

    def stream_id(self, topic: str, key: bytes, envelope: Envelope, *, schemas_loaded: bool) -> str:
        """The record's stream id, if the record is valid; `Foreign` saying why not. With ``schemas_loaded``
        False, a payload naming an Avro schema not loaded yet raises `UnknownWriterSchema` instead."""
        try:
            stream_id = key.decode()
        except UnicodeDecodeError:
            raise Foreign("its key (the stream id) is not UTF-8") from None
        if not stream_id:
            raise Foreign("its key (the stream id) is empty")
        stream_type = envelope.stream_type
        if self._topics.get(stream_type) != topic:
            _check_text(stream_type, "its stream type")
            _check_text(envelope.codec, "its codec")
            expected_topic = self._topic_for(stream_type)
            if expected_topic != topic:
                raise Foreign(f"its stream type {stream_type[:100]!r} belongs on topic {expected_topic!r}")
            self._topics[stream_type] = topic  # only types found valid are remembered
        elif not envelope.codec.isascii():
            _check_text(envelope.codec, "its codec")
        events = envelope.events
        ids = {e.event_id for e in events}
        if len(ids) != len(events):
            raise Foreign("it holds the same event id twice")
        codec, schemas = envelope.codec, self.schemas
        checked: bytes | None = None  # the events of one append mostly share their metadata: parse it once
        for e in events:
            _check_event(e)
            metadata = e.metadata
            if metadata is not None and metadata != checked:
                _check_metadata(metadata)
                checked = metadata
            if codec == "json" or (codec == "avro" and e.payload[:1] == b"{"):  # Avro stores read JSON too
                _json_payload(e)
            elif codec == "avro":
                _avro_payload(e, schemas, schemas_loaded)
            # a custom codec's payloads are opaque here
        return stream_id


def _check_event(e: EventEntry) -> None:
    if len(e.event_id) != 16:
        raise Foreign(f"an event id is {len(e.event_id)} bytes long, not 16")
    if not e.event_type:
        raise Foreign("an event type is empty")
    if not e.event_type.isascii():
        _check_text(e.event_type, "an event type")
    if not 1 <= e.schema_version <= _MAX_SCHEMA_VERSION:
        raise Foreign(f"an event's schema version is {e.schema_version}, not between 1 and {_MAX_SCHEMA_VERSION}")
    ts = e.timestamp
    if _CANONICAL_UTC(ts) is None:
        raise Foreign(
            f"an event's timestamp {ts[:40]!r} is not in the canonical UTC form (2026-01-01T00:00:00.000000+00:00)"
        )
    try:
        dt.datetime.fromisoformat(ts)
    except ValueError:
        raise Foreign(f"an event's timestamp {ts!r} is not a valid time") from None


def _check_metadata(metadata: bytes) -> None:
    try:
        value = from_json(metadata)  # 8x faster than json.loads, and accepts nothing json.loads refuses
    except ValueError:
        try:  # json.loads reads it back (`EventMapper.decode_metadata`), and accepts a little more
            value = json.loads(metadata)
        except ValueError:
            raise Foreign("an event's metadata is not JSON") from None
    if type(value) is not dict:
        raise Foreign("an event's metadata is not a JSON object")


def _check_text(text: str, what: str) -> None:
    """Text the index can store: UTF-8 encodable (JSON can carry lone surrogates, which SQLite refuses)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise Foreign(f"{what} is not valid Unicode (a lone surrogate)") from None


def _json_payload(e: EventEntry) -> None:
    try:
        value = from_json(e.payload)  # pydantic-core's parser: the one that decodes it on read
    except ValueError:
        raise Foreign(f"the {e.event_type!r} payload is not JSON") from None
    if type(value) is not dict:
        raise Foreign(f"the {e.event_type!r} payload is not a JSON object")


def _avro_payload(e: EventEntry, schemas: WriterSchemas, schemas_loaded: bool) -> None:
    payload = e.payload
    if len(payload) < _AVRO_HEADER or payload[0] != _AVRO_MAGIC:
        raise Foreign(f"the {e.event_type!r} payload is neither JSON nor framed Avro")
    schema_id = int.from_bytes(payload[1:_AVRO_HEADER], "big")
    try:
        writer = schemas.get(schema_id)
    except UnknownWriterSchema:
        if not schemas_loaded:
            raise
        raise Foreign(
            f"the {e.event_type!r} payload names Avro schema {schema_id}, which is not on the schemas topic"
        ) from None
    if writer is None:
        raise Foreign(f"the {e.event_type!r} payload names Avro schema {schema_id}, which cannot decode")
    parsed, event_type, version, schemaless_reader = writer
    if (event_type is not None and event_type != e.event_type) or (version is not None and version != e.schema_version):
        raise Foreign(
            f"the {e.event_type!r} v{e.schema_version} payload names Avro schema {schema_id}, "
            f"of {event_type!r} v{version}"
        )
    buffer = BytesIO(payload)
    buffer.seek(_AVRO_HEADER)
    try:
        schemaless_reader(buffer, parsed, None)
    except Exception:  # fastavro on bytes that do not decode: EOFError, IndexError, ValueError, ...
        raise Foreign(f"the {e.event_type!r} payload does not decode with Avro schema {schema_id}") from None
    if buffer.tell() != len(payload):
        raise Foreign(f"the {e.event_type!r} payload has bytes after its Avro body")
