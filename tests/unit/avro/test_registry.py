"""The in-memory schema registry."""

from __future__ import annotations

import pytest

from eventsourcing import ConfigurationError, SerializationError
from eventsourcing.avro import MemorySchemaRegistry, SchemaRegistry, UnknownSchema, schema_id
from tests.unit.avro.cases import enum, ev, field


def test_register_is_idempotent_and_ids_are_the_schemas_own() -> None:
    registry: SchemaRegistry = MemorySchemaRegistry()
    schema = ev(field("x", "long"))
    first = registry.register(schema)
    assert registry.register(schema) == first == schema_id(schema)
    assert registry.get(first) == schema
    assert list(registry.schemas()) == [schema]


def test_get_returns_a_copy() -> None:
    registry = MemorySchemaRegistry([ev(field("x", "long"))])
    (held,) = registry.ids()
    registry.get(held)["fields"].clear()  # type: ignore[attr-defined]
    assert registry.get(held)["fields"] == [{"name": "x", "type": "long"}]


def test_an_equivalent_schema_keeps_the_first_one() -> None:
    registry = MemorySchemaRegistry()
    first = registry.register(ev(field("x", "long")))
    assert registry.register(ev(field("x", "long", default=1))) == first
    assert len(registry) == 1
    assert "default" not in registry.get(first)["fields"][0]


def test_unknown_id() -> None:
    with pytest.raises(UnknownSchema, match="schema id 42") as caught:
        MemorySchemaRegistry().get(42)
    assert isinstance(caught.value, SerializationError)
    assert caught.value.schema_id == 42


def test_invalid_schema_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a valid Avro schema"):
        MemorySchemaRegistry().register(ev(field("x", "no-such-type")))


def test_two_schemas_with_one_id_are_refused() -> None:
    # Found by search: distinct schemas whose fingerprints share their low 31 bits.
    a, b = enum("E", "sntwzhdgr"), enum("E", "svzcibgkuynj")
    assert schema_id(a) == schema_id(b) == 511996858
    registry = MemorySchemaRegistry([a])
    with pytest.raises(ConfigurationError, match="511996858 is taken by another schema"):
        registry.register(b)
    assert 511996858 in registry
