"""Turning events into stored bytes and back: a `Codec` for payloads, an `EventMapper` for the rest.

The codec knows one encoding (JSON here; Avro is another); the mapper resolves stored type names
through the registry, runs upcasters for old schema versions, encodes metadata, and turns any
decoding failure into a specific `SerializationError` that names the event.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from eventsourcing.errors import CorruptEvent, SerializationError, locate
from eventsourcing.events import EMPTY_METADATA, DomainEvent
from eventsourcing.payload_shapes import Shape, shape_of
from eventsourcing.registry import EventRegistry, events_registry


class Codec(Protocol):
    """Encodes event payloads (the user's fields only)."""

    name: str

    def encode(self, event: DomainEvent) -> bytes: ...

    def decode(self, cls: type[DomainEvent], data: bytes) -> DomainEvent: ...

    def decode_dict(self, data: bytes) -> dict[str, Any]: ...


class VerifiesCheaply(Protocol):
    """Optional for a `Codec`: whether a payload it wrote may fail to decode back equal (False only
    when that is certain). Without it every payload is decoded once before it is stored."""

    def may_differ(self, shape: Shape, data: bytes) -> bool: ...


class JSONCodec:
    """UTF-8 JSON through pydantic-core: Decimal as string, datetime as ISO 8601, UUID as string."""

    name = "json"

    def decoder(self, cls: type[DomainEvent]) -> Callable[[bytes], DomainEvent]:
        """The fastest way to decode ``cls`` (pydantic-core's JSON validator, no Python in between)."""
        validate: Callable[[bytes], DomainEvent] = cls.__pydantic_validator__.validate_json
        return validate

    def encode(self, event: DomainEvent) -> bytes:
        return event.__pydantic_serializer__.to_json(event)

    def decode(self, cls: type[DomainEvent], data: bytes) -> DomainEvent:
        return cls.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]

    def may_differ(self, shape: Shape, data: bytes) -> bool:
        """Plainly typed payloads read back equal, except: floats that were NaN or infinite (pydantic
        writes them as ``null``), ints over Python's int-string digit limit (the payload is then
        longer than that limit), and dict keys with lone surrogates (written as U+FFFD)."""
        if shape.loose or b"\xef\xbf\xbd" in data:
            return True
        limit = sys.get_int_max_str_digits()
        if limit and len(data) > limit:
            return True
        # NaN and infinities: ``null`` by default, ``NaN``/``Infinity`` under ser_json_inf_nan="constants".
        return shape.floats and (b"null" in data or b"NaN" in data or b"Infinity" in data)

    def decode_dict(self, data: bytes) -> dict[str, Any]:
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        return value


