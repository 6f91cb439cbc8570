"""AvroCodec: round trips, the framing, resolution against older writer schemas, errors, the event mapper."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel, Field

from eventsourcing import CorruptEvent, DomainEvent, SchemaMismatch, SerializationError, events_registry, upcaster
from eventsourcing.avro import AvroCodec, MemorySchemaRegistry, UnknownSchema, avro_schema, schema_id
from eventsourcing.avro.wire import frame, header
from eventsourcing.serialization import EventMapper, JSONCodec


class Size(StrEnum):
    small = "small"
    large = "large"


class Item(BaseModel):
    sku: str
    price: Decimal = Field(max_digits=9, decimal_places=2)


class Ordered(DomainEvent):
    event_type = "avro_test.codec.ordered"
    order_id: uuid.UUID
    at: dt.datetime
    day: dt.date
    total: Decimal = Field(max_digits=12, decimal_places=2)
    tip: Decimal = Decimal("0")
    size: Size = Size.small
    items: list[Item] = []
    notes: dict[str, str] = {}
    coupon: str | None = None


def ordered() -> Ordered:
    return Ordered(
        order_id=uuid.UUID(int=7),
        at=dt.datetime(2024, 5, 1, 12, 30, 0, 5, tzinfo=dt.UTC),
        day=dt.date(2024, 5, 1),
        total=Decimal("19.98"),
        tip=Decimal("0.333"),
        size=Size.large,
        items=[Item(sku="a", price=Decimal("9.99")), Item(sku="b", price=Decimal("9.99"))],
        notes={"gift": "yes"},
        coupon="SPRING",
    )


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec()


@pytest.fixture
def forget() -> Iterator[list[str]]:
    """Names to drop from the events registry after the test (tests that redeclare an event type)."""
    names: list[str] = []
    yield names
    for name in names:
        events_registry.forget(name)


def test_round_trip(codec: AvroCodec) -> None:
    event = ordered()
    data = codec.encode(event)
    assert codec.decode(Ordered, data) == event
    assert codec.decoder(Ordered)(data) == event
    assert len(data) < len(JSONCodec().encode(event)) / 2


def test_payload_is_confluent_framed_schemaless_avro(codec: AvroCodec) -> None:
    event = ordered()
    data = codec.encode(event)
    assert data[:5] == header(schema_id(avro_schema(Ordered))) == b"\x00" + codec.schema_id(Ordered).to_bytes(4, "big")
    # Any Avro reader holding the schema decodes the body.
    body = fastavro.schemaless_reader(io.BytesIO(data[5:]), codec.registry.get(codec.schema_id(Ordered)), None)
    assert body["order_id"] == uuid.UUID(int=7)
    assert body["items"][0] == {"sku": "a", "price": Decimal("9.99")}
    assert body["size"] == "large"
    assert body["tip"] == "0.333"


def test_decode_dict_has_the_json_codecs_shape(codec: AvroCodec) -> None:
    event = ordered()
    assert codec.decode_dict(codec.encode(event)) == JSONCodec().decode_dict(JSONCodec().encode(event))


def test_json_payloads_are_read_too(codec: AvroCodec) -> None:
    event = ordered()
    assert codec.decode(Ordered, JSONCodec().encode(event)) == event
    assert codec.decode_dict(JSONCodec().encode(event))["coupon"] == "SPRING"
    with pytest.raises(CorruptEvent, match=r"not framed Avro"):
        AvroCodec(read_json=False).decode(Ordered, JSONCodec().encode(event))


def test_values_avro_cannot_hold_are_refused_on_write(codec: AvroCodec) -> None:
    naive = ordered().model_copy(update={"at": dt.datetime(2024, 1, 1)})
    with pytest.raises(SerializationError, match=r"avro_test.codec.ordered.*naive datetime"):
        codec.encode(naive)
    too_precise = Ordered.model_construct(**{**dict(ordered()), "total": Decimal("1.234")})
    with pytest.raises(SerializationError, match=r"cannot encode 'avro_test.codec.ordered' as Avro"):
        codec.encode(too_precise)


def test_an_older_writer_schema_is_resolved_with_the_current_defaults(forget: list[str]) -> None:
    class Shipped(DomainEvent):  # the shape events were stored with
        event_type = "avro_test.codec.shipped"
        parcel: str
        carrier: str

    codec = AvroCodec()
    old = codec.encode(Shipped(parcel="p1", carrier="dhl"))
    events_registry.forget("avro_test.codec.shipped")
    forget.append("avro_test.codec.shipped")

    class ShippedNow(DomainEvent):  # same type and version; carrier dropped, fields with defaults added
        event_type = "avro_test.codec.shipped"
        parcel: str
        on: dt.date = dt.date(2000, 1, 31)
        at: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        fee: Decimal = Field(default=Decimal("-2.50"), max_digits=5, decimal_places=2)
        raw: bytes = b"\xfe"
        size: Size = Size.large

    assert codec.schema_id(ShippedNow) != int.from_bytes(old[1:5], "big")
    assert codec.decode(ShippedNow, old) == ShippedNow(parcel="p1")


def test_an_unresolvable_writer_schema_is_a_schema_mismatch_naming_the_problem(forget: list[str]) -> None:
    class Weighed(DomainEvent):
        event_type = "avro_test.codec.weighed"
        grams: float

    codec = AvroCodec()
    old = codec.encode(Weighed(grams=1.5))
    events_registry.forget("avro_test.codec.weighed")
    forget.append("avro_test.codec.weighed")

    class WeighedNow(DomainEvent):
        event_type = "avro_test.codec.weighed"
        grams: int
        unit: str

    with pytest.raises(SchemaMismatch) as caught:
        codec.decode(WeighedNow, old)
    message = str(caught.value)
    assert "'avro_test.codec.weighed' v1 cannot read data written with schema" in message
    assert "weighed.grams: the writer's double cannot be read as long" in message
    assert "weighed.unit: the writer has no such field" in message


def test_decode_with_a_given_writer_schema(codec: AvroCodec) -> None:
    writer = {
        "type": "record",
        "name": "ordered",
        "fields": [
            {"name": "order_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        ],
    }
    out = io.BytesIO()
    datum = {"order_id": uuid.UUID(int=1), "at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "day": dt.date(2024, 1, 1)}
    fastavro.schemaless_writer(out, fastavro.parse_schema(writer), {**datum, "total": Decimal("5.00")})
    event = codec.decode_with(writer, Ordered, out.getvalue())
    assert event == Ordered(**datum, total=Decimal(5))
    with pytest.raises(CorruptEvent, match=r"avro_test.codec.ordered"):
        codec.decode_with(writer, Ordered, out.getvalue()[:-1])
    changed = {**writer, "fields": [{"name": "total", "type": "long"}, *writer["fields"][:3]]}
    with pytest.raises(SchemaMismatch, match=r"ordered\.total: the writer's long cannot be read as decimal\(12,2\)"):
        codec.decode_with(changed, Ordered, b"\x02")


def test_unknown_schema_id_names_the_event(codec: AvroCodec) -> None:
    data = frame(12345, b"\x00")
    with pytest.raises(UnknownSchema, match=r"'avro_test.codec.ordered' was written with Avro schema id 12345"):
        codec.decode(Ordered, data)
    with pytest.raises(UnknownSchema, match=r"12345"):
        codec.decode_dict(data)


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda data: data[:3], "not framed Avro"),
        (lambda data: b"\x01" + data[1:], "not framed Avro"),
        (lambda data: data[:-4], "does not decode as Avro"),
        (lambda data: data + b"\x00", "1 bytes after its Avro body"),
    ],
)
def test_corrupt_payloads(codec: AvroCodec, mangle: Any, words: str) -> None:
    data = mangle(codec.encode(ordered()))
    with pytest.raises(CorruptEvent, match=rf"'avro_test.codec.ordered' payload.*{words}"):
        codec.decode(Ordered, data)
    with pytest.raises(CorruptEvent, match=words):
        codec.decode_dict(data)


def test_writer_schemas_unsafe_to_decode_are_refused() -> None:
    recursive = {
        "type": "record",
        "name": "ordered",
        "eventsourcing.event_type": "avro_test.codec.ordered",
        "fields": [{"name": "next", "type": ["null", "ordered"]}],
    }
    registry = MemorySchemaRegistry([recursive])
    codec = AvroCodec(registry)
    with pytest.raises(
        SchemaMismatch, match=r"writer schema \d+ is not decoded: next: the type ordered contains itself"
    ):
        codec.decode(Ordered, frame(schema_id(recursive), b"\x00"))


def test_the_event_mapper_with_avro_including_upcasts(forget: list[str]) -> None:
    class Priced(DomainEvent):
        event_type = "avro_test.codec.priced"
        amount: float

    mapper = EventMapper(codec=AvroCodec())
    stored = mapper.encode(Priced(amount=12.5))
    events_registry.forget("avro_test.codec.priced")
    forget.append("avro_test.codec.priced")

    class PricedNow(DomainEvent):
        event_type = "avro_test.codec.priced"
        schema_version = 2
        cents: int
        currency: str = "EUR"

    @upcaster(PricedNow, from_version=1)
    def _to_cents(data: dict[str, Any]) -> dict[str, Any]:
        return {"cents": round(data["amount"] * 100)}

    assert mapper.decode("avro_test.codec.priced", 1, stored, stream_id="s", version=1) == PricedNow(cents=1250)
    current = mapper.encode(PricedNow(cents=5, currency="USD"))
    assert mapper.decode("avro_test.codec.priced", 2, current, stream_id="s", version=2) == PricedNow(
        cents=5, currency="USD"
    )
    with pytest.raises(CorruptEvent, match=r"'avro_test.codec.priced' payload does not decode"):
        mapper.decode("avro_test.codec.priced", 2, current[:-1], stream_id="s", version=2)


def test_flat_events_are_written_from_their_own_values_with_conversions(codec: AvroCodec) -> None:
    class Tipped(DomainEvent):  # no nested models: written from __dict__, converted on a copy
        event_type = "avro_test.codec.tipped"
        size: Size
        tip: Decimal
        at: dt.datetime

    event = Tipped(size=Size.large, tip=Decimal("0.125"), at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert codec.decode(Tipped, codec.encode(event)) == event
    assert event.size is Size.large and event.tip == Decimal("0.125")  # the event itself is untouched
    with pytest.raises(SerializationError, match=r"naive datetime"):
        codec.encode(event.model_copy(update={"at": dt.datetime(2024, 1, 1)}))
