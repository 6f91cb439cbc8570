"""Event type names, the registry, schema versions and upcasters, the JSON codec."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from eventsourcing import (
    ConfigurationError,
    CorruptEvent,
    DomainEvent,
    SchemaMismatch,
    UnknownEventType,
    events_registry,
    upcaster,
)
from eventsourcing.errors import SerializationError
from eventsourcing.serialization import EventMapper
from tests.model import Cart


def test_default_type_name_is_the_qualified_name_without_module() -> None:
    class Outer:
        class Happened(DomainEvent):
            pass

    assert Outer.Happened.event_type == "test_default_type_name_is_the_qualified_name_without_module.Outer.Happened"
    assert Cart.ItemAdded.event_type == "tests.cart.item_added"  # pinned explicitly
    assert Cart.type_name == "tests.Cart"


def test_events_are_frozen_and_validated() -> None:
    event = Cart.Opened(customer_id="alice")
    with pytest.raises(ValidationError):
        event.customer_id = "bob"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Cart.ItemAdded(sku="x", quantity="many", unit_price=1)  # type: ignore[arg-type]


def test_registry_resolves_names_and_aliases_only() -> None:
    class Renamed(DomainEvent):
        event_type = "tests.events.renamed"
        aliases = ("tests.events.old_name",)

    assert events_registry.resolve("tests.events.renamed") is Renamed
    assert events_registry.resolve("tests.events.old_name") is Renamed
    with pytest.raises(UnknownEventType, match=r"os\.system"):
        events_registry.resolve("os.system")  # a module path in stored data is never imported


def test_two_classes_cannot_share_a_type_name() -> None:
    class First(DomainEvent):
        event_type = "tests.events.clash"

    with pytest.raises(ConfigurationError, match="declared twice"):

        class Second(DomainEvent):
            event_type = "tests.events.clash"

    assert events_registry.resolve("tests.events.clash") is First


def test_schema_version_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="schema_version"):

        class Bad(DomainEvent):
            event_type = "tests.events.bad_version"
            schema_version = 0


def test_upcaster_chain_and_its_errors() -> None:
    name = f"tests.events.chain.{uuid4().hex}"

    class Priced(DomainEvent):
        event_type = name
        schema_version = 3
        cents: int
        currency: str

    mapper = EventMapper()

    with pytest.raises(SchemaMismatch, match="from version 1 to 2"):
        mapper.decode(name, 1, b'{"euros": 2}', stream_id="s", version=1)

    @upcaster(Priced, from_version=1)
    def _cents(data: dict[str, Any]) -> dict[str, Any]:
        return {"cents": data.pop("euros") * 100}

    @upcaster(Priced, from_version=2)
    def _currency(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "currency": "EUR"}

    assert mapper.decode(name, 1, b'{"euros": 2}', stream_id="s", version=1) == Priced(cents=200, currency="EUR")
    assert mapper.decode(name, 2, b'{"cents": 5}', stream_id="s", version=1) == Priced(cents=5, currency="EUR")
    assert mapper.decode(name, 3, b'{"cents": 5, "currency": "USD"}', stream_id="s", version=1) == Priced(
        cents=5, currency="USD"
    )
    with pytest.raises(SchemaMismatch, match="newer"):
        mapper.decode(name, 4, b"{}", stream_id="s", version=1)
    with pytest.raises(ConfigurationError, match="upcaster"):
        upcaster(Priced, from_version=3)(lambda d: d)


def test_corrupt_payloads_name_the_event() -> None:
    mapper = EventMapper()
    for payload in (b"\x00\xff garbage", b'{"customer_id": 7}', b"[1, 2]", b""):
        with pytest.raises(CorruptEvent, match=r"tests.cart.opened.*'cart-1' version 3"):
            mapper.decode("tests.cart.opened", 1, payload, stream_id="cart-1", version=3)
    with pytest.raises(CorruptEvent):
        mapper.decode_metadata(b"{not json")


def test_json_codec_round_trips() -> None:
    mapper = EventMapper()
    event = Cart.ItemAdded(sku="sku-1", quantity=2, unit_price="9.99")  # type: ignore[arg-type]
    data = mapper.encode(event)
    assert data == b'{"sku":"sku-1","quantity":2,"unit_price":"9.99"}'
    assert mapper.decode("tests.cart.item_added", 1, data, stream_id="s", version=1) == event


def test_removed_fields_in_old_payloads_are_ignored() -> None:
    mapper = EventMapper()
    old = b'{"customer_id": "alice", "legacy_flag": true}'
    assert mapper.decode("tests.cart.opened", 1, old, stream_id="s", version=1) == Cart.Opened(customer_id="alice")


def test_metadata_encoding() -> None:
    mapper = EventMapper()
    assert mapper.encode_metadata({"correlation_id": None, "causation_id": None}) is None
    cid = uuid4()
    encoded = mapper.encode_metadata({"correlation_id": cid, "causation_id": str(cid)})
    assert mapper.decode_metadata(encoded) == {"correlation_id": str(cid), "causation_id": str(cid)}
    assert mapper.decode_metadata(None) == {"correlation_id": None, "causation_id": None}
    with pytest.raises(SerializationError, match="metadata"):  # a library error, not a raw TypeError (issue 14.10)
        EventMapper.encode_metadata({"correlation_id": dt.datetime.now(dt.UTC)})
