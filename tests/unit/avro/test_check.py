"""check_compatibility: the declared classes against the schemas a store holds."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest

from eventsourcing import DomainEvent, events_registry
from eventsourcing.avro import Incompatibility, avro_schema, check_compatibility, schema_id
from eventsourcing.registry import EventRegistry


class Status(StrEnum):
    open = "open"
    closed = "closed"


class Opened(DomainEvent):
    event_type = "avro_test.check.opened"
    owner: str
    limit: int = 100


class Tightened(DomainEvent):  # now needs a region, which some earlier shapes lacked
    event_type = "avro_test.check.tightened"
    owner: str
    region: str


class Moved(DomainEvent):
    event_type = "avro_test.check.moved"
    schema_version = 3
    to: str


def earlier(current: type[DomainEvent], version: int | None = None, **fields: Any) -> dict[str, Any]:
    """The schema an earlier shape of ``current`` had: ``fields`` maps names to a type or (type, default)."""
    namespace: dict[str, Any] = {
        "__annotations__": {},
        "__module__": current.__module__,
        "__qualname__": current.__qualname__,  # a redeclaration as far as the registry is concerned
        "event_type": current.event_type,
        "schema_version": version or current.schema_version,
    }
    for name, spec in fields.items():
        annotation, *default = spec if isinstance(spec, tuple) else (spec,)
        namespace["__annotations__"][name] = annotation
        if default:
            namespace[name] = default[0]
    old = type(current.__name__, (DomainEvent,), namespace)
    try:
        return avro_schema(old)
    finally:
        events_registry.register(current)


def test_the_current_schemas_and_compatible_earlier_ones_pass() -> None:
    stored = [avro_schema(Opened), earlier(Opened, owner=str), earlier(Opened, owner=str, limit=int, gone=float)]
    assert len({schema_id(s) for s in stored}) == 3
    assert check_compatibility([Opened], stored) == []


def test_an_incompatible_change_within_a_version_is_reported_with_its_path() -> None:
    stored = earlier(Opened, owner=int)  # owner was an int; limit did not exist yet (it has a default)
    (problem,) = check_compatibility([Opened], [stored])
    assert problem == Incompatibility(
        "avro_test.check.opened", "opened.owner", "the writer's long cannot be read as string", 1, 1, schema_id(stored)
    )
    assert str(problem) == (
        f"avro_test.check.opened v1 reading v1 (schema {schema_id(stored)}): opened.owner: "
        "the writer's long cannot be read as string"
    )


def test_every_earlier_schema_is_checked_transitively() -> None:
    first = earlier(Tightened, owner=str)
    second = earlier(Tightened, owner=str, region=str)
    third = earlier(Tightened, owner=str, status=Status)
    problems = check_compatibility([Tightened], [first, second, third])
    assert sorted((p.writer_id, p.path) for p in problems) == sorted(
        [(schema_id(first), "tightened.region"), (schema_id(third), "tightened.region")]
    )


def test_older_versions_need_their_upcasters() -> None:
    v1, v2 = earlier(Moved, 1, to=int), earlier(Moved, 2, to=str, via=str)
    problems = check_compatibility([Moved], [v1, v2], registry=_registry_with_upcasters(Moved, [2]))
    assert [str(p) for p in problems] == [
        f"avro_test.check.moved v3 reading v1 (schema {schema_id(v1)}): no upcaster from version 1 to 2 is "
        "registered, so events stored at version 1 cannot be read (SchemaMismatch)"
    ]
    assert check_compatibility([Moved], [v1, v2], registry=_registry_with_upcasters(Moved, [1, 2])) == []


def test_across_versions_checks_avro_resolution_instead() -> None:
    v1, v2 = earlier(Moved, 1, to=int), earlier(Moved, 2, to=str, via=str)
    problems = check_compatibility([Moved], [v1, v2], registry=EventRegistry(), across_versions=True)
    assert [(p.writer_version, p.path, p.message) for p in problems] == [
        (1, "moved.to", "the writer's long cannot be read as string")
    ]


def test_newer_versions_unknown_types_and_foreign_schemas_are_reported() -> None:
    newer = earlier(Opened, 2, owner=str)
    orphan = {**avro_schema(Opened), "eventsourcing.event_type": "avro_test.check.gone"}
    foreign = {"type": "record", "name": "X", "fields": [{"name": "a", "type": "long"}]}
    messages = [str(p) for p in check_compatibility([Opened], [newer, orphan, foreign])]
    assert messages == [
        f"? (schema {schema_id(foreign)}): the stored schema has no 'eventsourcing.event_type' / "
        "'eventsourcing.schema_version' "
        "attributes (it was not derived by eventsourcing.avro)",
        f"avro_test.check.gone (schema {schema_id(orphan)}): no declared event class has this name or alias: its "
        "stored events cannot be read (import the module declaring it, or add the name to a class's `aliases`)",
        f"avro_test.check.opened v1 reading v2 (schema {schema_id(newer)}): stored at schema version 2, newer than "
        "the class's 1",
    ]


def test_schemas_stored_under_a_former_name_are_checked_against_the_class_with_that_alias() -> None:
    old = earlier(Opened, owner=str)
    old["eventsourcing.event_type"] = "avro_test.check.account_opened"
    old["name"] = "account_opened"

    class Renamed(DomainEvent):
        event_type = "avro_test.check.renamed"
        aliases = ("avro_test.check.account_opened",)
        owner: str

    assert check_compatibility([Renamed], [old]) == []  # the record alias makes the names match


def test_unmappable_classes_are_reported_and_none_means_every_declared_class() -> None:
    class Untyped(DomainEvent):
        event_type = "avro_test.check.untyped"
        value: Any

    registry = EventRegistry()
    for cls in (Opened, Untyped):
        registry.register(cls)
    (problem,) = check_compatibility(None, [avro_schema(Opened)], registry=registry)
    assert problem.event_type == "avro_test.check.untyped"
    assert "avro_test.check.untyped.value: Any cannot be mapped to Avro" in str(problem)


@pytest.mark.parametrize("amount", [Decimal, int])
def test_duplicate_stored_schemas_are_checked_once(amount: type) -> None:
    stored = earlier(Opened, owner=str, amount=amount)
    assert check_compatibility([Opened], [stored, stored, dict(stored)]) == []


def _registry_with_upcasters(cls: type[DomainEvent], versions: list[int]) -> EventRegistry:
    registry = EventRegistry()
    registry.register(cls)
    for version in versions:
        registry.add_upcaster(cls, version, lambda data: data)
    return registry
