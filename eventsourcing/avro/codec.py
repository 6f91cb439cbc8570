"""`AvroCodec`: event payloads as Avro binary (fastavro), framed with their writer schema's id.

Every payload is ``0x00`` + the writer schema id (4 bytes, big-endian: the Confluent wire format)
+ the schemaless Avro body. Reading looks the id up in the schema registry: the class's own schema
decodes directly; any other writer schema is resolved against the class's current schema by Avro's
rules (fastavro). Payloads that start with ``{`` are JSON (`JSONCodec`), so a store that switches
codecs keeps its older events readable.

Failures are always one of: `CorruptEvent` (bytes that do not decode: corrupt, truncated, trailing
bytes, values the model refuses), `UnknownSchema` (an id the registry does not hold) and
`SchemaMismatch` (a writer schema that cannot be resolved, or that is unsafe to decode), each
naming the event type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from pydantic_core import to_jsonable_python

from eventsourcing.avro import wire
from eventsourcing.avro.compatibility import check_schema
from eventsourcing.avro.defaults import to_native
from eventsourcing.avro.derive import EVENT_TYPE_KEY, Convert, derive
from eventsourcing.avro.errors import UnknownSchema
from eventsourcing.avro.nodes import Schema, parse, unsafe_reason
from eventsourcing.avro.registry import MemorySchemaRegistry, SchemaRegistry
from eventsourcing.errors import CorruptEvent, SchemaMismatch, SerializationError
from eventsourcing.events import DomainEvent
from eventsourcing.payload_shapes import Shape
from eventsourcing.serialization import JSONCodec


@dataclass(slots=True)
class _Writer:
    header: bytes
    parsed: Schema
    prepare: Convert | None
    flat: bool


@dataclass(slots=True)
class _Reader:
    cls: type[DomainEvent]
    schema_id: int
    schema: dict[str, Any]
    parsed: Schema
    """Parsed for fastavro, with defaults as decoded values (see `defaults.to_native`)."""
    validate: Callable[[Any], DomainEvent]


class AvroCodec:
    """The `Codec` for Avro. Share one `SchemaRegistry` between the codec and the store that keeps the schemas."""

    name = "avro"

    def __init__(self, registry: SchemaRegistry | None = None, *, read_json: bool = True) -> None:
        self.registry: SchemaRegistry = registry if registry is not None else MemorySchemaRegistry()
        self._json = JSONCodec() if read_json else None
        self._writers: dict[type[DomainEvent], _Writer] = {}
        self._readers: dict[type[DomainEvent], _Reader] = {}
        self._writer_schemas: dict[int, tuple[Schema, str | None]] = {}
        self._given_schemas: dict[str, Schema] = {}

    # -- the Codec protocol -------------------------------------------------------------------------

    def encode(self, event: DomainEvent) -> bytes:
        cls = type(event)
        writer = self._writers.get(cls) or self._writer(cls)
        try:
            if writer.flat:  # the validated values as they are: model_dump() would copy them one by one
                datum = event.__dict__ if writer.prepare is None else writer.prepare(dict(event.__dict__))
            else:
                datum = event.model_dump()
                if writer.prepare is not None:
                    datum = writer.prepare(datum)
            out = BytesIO()
            out.write(writer.header)
            schemaless_writer(out, writer.parsed, datum)
        except Exception as err:  # fastavro: ValueError, TypeError, OverflowError...; ours: naive datetimes
            raise SerializationError(f"cannot encode {cls.event_type!r} as Avro: {err}") from err
        return out.getvalue()

    def may_differ(self, shape: Shape, data: bytes) -> bool:
        """Avro writes what its schema admits and refuses the rest (datetimes outside the calendar
        once in UTC included, see `derive`), except floats: NaN never reads back equal."""
        return shape.loose or shape.floats

    def decode(self, cls: type[DomainEvent], data: bytes) -> DomainEvent:
        return self.decoder(cls)(data)

    def decoder(self, cls: type[DomainEvent]) -> Callable[[bytes], DomainEvent]:
        """A function decoding payloads of ``cls`` (fast path when written with the class's own schema)."""
        reader = self._readers.get(cls) or self._reader(cls)
        own_id, parsed, validate = reader.schema_id, reader.parsed, reader.validate
        json_codec, writer_schema, event_type = self._json, self._writer_schema, cls.event_type
        end = len

        def decode(data: bytes) -> DomainEvent:
            try:
                if data[:1] == b"{" and json_codec is not None:
                    return json_codec.decode(cls, data)
                schema_id = wire.schema_id_of(data)
                if schema_id is None:
                    raise CorruptEvent(f"stored {event_type!r} payload is not framed Avro (no magic byte 0)")
                buffer = BytesIO(data)
                buffer.seek(wire.HEADER_SIZE)
                if schema_id == own_id:
                    record = schemaless_reader(buffer, parsed, None)
                else:
                    written_with = writer_schema(schema_id, event_type)
                    record = schemaless_reader(buffer, written_with, parsed)
                if buffer.tell() != end(data):
                    raise CorruptEvent(
                        f"stored {event_type!r} payload has {end(data) - buffer.tell()} bytes after its Avro body"
                    )
                return validate(record)
            except SerializationError:
                raise
            except SchemaResolutionError as err:
                raise self._mismatch(reader, data, err) from err
            except Exception as err:  # fastavro on corrupt bytes: EOFError, IndexError, ValueError, ...
                raise CorruptEvent(
                    f"stored {event_type!r} payload does not decode as Avro: {_first_line(err)}"
                ) from err

        return decode

    def decode_dict(self, data: bytes) -> dict[str, Any]:
        """The payload as written (no resolution), in the JSON codec's shape: what upcasters receive."""
        if data[:1] == b"{" and self._json is not None:
            try:
                return self._json.decode_dict(data)
            except ValueError as err:  # invalid JSON or UTF-8
                raise CorruptEvent(f"stored JSON payload does not decode: {_first_line(err)}") from err
        schema_id = wire.schema_id_of(data)
        if schema_id is None:
            raise CorruptEvent("stored payload is not framed Avro (no magic byte 0)")
        written_with, event_type = self._writer_schema_and_type(schema_id, None)
        buffer = BytesIO(data)
        buffer.seek(wire.HEADER_SIZE)
        what = f"stored {event_type!r} payload" if event_type else "stored payload"
        try:
            record = schemaless_reader(buffer, written_with, None)
            if buffer.tell() != len(data):
                raise ValueError(f"{len(data) - buffer.tell()} bytes after its Avro body")
            value = to_jsonable_python(record)
        except Exception as err:
            raise CorruptEvent(f"{what} does not decode as Avro: {_first_line(err)}") from err
        if not isinstance(value, dict):
            raise CorruptEvent(f"{what} is not an Avro record")
        return value

    # -- beyond the protocol --------------------------------------------------------------------------

    def decode_with(self, writer_schema: Mapping[str, Any], cls: type[DomainEvent], body: bytes) -> DomainEvent:
        """Decode an unframed Avro ``body`` written with ``writer_schema``, resolved against ``cls``'s schema.

        For data whose schema travels separately (a store column, a Kafka header, a file).
        """
        reader = self._readers.get(cls) or self._reader(cls)
        key = json.dumps(writer_schema, sort_keys=True)
        written_with = self._given_schemas.get(key)
        if written_with is None:
            written_with = self._parse_writer(writer_schema, "the given writer schema", cls.event_type)
            self._given_schemas[key] = written_with
        buffer = BytesIO(body)
        try:
            record = schemaless_reader(buffer, written_with, reader.parsed)
            if buffer.tell() != len(body):
                raise ValueError(f"{len(body) - buffer.tell()} bytes after its Avro body")
            return reader.validate(record)
        except SchemaResolutionError as err:
            problems = check_schema(reader.schema, dict(writer_schema))
            raise SchemaMismatch(
                f"{cls.event_type!r} v{cls.schema_version} cannot read data written with the given schema: "
                f"{_summary(problems, err)}"
            ) from err
        except Exception as err:
            raise CorruptEvent(f"{cls.event_type!r} payload does not decode as Avro: {_first_line(err)}") from err

    def schema_id(self, cls: type[DomainEvent]) -> int:
        """The id of ``cls``'s current schema (registering it if needed)."""
        return (self._readers.get(cls) or self._reader(cls)).schema_id

    def schema(self, cls: type[DomainEvent]) -> dict[str, Any]:
        """``cls``'s current Avro schema (a copy)."""
        return json.loads(json.dumps((self._readers.get(cls) or self._reader(cls)).schema))  # type: ignore[no-any-return]

    # -- internals ------------------------------------------------------------------------------------

    def _writer(self, cls: type[DomainEvent]) -> _Writer:
        derived = derive(cls)
        schema_id = self.registry.register(derived.schema)
        parsed, _ = parse(derived.schema)
        writer = _Writer(wire.header(schema_id), parsed, derived.prepare, derived.flat)
        self._writers[cls] = writer
        return writer

    def _reader(self, cls: type[DomainEvent]) -> _Reader:
        schema = derive(cls).schema
        schema_id = self.registry.register(schema)
        parsed, named = parse(schema)
        _native_defaults(parsed, named)
        reader = _Reader(cls, schema_id, schema, parsed, cls.__pydantic_validator__.validate_python)
        self._readers[cls] = reader
        return reader

    def _writer_schema(self, schema_id: int, event_type: str | None) -> Schema:
        return self._writer_schema_and_type(schema_id, event_type)[0]

    def _writer_schema_and_type(self, schema_id: int, event_type: str | None) -> tuple[Schema, str | None]:
        held = self._writer_schemas.get(schema_id)
        if held is not None:
            return held
        try:
            schema = self.registry.get(schema_id)
        except UnknownSchema:
            raise UnknownSchema(schema_id, event_type) from None
        stored_type = schema.get(EVENT_TYPE_KEY)
        name = event_type or (str(stored_type) if stored_type else None)
        parsed = self._parse_writer(schema, f"writer schema {schema_id}", name)
        held = (parsed, name)
        self._writer_schemas[schema_id] = held
        return held

    def _parse_writer(self, schema: Mapping[str, Any], what: str, event_type: str | None) -> Schema:
        subject = f"stored {event_type!r} events" if event_type else "stored events"
        try:
            parsed, named = parse(dict(schema))
        except Exception as err:
            raise SchemaMismatch(f"{subject}: {what} is not a valid Avro schema: {err}") from err
        reason = unsafe_reason(parsed, named)
        if reason is not None:
            raise SchemaMismatch(f"{subject}: {what} is not decoded: {reason}")
        return parsed

    def _mismatch(self, reader: _Reader, data: bytes, err: Exception) -> SchemaMismatch:
        cls = reader.cls
        schema_id = wire.schema_id_of(data) or 0
        problems = check_schema(reader.schema, dict(self.registry.get(schema_id)))
        return SchemaMismatch(
            f"{cls.event_type!r} v{cls.schema_version} cannot read data written with schema {schema_id}: "
            f"{_summary(problems, err)}"
        )


def _native_defaults(parsed: Schema, named: Mapping[str, Any]) -> None:
    """Give every record field default of ``parsed`` its decoded Python value, in place (fastavro copies
    defaults into records as they are written in the schema)."""
    seen: set[int] = set()
    stack: list[Any] = [parsed, *named.values()]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict) and id(node) not in seen:
            seen.add(id(node))
            if node.get("type") in ("record", "error"):
                for f in node["fields"]:
                    if "default" in f:
                        f["default"] = to_native(f["type"], f["default"], named)
                    stack.append(f["type"])
            else:
                stack.extend(node[key] for key in ("type", "items", "values") if isinstance(node.get(key), dict | list))


def _summary(problems: list[Any], err: Exception) -> str:
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return "; ".join(str(p) for p in problems[:3]) + more
    return _first_line(err)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__
