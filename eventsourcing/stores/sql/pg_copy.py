"""Big appends on PostgreSQL through binary COPY.

An ``INSERT ... SELECT FROM unnest(arrays)`` writes a heap WAL record per row, and asyncpg encodes
each array element through generic codecs (a ``timestamptz`` costs ~3 µs). ``COPY`` inserts rows in
multi-row batches (one heap WAL record per page), and here its binary stream is built directly:
the stream id and type encoded once per batch, timestamps as the wire's microseconds since
2000-01-01, everything else as bytes. The unique ``(stream_id, version)`` and ``event_id`` indexes
keep every guarantee of the one-statement append:

1. read the stream's head (version and type) and check the expectation and the type;
2. COPY the batch with versions ``head + 1 ...``: one statement, so one transaction, all or nothing
   (a writer that appended in between makes it fail on ``(stream_id, version)``, a reused event id
   on ``event_id``; the caller resolves both, as for the one-statement append);
3. read back the last event's ``[xid, position]``.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from eventsourcing.errors import StreamTypeMismatch
from eventsourcing.stores.base import Expected, admits

COLUMNS = (
    "stream_id",
    "stream_type",
    "version",
    "event_id",
    "event_type",
    "schema_version",
    "timestamp",
    "metadata",
    "payload",
)
_HEAD = "SELECT version, stream_type FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1"
_LAST = "SELECT xid::text::bigint, position FROM events WHERE stream_id = $1 AND version = $2"
_REUSED = "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = ANY($1::uuid[]))"

_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_ONE_MICROSECOND = dt.timedelta(microseconds=1)
_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, no extension
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_UUID_LENGTH = b"\x00\x00\x00\x10"
_length = struct.Struct(">i").pack
_int4_field = struct.Struct(">ii").pack  # (4, value)
_int8_field = struct.Struct(">iq").pack  # (8, value)
_field_count = struct.Struct(">h").pack(len(COLUMNS))


def _text(value: str) -> bytes:
    data = value.encode()
    return _length(len(data)) + data


def micros(timestamp: dt.datetime) -> int:
    """An aware timestamp as PostgreSQL's binary ``timestamptz``: microseconds since 2000-01-01 UTC."""
    return (timestamp - _PG_EPOCH) // _ONE_MICROSECOND


def copy_data(stream_id: str, stream_type: str, first_version: int, columns: Sequence[list[Any]]) -> bytes:
    """The batch as a binary COPY stream, in `COLUMNS` order, versions from ``first_version``.

    ``columns``: event ids (UUID), types, schema versions, timestamps (µs since 2000-01-01, see
    `micros`), metadata (bytes or None), payloads (bytes).
    """
    ids, types, schema_versions, timestamps, metadata, payloads = columns
    prefix = _field_count + _text(stream_id) + _text(stream_type)
    type_fields: dict[str, bytes] = {}
    parts = [_HEADER]
    append = parts.append
    version = first_version
    for event_id, event_type, schema_version, ts, meta, payload in zip(
        ids, types, schema_versions, timestamps, metadata, payloads, strict=True
    ):
        type_field = type_fields.get(event_type)
        if type_field is None:
            type_field = type_fields[event_type] = _text(event_type)
        append(
            b"".join(
                (
                    prefix,
                    _int4_field(4, version),
                    _UUID_LENGTH,
                    event_id.bytes,
                    type_field,
                    _int4_field(4, schema_version),
                    _int8_field(8, ts),
                    _NULL if meta is None else _length(len(meta)) + meta,
                    _length(len(payload)),
                    payload,
                )
            )
        )
        version += 1
    append(_TRAILER)
    return b"".join(parts)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def copy_rows(
    connection: asyncpg.Connection,
    stream_id: str,
    stream_type: str,
    expected: Expected,
    columns: Sequence[list[Any]],
) -> tuple[int, Any, bool]:
    """`postgres.append_rows` through COPY (timestamps as `micros`): the same result
    (actual version, ``[xid, position]`` of the last event or None, ids perhaps reused).

    Outside a transaction, as every store operation runs: the COPY is its own transaction. Inside
    one (a caller's), the events become visible when it commits, as with `append_rows`.
    """
    head = await connection.fetchrow(_HEAD, stream_id)
    actual, stored_type = (0, None) if head is None else (head[0], head[1])
    other_type = stored_type is not None and stored_type != stream_type
    if other_type or not admits(expected, actual):
        reused = bool(await connection.fetchval(_REUSED, columns[0]))
        if other_type and not reused:
            raise StreamTypeMismatch(stream_id, stream_type, str(stored_type))
        return actual, None, reused
    await connection.copy_to_table(
        "events",
        source=_chunks(copy_data(stream_id, stream_type, actual + 1, columns)),
        columns=COLUMNS,
        format="binary",
    )
    last = await connection.fetchrow(_LAST, stream_id, actual + len(columns[0]))
    assert last is not None
    return actual, [last[0], last[1]], False
