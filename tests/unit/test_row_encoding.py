"""`encode_rows` and `decode_events`: the SQLite store's batch encoding and replay decoding."""

from __future__ import annotations

import datetime as dt
import gc
from uuid import uuid4

import pytest

from eventsourcing import CorruptEvent, DomainEvent, NewEvent, SerializationError
from eventsourcing.serialization import EventMapper
from eventsourcing.stores.sql.rows import decode_events, encode_rows


class Noted(DomainEvent):
    event_type = "tests.rows.noted"
    text: str


class Opaque(DomainEvent):
    event_type = "tests.rows.opaque"
    value: object


def test_encode_rows_gives_the_stored_columns_and_restores_the_collector() -> None:
    at = dt.datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    event_id = uuid4()
    (row,) = encode_rows(EventMapper(), [NewEvent(Noted(text="a"), event_id, at)])
    assert row == (event_id.bytes, "tests.rows.noted", 1, "2026-01-01T11:00:00.000005+00:00", None, b'{"text":"a"}')
    assert gc.isenabled()
    with pytest.raises(SerializationError):
        encode_rows(EventMapper(), [NewEvent(Opaque(value=object()), uuid4(), at)])
    assert gc.isenabled()  # also after a failure
    gc.disable()
    try:
        encode_rows(EventMapper(), [NewEvent(Noted(text="a"), uuid4(), at)])
        assert not gc.isenabled()  # a caller's paused collector stays paused
    finally:
        gc.enable()


def test_decode_events_decodes_in_order_and_names_a_bad_row() -> None:
    rows = [("tests.rows.noted", 1, b'{"text":"a"}'), ("tests.rows.noted", 1, b'{"text":"b"}')]
    events = decode_events(EventMapper(), rows, "s-1", 4)
    assert [e.text for e in events] == ["a", "b"]  # type: ignore[attr-defined]
    with pytest.raises(CorruptEvent, match=r"'s-1' version 5"):
        decode_events(EventMapper(), [*rows[:1], ("tests.rows.noted", 1, b"{")], "s-1", 4)
    assert gc.isenabled()
