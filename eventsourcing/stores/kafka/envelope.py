"""The Kafka record of one append: an envelope holding the stream's type, the expected version and
every event of the batch, so that a batch is one record and therefore atomic without transactions.

Layout (all integers big-endian)::

    b"ESK1" | u32 header length | header (UTF-8 JSON) | per event: u32 payload length | payload

The header is ``{"type": stream type, "expected": int | "any" | "exists", "codec": codec name,
"events": [[event id hex, event type, schema version, ISO 8601 UTC timestamp, metadata JSON | null]]}``.
Payloads stay in the codec's bytes (JSON or Avro), copied as they are into the index. The record key
is the stream id; the ``es-token`` header carries the writer's token, by which the writer finds the
outcome of its own record.

The Confluent wire format (`encode_confluent`) is for Kafka tooling: the header JSON travels in the
``es-envelope`` record header, and the record's value is the one event's Avro payload as the codec
framed it (magic byte 0, 4-byte schema id, body), which any Confluent-aware consumer can decode. It
holds one event only; an append of several events is written as an envelope in either format.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from eventsourcing.stores.base import Expected, ExpectedVersion

MAGIC = b"ESK1"
TOKEN_HEADER = "es-token"
ENVELOPE_HEADER = "es-envelope"
_U32 = struct.Struct(">I")


class NotAnEnvelope(ValueError):
    """A record on an event topic that this library did not write, or that is damaged."""


class EventEntry(NamedTuple):
    event_id: bytes
    event_type: str
    schema_version: int
    timestamp: str
    metadata: bytes | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    stream_type: str
    expected: Expected
    codec: str
    events: list[EventEntry]


def _header(stream_type: str, expected: Expected, codec: str, events: list[EventEntry]) -> bytes:
    header = {
        "type": stream_type,
        "expected": expected.value if isinstance(expected, ExpectedVersion) else expected,
        "codec": codec,
        "events": [[e.event_id.hex(), e.event_type, e.schema_version, e.timestamp, _text(e.metadata)] for e in events],
    }
    return json.dumps(header, separators=(",", ":")).encode()


def encode_confluent(stream_type: str, expected: Expected, event: EventEntry) -> tuple[bytes, bytes]:
    """(the ``es-envelope`` header value, the record value) of a one-event append in the Confluent format."""
    if event.payload[:1] != b"\x00":
        raise ValueError("the Confluent wire format needs Avro payloads (codec='avro')")
    return _header(stream_type, expected, "avro", [event]), event.payload


def encode_envelope(stream_type: str, expected: Expected, codec: str, events: list[EventEntry]) -> bytes:
    head = _header(stream_type, expected, codec, events)
    parts = [MAGIC, _U32.pack(len(head)), head]
    for e in events:
        parts.append(_U32.pack(len(e.payload)))
        parts.append(e.payload)
    return b"".join(parts)


def decode_record(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Envelope:
    """The append a record holds, in either format; `NotAnEnvelope` for anything else."""
    for name, header in headers:
        if name == ENVELOPE_HEADER and value is not None and value[:4] != MAGIC:
            return _confluent(header or b"", value)
    return decode_envelope(value)


def _confluent(header: bytes, value: bytes) -> Envelope:
    try:
        head = json.loads(header)
        ((event_id, event_type, schema_version, timestamp, metadata),) = head["events"]
        entry = EventEntry(
            bytes.fromhex(event_id),
            _str(event_type),
            _int(schema_version),
            _str(timestamp),
            None if metadata is None else _str(metadata).encode(),
            value,
        )
        return Envelope(_str(head["type"]), _expected(head["expected"]), _str(head["codec"]), [entry])
    except NotAnEnvelope:
        raise
    except (ValueError, TypeError, KeyError) as err:
        raise NotAnEnvelope(f"the {ENVELOPE_HEADER} header does not decode: {err}") from err


def decode_envelope(value: bytes | None) -> Envelope:
    """The envelope in ``value``; `NotAnEnvelope` for anything else (never another exception)."""
    if value is None or value[:4] != MAGIC:
        raise NotAnEnvelope("the record is not an event envelope (no ESK1 magic)")
    try:
        view = memoryview(value)
        (length,) = _U32.unpack_from(view, 4)
        end = 8 + length
        if end > len(value):
            raise NotAnEnvelope("the envelope's header runs past the end of the record")
        header = json.loads(bytes(view[8:end]))
        stream_type, expected, codec, rows = header["type"], header["expected"], header["codec"], header["events"]
        if not isinstance(stream_type, str) or not stream_type or not isinstance(codec, str):
            raise NotAnEnvelope("the envelope's header has no stream type or codec")
        # The hot loop of an index rebuild: build first, check the types of the whole batch after.
        events: list[EventEntry] = []
        append, unpack, fromhex, total = events.append, _U32.unpack_from, bytes.fromhex, len(value)
        for event_id, event_type, schema_version, timestamp, metadata in rows:
            (size,) = unpack(value, end)
            start = end + 4
            end = start + size
            append(
                EventEntry(
                    fromhex(event_id),
                    event_type,
                    schema_version,
                    timestamp,
                    None if metadata is None else metadata.encode(),
                    value[start:end],
                )
            )
        if end > total:
            raise NotAnEnvelope("an event payload runs past the end of the record")
        if end != total:
            raise NotAnEnvelope("the record has bytes after its last event")
        for e in events:
            if not (type(e.event_type) is str and type(e.schema_version) is int and type(e.timestamp) is str):
                raise NotAnEnvelope(f"an event of the envelope has fields of the wrong types: {e[1:4]!r}")
            if e.schema_version < 0:
                raise NotAnEnvelope(f"an event's schema version is negative: {e.schema_version}")
        return Envelope(stream_type, _expected(expected), codec, events)
    except NotAnEnvelope:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, struct.error) as err:
        raise NotAnEnvelope(f"the envelope does not decode: {err}") from err


def _text(metadata: bytes | None) -> str | None:
    return None if metadata is None else metadata.decode()


def _expected(value: Any) -> Expected:
    if isinstance(value, str):
        return ExpectedVersion(value)
    return _int(value)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise NotAnEnvelope(f"expected a non-negative integer, found {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise NotAnEnvelope(f"expected a string, found {value!r}")
    return value
