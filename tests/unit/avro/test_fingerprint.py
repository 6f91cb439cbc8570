"""Canonical forms, fingerprints and schema ids."""

from __future__ import annotations

import fastavro.schema
import pytest

from eventsourcing.avro import canonical_form, fingerprint, parsing_canonical_form, schema_id
from eventsourcing.avro.fingerprint import rabin64
from tests.unit.avro.cases import COMPATIBLE, INCOMPATIBLE, decimal, ev, field

WITHOUT_LOGICAL_TYPES = [
    c.writer
    for c in [*COMPATIBLE, *INCOMPATIBLE]
    if "logicalType" not in str(c.writer) and "no-such" not in str(c.writer)
]


@pytest.mark.parametrize("schema", WITHOUT_LOGICAL_TYPES)
def test_without_logical_types_it_is_the_specs_canonical_form_and_fingerprint(schema: object) -> None:
    assert canonical_form(schema) == parsing_canonical_form(schema)
    spec = fastavro.schema.fingerprint(parsing_canonical_form(schema), "CRC-64-AVRO")
    assert fingerprint(schema).to_bytes(8, "little").hex() == spec


def test_logical_types_tell_schemas_apart_that_the_spec_form_does_not() -> None:
    a, b = ev(field("d", decimal(9, 2))), ev(field("d", decimal(9, 4)))
    assert parsing_canonical_form(a) == parsing_canonical_form(b)
    assert canonical_form(a) != canonical_form(b)
    assert schema_id(a) != schema_id(b)
    assert '"logicalType":"decimal","precision":9,"scale":2' in canonical_form(a)


def test_docs_defaults_aliases_and_namespaces_written_apart_do_not_change_the_id() -> None:
    plain = ev(field("x", "long"), namespace="a")
    decorated = {
        "type": "record",
        "name": "a.Ev",
        "doc": "a doc",
        "aliases": ["Old"],
        "eventsourcing.event_type": "ev",
        "fields": [{"name": "x", "type": {"type": "long"}, "default": 3, "doc": "x"}],
    }
    assert canonical_form(plain) == canonical_form(decorated)
    assert schema_id(plain) == schema_id(decorated)


def test_schema_id_is_the_fingerprints_low_31_bits() -> None:
    schema = ev(field("x", "long"))
    assert schema_id(schema) == fingerprint(schema) & 0x7FFFFFFF
    assert 0 <= schema_id(schema) < 2**31


def test_rabin64_known_value() -> None:
    # The Avro specification's empty fingerprint, and fastavro's value for '"int"'.
    assert rabin64(b"") == 0xC15D213AA4D7A795
    assert rabin64(b'"int"').to_bytes(8, "little").hex() == fastavro.schema.fingerprint('"int"', "CRC-64-AVRO")
