"""The checker's verdicts against fastavro's own schema resolution, the ground truth where it implements a rule:
every compatible case reads, in fastavro, every sample the writer can produce; every incompatible case
that fastavro also refuses fails there for some sample."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from fastavro.read import SchemaResolutionError

from tests.unit.avro.cases import COMPATIBLE, INCOMPATIBLE, Case
from tests.unit.avro.samples import samples


def roundtrip(writer: Any, reader: Any, datum: Any) -> Any:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(writer), datum)
    return fastavro.schemaless_reader(
        io.BytesIO(out.getvalue()), fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    )


@pytest.mark.parametrize("case", COMPATIBLE, ids=lambda c: c.id)
def test_fastavro_reads_every_sample_of_a_compatible_case(case: Case) -> None:
    data = samples(case.writer)
    assert data
    for datum in data:
        roundtrip(case.writer, case.reader, datum)


@pytest.mark.parametrize("case", [c for c in INCOMPATIBLE if c.fastavro_refuses], ids=lambda c: c.id)
def test_fastavro_refuses_some_sample_of_an_incompatible_case(case: Case) -> None:
    failures = 0
    for datum in samples(case.writer):
        try:
            roundtrip(case.writer, case.reader, datum)
        except (SchemaResolutionError, ValueError, TypeError, EOFError, IndexError):
            failures += 1
    assert failures, f"fastavro read every sample of {case.id}"


def test_where_we_are_stricter_fastavro_reads_the_data() -> None:
    """The cases we refuse although fastavro reads them: a changed logical type (it applies the writer's)."""
    stricter = [c for c in INCOMPATIBLE if not c.fastavro_refuses and not c.id.startswith("invalid")]
    assert {c.id for c in stricter} == {"decimal-scale-changed", "logical-type-added", "logical-type-dropped"}
    for case in stricter:
        for datum in samples(case.writer):
            roundtrip(case.writer, case.reader, datum)
