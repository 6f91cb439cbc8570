"""Deriving Avro schemas from event classes: every mapped type, names, defaults, and what is refused."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import fastavro
import pytest
from pydantic import AwareDatetime, BaseModel, Field, condecimal

from eventsourcing import DomainEvent, SerializationError
from eventsourcing.avro import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY, UnmappableType, avro_schema


class Colour(StrEnum):
    red = "red"
    green = "green"


class Fallback(Enum):
    a = "a"
    other = "other"

    @classmethod
    def _missing_(cls, value: object) -> Fallback:
        return cls.other


class Priority(IntEnum):
    low = 1
    high = 2


class Line(BaseModel):
    sku: str
    qty: int = 1


class Everything(DomainEvent):
    event_type = "avro_test.everything"
    s: str
    i: int
    f: float
    b: bool
    raw: bytes
    exact: Decimal = Field(max_digits=12, decimal_places=2)
    exact2: condecimal(max_digits=5, decimal_places=0)  # type: ignore[valid-type]
    loose: Decimal
    places_only: Decimal = Field(decimal_places=2)
    at: dt.datetime
    aware: AwareDatetime
    day: dt.date
    id: uuid.UUID
    colour: Colour
    fallback: Fallback
    priority: Priority
    maybe: str | None = None
    either: str | int
    kind: Literal["a", "b"]
    flag: Literal[True]
    number: Literal[1, 2]
    lines: list[Line]
    best: Line | None = None
    tags: set[str]
    pair: tuple[int, ...]
    counts: dict[str, int]
    nested: dict[str, list[Annotated[Decimal, Field(max_digits=7, decimal_places=3)]]]


def fields(schema: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f for f in schema["fields"]}


def test_every_supported_type() -> None:
    schema = avro_schema(Everything)
    fastavro.parse_schema(schema)  # a valid Avro schema
    types = {name: f["type"] for name, f in fields(schema).items()}
    assert types == {
        "s": "string",
        "i": "long",
        "f": "double",
        "b": "boolean",
        "raw": "bytes",
        "exact": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
        "exact2": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 0},
        "loose": {"type": "string", "java-class": "java.math.BigDecimal"},
        "places_only": {"type": "string", "java-class": "java.math.BigDecimal"},
        "at": {"type": "long", "logicalType": "timestamp-micros"},
        "aware": {"type": "long", "logicalType": "timestamp-micros"},
        "day": {"type": "int", "logicalType": "date"},
        "id": {"type": "string", "logicalType": "uuid"},
        "colour": {"type": "enum", "name": "Colour", "symbols": ["red", "green"]},
        "fallback": {"type": "enum", "name": "Fallback", "symbols": ["a", "other"], "default": "other"},
        "priority": "long",
        "maybe": ["null", "string"],
        "either": ["string", "long"],
        "kind": "string",
        "flag": "boolean",
        "number": "long",
        "lines": {
            "type": "array",
            "items": {
                "type": "record",
                "name": "Line",
                "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "long", "default": 1}],
            },
        },
        "best": ["null", "Line"],  # defined once, then referenced by name
        "tags": {"type": "array", "items": "string"},
        "pair": {"type": "array", "items": "long"},
        "counts": {"type": "map", "values": "long"},
        "nested": {
            "type": "map",
            "values": {
                "type": "array",
                "items": {"type": "bytes", "logicalType": "decimal", "precision": 7, "scale": 3},
            },
        },
    }


def test_record_name_namespace_and_attributes_come_from_event_type_and_version() -> None:
    class Renamed(DomainEvent):
        event_type = "my-app.cart.2nd item-added"
        schema_version = 3
        aliases = ("cart.ItemAdded",)

    schema = avro_schema(Renamed)
    assert schema["name"] == "_2nd_item_added"
    assert schema["namespace"] == "my_app.cart.v3"
    assert schema[EVENT_TYPE_KEY] == "my-app.cart.2nd item-added"
    assert schema[SCHEMA_VERSION_KEY] == 3
    assert schema["aliases"] == ["cart.v1.ItemAdded", "cart.v2.ItemAdded", "cart.v3.ItemAdded"]
    assert "Renamed" not in str(schema)  # the class name (and module) play no part


def test_defaults_become_avro_defaults_where_representable() -> None:
    class Defaults(DomainEvent):
        event_type = "avro_test.defaults"
        amount: Decimal = Field(default=Decimal("-1.5"), max_digits=9, decimal_places=2)
        loose: Decimal = Decimal("0.10")
        day: dt.date = dt.date(1970, 1, 11)
        at: dt.datetime = dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
        naive: dt.datetime = dt.datetime(2020, 1, 1)
        id: uuid.UUID = uuid.UUID(int=1)
        colour: Colour = Colour.green
        raw: bytes = b"\xff\x00"
        count: int = 3
        ratio: float = 1
        lines: list[Line] = Field(default_factory=list)
        made: uuid.UUID = Field(default_factory=uuid.uuid4)
        line: Line = Line(sku="x")
        note: str | None = "hi"
        nothing: int | None = None

    by_name = fields(avro_schema(Defaults))
    defaults = {name: f.get("default", "<none>") for name, f in by_name.items()}
    assert defaults == {
        "amount": "\xff\x6a",  # -150 as two's complement
        "loose": "0.10",
        "day": 10,
        "at": 1_000_000,
        "naive": "<none>",  # a naive datetime is no instant
        "id": "00000000-0000-0000-0000-000000000001",
        "colour": "green",
        "raw": "\xff\x00",
        "count": 3,
        "ratio": 1.0,
        "lines": [],
        "made": "<none>",  # uuid4 is not a constant
        "line": {"sku": "x", "qty": 1},
        "note": "hi",
        "nothing": None,
    }
    assert by_name["note"]["type"] == ["string", "null"]  # the default's branch goes first
    assert by_name["nothing"]["type"] == ["null", "long"]
    fastavro.parse_schema(avro_schema(Defaults))  # fastavro checks defaults against their types


def test_descriptions_become_docs() -> None:
    class Documented(DomainEvent):
        event_type = "avro_test.documented"
        amount: int = Field(description="in cents")

    assert fields(avro_schema(Documented))["amount"]["doc"] == "in cents"


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (dt.time, "time cannot be mapped to Avro: times of day"),
        (dt.timedelta, "timedelta cannot be mapped"),
        (Any, "an untyped field has no schema"),
        (Path, "Path cannot be mapped to Avro: supported are"),
        (list, "give collections their item types"),
        (tuple[int, str], "give collections their item types"),
        (dict[int, str], "Avro maps have string keys"),
        (str | uuid.UUID, "are both an Avro string"),
        (int | Priority, "are both an Avro long"),
        (Literal["a", 1], "only Literals of str, of int or of bool values"),
        (list[None], "its items encode to zero bytes"),
    ],
)
def test_unmappable_types_name_event_field_and_type(annotation: Any, words: str) -> None:
    class Bad(DomainEvent):
        event_type = "avro_test.bad"
        value: annotation  # type: ignore[valid-type]

    with pytest.raises(UnmappableType, match=r"^avro_test\.bad\.value: ") as caught:
        avro_schema(Bad)
    assert words in str(caught.value)
    assert isinstance(caught.value, SerializationError)
    assert (caught.value.event_type, caught.value.path) == ("avro_test.bad", "value")


def test_unmappable_nested_type_has_the_full_path() -> None:
    class Inner(BaseModel):
        when: dt.time

    class Outer(DomainEvent):
        event_type = "avro_test.outer"
        lines: list[dict[str, Inner]]

    with pytest.raises(UnmappableType, match=r"^avro_test.outer.lines\[\]\{\}.when: time cannot be mapped"):
        avro_schema(Outer)


def test_enums_need_symbol_values() -> None:
    class Dashed(StrEnum):
        a = "in-progress"

    class Mixed(Enum):
        a = "a"
        b = 2

    for enum_type, words in [
        (Dashed, "['in-progress'] are not valid Avro enum symbols"),
        (Mixed, "an Avro enum needs str values"),
    ]:

        class Bad(DomainEvent):
            event_type = "avro_test.bad_enum"
            value: enum_type  # type: ignore[valid-type]

        with pytest.raises(UnmappableType, match=words.replace("[", r"\[").replace("]", r"\]")):
            avro_schema(Bad)


def test_an_enum_fallback_only_comes_from_missing_when_it_takes_any_value() -> None:
    class CaseInsensitive(StrEnum):
        a = "a"

        @classmethod
        def _missing_(cls, value: object) -> CaseInsensitive | None:
            return cls.a if str(value).lower() == "a" else None

    class Event(DomainEvent):
        event_type = "avro_test.case_insensitive"
        value: CaseInsensitive

    assert "default" not in fields(avro_schema(Event))["value"]["type"]


def test_two_types_with_one_name_are_refused() -> None:
    def make() -> type[BaseModel]:
        class Line(BaseModel):
            other: int

        return Line

    class Clash(DomainEvent):
        event_type = "avro_test.clash"
        a: Line
        b: make()  # type: ignore[valid-type]

    with pytest.raises(UnmappableType, match="the Avro name 'Line' is already taken in this event"):
        avro_schema(Clash)


def test_recursive_and_empty_models_are_refused() -> None:
    class Node(BaseModel):
        children: list[Node]

    class Tree(DomainEvent):
        event_type = "avro_test.tree"
        root: Node

    with pytest.raises(UnmappableType, match=r"root.children\[\]: Node .* recursive types are not supported"):
        avro_schema(Tree)

    class Empty(BaseModel):
        pass

    class Empties(DomainEvent):
        event_type = "avro_test.empties"
        items: list[Empty]

    with pytest.raises(UnmappableType, match="zero bytes"):
        avro_schema(Empties)