class EventMapper:
    """Event ↔ (type name, schema version, payload bytes, metadata bytes)."""

    def __init__(self, codec: Codec | None = None, registry: EventRegistry | None = None) -> None:
        self.codec: Codec = codec or JSONCodec()
        self.registry = registry or events_registry
        self._decoders: dict[tuple[str, int], Callable[[bytes], DomainEvent]] = {}
        self._verifiers: dict[type[DomainEvent], Callable[[bytes], DomainEvent]] = {}
        self._shapes: dict[type[DomainEvent], Shape] = {}
        self._may_differ: Callable[[Shape, bytes], bool] | None = getattr(self.codec, "may_differ", None)
        self._generation = -1

    def encode(self, event: DomainEvent) -> bytes:
        """The event's payload, refused with `SerializationError` unless it decodes back equal.

        An append is acknowledged only for what reads back: a codec may write a value it cannot
        read (JSON: a float NaN or infinity becomes ``null``, nesting deeper than the parser's
        limit, an int over Python's int-string digit limit; Avro: a datetime that is out of range
        once in UTC), or read back another value (NaN is never equal to itself, an ``Any`` field
        loses its type). Decoding the payload is the check that holds for every codec and type; a
        codec that knows where it cannot fail (``may_differ``, from the class's `Shape` and the
        bytes) skips it there, so most events of plainly typed classes pay nothing.
        """
        try:
            data = self.codec.encode(event)
        except Exception as err:  # a value the codec cannot represent
            if isinstance(err, SerializationError):
                raise
            raise SerializationError(f"cannot encode {event.event_type!r}: {_first_line(err)}") from err
        cls = type(event)
        may_differ = self._may_differ
        if may_differ is not None and not may_differ(self._shapes.get(cls) or self._shape(cls), data):
            return data
        decode = self._verifiers.get(cls) or self._verifier(cls)
        try:
            back = decode(data)
        except Exception as err:
            raise SerializationError(
                f"cannot store {event.event_type!r}: its payload would not decode when read "
                f"({_first_line(err)}); nothing was stored"
            ) from err
        if back != event:
            raise SerializationError(
                f"cannot store {event.event_type!r}: its payload would read back different "
                f"({_difference(event, back)}); nothing was stored"
            )
        return data

    def _shape(self, cls: type[DomainEvent]) -> Shape:
        shape = self._shapes[cls] = shape_of(cls)
        return shape

    def _verifier(self, cls: type[DomainEvent]) -> Callable[[bytes], DomainEvent]:
        fast = getattr(self.codec, "decoder", None)
        fn: Callable[[bytes], DomainEvent]
        fn = fast(cls) if fast is not None else functools.partial(self.codec.decode, cls)
        self._verifiers[cls] = fn
        return fn

    def decoders(self) -> dict[tuple[str, int], Callable[[bytes], DomainEvent]]:
        """Decoders by (stored type name, stored schema version), for the hot loops of stores.

        A missing key means "not built yet": call `decode`, which builds and caches it (or raises
        the precise error). A decoder may raise anything on bad data; `decode` names the problem.
        """
        if self._generation != self.registry.generation:
            self._decoders.clear()
            self._generation = self.registry.generation
        return self._decoders

    def _decoder(self, event_type: str, schema_version: int) -> Callable[[bytes], DomainEvent]:
        cls = self.registry.resolve(event_type)
        fn: Callable[[bytes], DomainEvent]
        if schema_version == cls.schema_version:
            fast = getattr(self.codec, "decoder", None)
            fn = fast(cls) if fast is not None else functools.partial(self.codec.decode, cls)
        else:
            registry, decode_dict = self.registry, self.codec.decode_dict

            def fn(data: bytes) -> DomainEvent:
                return cls.model_validate(registry.upcast(cls, schema_version, decode_dict(data)))

        self.decoders()[(event_type, schema_version)] = fn
        return fn

    def decode(self, event_type: str, schema_version: int, data: bytes, *, stream_id: str, version: int) -> DomainEvent:
        fn = self.decoders().get((event_type, schema_version)) or self._decoder(event_type, schema_version)
        try:
            return fn(data)
        except SerializationError:
            raise
        except (ValidationError, ValueError, TypeError, KeyError) as err:
            raise CorruptEvent(
                f"stored event {event_type!r} v{schema_version} at {stream_id!r} version {version} "
                f"does not decode: {_first_line(err)}"
            ) from err

    def decode_stored(
        self,
        event_type: str,
        schema_version: int,
        data: bytes,
        *,
        stream_id: str,
        version: int,
        position: Any,
        event_id: UUID | bytes,
        preceding: list[Any],
    ) -> DomainEvent:
        """`decode` for a store's read: a failure also records where the event is stored and the
        events of the read decoded before it (`errors.Undecodable`), so a reader can stop there."""
        try:
            return self.decode(event_type, schema_version, data, stream_id=stream_id, version=version)
        except SerializationError as err:
            locate(
                err,
                stream_id=stream_id,
                version=version,
                position=position,
                event_id=event_id,
                event_type=event_type,
                schema_version=schema_version,
                preceding=preceding,
            )
            raise

    @staticmethod
    def encode_metadata(metadata: Mapping[str, Any]) -> bytes | None:
        """Metadata as JSON; refused with `SerializationError` unless it is a mapping that JSON
        can hold and read back (no NaN or infinity, no int beyond the int-string digit limit)."""
        if metadata is EMPTY_METADATA:
            return None
        try:
            if not any(v is not None for v in metadata.values()):
                return None
            data = json.dumps(dict(metadata), separators=(",", ":"), default=_json_default, allow_nan=False).encode()
            json.loads(data)
        except (TypeError, ValueError, AttributeError, RecursionError) as err:
            raise SerializationError(f"event metadata cannot be stored as JSON: {_first_line(err)}") from err
        return data

    @staticmethod
    def decode_metadata(data: bytes | str | None) -> Mapping[str, Any]:
        if data is None:
            return EMPTY_METADATA
        try:
            value = json.loads(data)
        except ValueError as err:
            raise CorruptEvent(f"stored event metadata does not decode: {err}") from err
        value.setdefault("correlation_id", None)
        value.setdefault("causation_id", None)
        return value  # type: ignore[no-any-return]


def _json_default(value: object) -> str:
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"metadata value of type {type(value).__name__} is not JSON-serialisable")


def _difference(event: DomainEvent, back: DomainEvent) -> str:
    fields = [name for name, value in event.__dict__.items() if back.__dict__.get(name, value) != value]
    return f"field(s) {', '.join(fields)}" if fields else "the event"


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
