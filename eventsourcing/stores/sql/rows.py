"""Row ↔ event conversion shared by the SQL backends (one column order for every dialect)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.events import EMPTY_METADATA, DomainEvent, NewEvent, RecordedEvent
from eventsourcing.serialization import EventMapper
from eventsourcing.stores.base import utc_timestamp

# The column order every SELECT of events returns.
EVENT_COLUMNS = "position, stream_id, version, event_id, event_type, schema_version, timestamp, metadata, payload"


def decode_rows(mapper: EventMapper, rows: Iterable[Sequence[Any]]) -> list[RecordedEvent[DomainEvent]]:
    """Decode a page of rows in `EVENT_COLUMNS` order.

    The hot loop of every replay and log read: one cached decoder per (type, schema version), the
    event id and timestamp left in their stored form until someone reads them, and the cyclic
    garbage collector paused for the page (a bounded loop with no ``await``, creating many
    objects and no cycles: letting the collector walk them costs as much as decoding them).
    """
    decoders = mapper.decoders()
    out: list[RecordedEvent[DomainEvent]] = []
    append = out.append
    decode_metadata = mapper.decode_metadata
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        for position, stream_id, version, event_id, event_type, schema_version, ts, metadata, payload in rows:
            try:
                event = decoders[event_type, schema_version](payload)
            except Exception:  # not cached yet, or bad data: the slow path builds the decoder or names the error
                event = mapper.decode_stored(
                    event_type,
                    schema_version,
                    payload,
                    stream_id=stream_id,
                    version=version,
                    position=position,
                    event_id=event_id,
                    preceding=out,
                )
            append(
                RecordedEvent(
                    event,
                    stream_id,
                    version,
                    position,
                    ts,
                    event_id,
                    event_type,
                    schema_version,
                    EMPTY_METADATA if metadata is None else decode_metadata(metadata),
                )
            )
    finally:
        if collecting:
            gc.enable()
    return out


def decode_events(
    mapper: EventMapper, rows: Iterable[Sequence[Any]], stream_id: str, from_version: int
) -> list[DomainEvent]:
    """Decode the rows of one stream's replay: ``(event_type, schema_version, payload)`` from
    ``from_version`` on, in version order (the version is only needed to name a bad event)."""
    decoders = mapper.decoders()
    out: list[DomainEvent] = []
    append = out.append
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        for version, (event_type, schema_version, payload) in enumerate(rows, from_version):
            try:
                append(decoders[event_type, schema_version](payload))
            except Exception:  # not cached yet, or bad data: the slow path builds the decoder or names the error
                append(mapper.decode(event_type, schema_version, payload, stream_id=stream_id, version=version))
    finally:
        if collecting:
            gc.enable()
    return out


_last_second: tuple[tuple[int, ...], str] = ((), "")
_DIGITS = [f"{i:03d}" for i in range(1000)]


def iso_utc(value: dt.datetime) -> str:
    """Fixed-width ISO 8601 in UTC (``2026-11-22T21:35:39.123456+00:00``), so text order is time order.

    Events of one batch are mostly stamped within one second: its formatted text is kept, and only
    the microseconds are added per event, from a table of 3-digit strings (``isoformat`` costs more
    than the rest of a row, and formatting ``{:06d}`` more than the table's two lookups).
    """
    global _last_second
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    key = (value.year, value.month, value.day, value.hour, value.minute, value.second)
    cached_key, prefix = _last_second
    if cached_key != key:
        prefix = value.isoformat(timespec="seconds")[:19] + "."
        _last_second = (key, prefix)
    micro = value.microsecond
    return prefix + _DIGITS[micro // 1000] + _DIGITS[micro % 1000] + "+00:00"


def encode_rows(mapper: EventMapper, events: Sequence[NewEvent]) -> list[tuple[Any, ...]]:
    """The stored columns of new events: ``(event_id bytes, event_type, schema_version, ISO timestamp,
    metadata, payload)``, with the cyclic garbage collector paused (as in `decode_rows`: a bounded
    loop that creates many objects and no cycles; a collection walking a big batch's pending
    events costs more than encoding them)."""
    encode, encode_metadata = mapper.encode, mapper.encode_metadata
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return [
            (
                e.event_id.bytes,
                e.event.event_type,
                e.event.schema_version,
                iso_utc(utc_timestamp(e.timestamp)),
                encode_metadata(e.metadata),
                encode(e.event),
            )
            for e in events
        ]
    finally:
        if collecting:
            gc.enable()
