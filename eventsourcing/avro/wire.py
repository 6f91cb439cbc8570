"""The Confluent wire format every Avro payload is framed in: magic byte 0, then the writer schema's
id as 4 big-endian bytes, then the Avro binary body.

Standard Kafka tooling (Confluent's deserializers, kcat -s avro, ...) reads this framing when the
ids are those of its schema registry; our ids are `fingerprint.schema_id` unless the registry says
otherwise.
"""

from __future__ import annotations

import struct

MAGIC = 0
HEADER = struct.Struct(">BI")
HEADER_SIZE = HEADER.size


def header(schema_id: int) -> bytes:
    """The 5 bytes that go before a body written with schema ``schema_id``."""
    return HEADER.pack(MAGIC, schema_id)


def frame(schema_id: int, body: bytes) -> bytes:
    return header(schema_id) + body


def schema_id_of(data: bytes) -> int | None:
    """The writer schema id of a framed payload; None if ``data`` is not framed (too short, wrong magic)."""
    if len(data) < HEADER_SIZE or data[0] != MAGIC:
        return None
    return int(HEADER.unpack_from(data)[1])
