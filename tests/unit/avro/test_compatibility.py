"""The compatibility checker against the Avro specification's schema resolution rules (tests/unit/avro/cases.py)."""

from __future__ import annotations

import pytest

from eventsourcing.avro import Problem, check_schema
from tests.unit.avro.cases import COMPATIBLE, INCOMPATIBLE, Case, ev, field


@pytest.mark.parametrize("case", COMPATIBLE, ids=lambda c: c.id)
def test_compatible(case: Case) -> None:
    assert check_schema(case.reader, case.writer) == []


@pytest.mark.parametrize("case", INCOMPATIBLE, ids=lambda c: c.id)
def test_incompatible(case: Case) -> None:
    problems = [str(p) for p in check_schema(case.reader, case.writer)]
    assert len(problems) == len(case.problems), problems
    for expected, problem in zip(case.problems, problems, strict=True):
        assert expected in problem


def test_compatibility_is_one_way() -> None:
    """Adding a field with a default is backward compatible; reading new data with the old schema is not
    refused for that (the new field is skipped), but dropping a symbol is refused the other way."""
    old = ev(field("x", "int"))
    new = ev(field("x", "long"), field("y", "string", default=""))
    assert check_schema(new, old) == []
    assert [p.path for p in check_schema(old, new)] == ["Ev.x"]  # long cannot be read as int


def test_problem_text_is_path_then_message() -> None:
    assert str(Problem("Ev.x", "bad")) == "Ev.x: bad"
    assert str(Problem("", "bad")) == "bad"
