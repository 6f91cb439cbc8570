"""The Kafka record of one append: an envelope holding the stream's type, the expected version and
every event of the batch, so that a batch is one record and therefore atomic without transactions.

Layout (all integers big-endian)::

    b"ESK1" | u32 header length | header (UTF-8 JSON) | per event: u32 payload length | payload

The header is ``{"type": stream type, "expected": int | "any" | "exists", "codec": codec name,
"events": [[event id hex, event type, schema version, ISO 8601 UTC timestamp, metadata JSON | null]]}``.
Payloads stay in the codec's bytes (JSON or Avro), copied as they are into the index. The record key
is the stream id; the ``es-token`` header carries the writer's token, by which the writer finds the
outcome of its own record.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from eventsourcing.stores.base import Expected, ExpectedVersion

MAGIC = b"ESK1"
TOKEN_HEADER = "es-token"
_U32 = struct.Struct(">I")


class NotAnEnvelope(ValueError):
    """A record on an event topic that this library did not write, or that is damaged."""


@dataclass(frozen=True, slots=True)
class EventEntry:
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


def encode_envelope(stream_type: str, expected: Expected, codec: str, events: list[EventEntry]) -> bytes:
    header = {
        "type": stream_type,
        "expected": expected.value if isinstance(expected, ExpectedVersion) else expected,
        "codec": codec,
        "events": [[e.event_id.hex(), e.event_type, e.schema_version, e.timestamp, _text(e.metadata)] for e in events],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    parts = [MAGIC, _U32.pack(len(head)), head]
    for e in events:
        parts.append(_U32.pack(len(e.payload)))
        parts.append(e.payload)
    return b"".join(parts)


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
        events: list[EventEntry] = []
        for row in rows:
            event_id, event_type, schema_version, timestamp, metadata = row
            (size,) = _U32.unpack_from(view, end)
            start, end = end + 4, end + 4 + size
            if end > len(value):
                raise NotAnEnvelope("an event payload runs past the end of the record")
            events.append(
                EventEntry(
                    bytes.fromhex(event_id),
                    _str(event_type),
                    _int(schema_version),
                    _str(timestamp),
                    None if metadata is None else _str(metadata).encode(),
                    bytes(view[start:end]),
                )
            )
        if end != len(value):
            raise NotAnEnvelope("the record has bytes after its last event")
        return Envelope(stream_type, _expected(expected), codec, events)
    except NotAnEnvelope:
        raise
    except (ValueError, TypeError, KeyError, struct.error) as err:
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
