"""`check_compatibility`: can the declared event classes read everything a store holds?

Each stored schema (as kept by the store's schema registry) is checked against the current schema
of the class that answers to its event type (by name or alias):

- same schema version: Avro resolution reads it, so the current schema must be able to read it
  (`check_schema`): transitive backward compatibility, since every earlier schema is checked;
- an older version: the event mapper brings old versions up through the upcaster chain, so every
  step needs an upcaster (what the upcasters return is validated when read, not checked here).
  With ``across_versions=True`` an older version without a full chain is checked by Avro resolution
  instead (for a mapper that resolves such versions rather than requiring upcasters);
- a newer version than the class's, or an event type no class answers to, is a problem too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.avro.compatibility import check_schema
from eventsourcing.avro.derive import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY, derive
from eventsourcing.avro.errors import UnmappableType
from eventsourcing.avro.fingerprint import schema_id
from eventsourcing.events import DomainEvent
from eventsourcing.registry import EventRegistry, events_registry


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One reason stored events could not be read by the current classes."""

    event_type: str
    path: str
    message: str
    reader_version: int | None = None
    writer_version: int | None = None
    writer_id: int | None = None

    def __str__(self) -> str:
        where = self.event_type
        if self.reader_version is not None and self.writer_version is not None:
            where += f" v{self.reader_version} reading v{self.writer_version}"
        if self.writer_id is not None:
            where += f" (schema {self.writer_id})"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def check_compatibility(
    events: Iterable[type[DomainEvent]] | None,
    stored_schemas: Iterable[Mapping[str, Any]],
    *,
    registry: EventRegistry | None = None,
    across_versions: bool = False,
) -> list[Incompatibility]:
    """Every problem the classes ``events`` (None: every declared event class) would have reading events
    stored with ``stored_schemas``; an empty list means all of them can be read."""
    registry = registry or events_registry
    classes = list(events) if events is not None else _declared(registry)
    by_name = {name: cls for cls in classes for name in (cls.event_type, *cls.aliases)}
    problems: list[Incompatibility] = []
    current: dict[type[DomainEvent], dict[str, Any]] = {}
    for cls in classes:
        try:
            current[cls] = derive(cls).schema
        except UnmappableType as err:
            problems.append(Incompatibility(cls.event_type, err.path, str(err), cls.schema_version))
    seen: set[int] = set()
    for stored in stored_schemas:
        try:
            writer_id = schema_id(dict(stored))
        except Exception as err:  # fastavro's parse errors
            problems.append(Incompatibility(str(stored.get(EVENT_TYPE_KEY, "?")), "", f"invalid stored schema: {err}"))
            continue
        if writer_id in seen:
            continue
        seen.add(writer_id)
        problems.extend(_check_one(stored, writer_id, by_name, current, registry, across_versions))
    return sorted(problems, key=lambda p: (p.event_type, p.writer_version or 0, p.writer_id or 0, p.path))


def _check_one(
    stored: Mapping[str, Any],
    writer_id: int,
    by_name: Mapping[str, type[DomainEvent]],
    current: Mapping[type[DomainEvent], dict[str, Any]],
    registry: EventRegistry,
    across_versions: bool,
) -> list[Incompatibility]:
    event_type = stored.get(EVENT_TYPE_KEY)
    version = stored.get(SCHEMA_VERSION_KEY)
    if not isinstance(event_type, str) or not isinstance(version, int):
        return [
            Incompatibility(
                "?",
                "",
                f"the stored schema has no {EVENT_TYPE_KEY!r} / {SCHEMA_VERSION_KEY!r} attributes "
                "(it was not derived by eventsourcing.avro)",
                writer_id=writer_id,
            )
        ]
    cls = by_name.get(event_type)
    if cls is None:
        return [
            Incompatibility(
                event_type,
                "",
                "no declared event class has this name or alias: its stored events cannot be read (import the "
                "module declaring it, or add the name to a class's `aliases`)",
                writer_version=version,
                writer_id=writer_id,
            )
        ]
    if cls not in current:
        return []  # its own UnmappableType is already reported
    found = Incompatibility(cls.event_type, "", "", cls.schema_version, version, writer_id)
    if version > cls.schema_version:
        return [_with(found, f"stored at schema version {version}, newer than the class's {cls.schema_version}")]
    if version < cls.schema_version:
        chain = _upcaster_versions(registry, cls)
        missing = [v for v in range(version, cls.schema_version) if v not in chain]
        if not missing:
            return []  # the upcasters bring it up; their output is validated when read
        if not across_versions:
            return [
                _with(
                    found,
                    f"no upcaster from version {missing[0]} to {missing[0] + 1} is registered, so events stored at "
                    f"version {version} cannot be read (SchemaMismatch)",
                )
            ]
    return [_with(found, p.message, p.path) for p in check_schema(current[cls], dict(stored))]


def _with(found: Incompatibility, message: str, path: str = "") -> Incompatibility:
    return Incompatibility(found.event_type, path, message, found.reader_version, found.writer_version, found.writer_id)


def _declared(registry: EventRegistry) -> list[type[DomainEvent]]:
    classes: dict[type[DomainEvent], None] = {}
    for name in registry.names():
        classes[registry.resolve(name)] = None
    return list(classes)


def _upcaster_versions(registry: EventRegistry, cls: type[DomainEvent]) -> set[int]:
    # EventRegistry has no public query for this yet; its table is keyed as add_upcaster keys it.
    table: dict[str, dict[int, Any]] = getattr(registry, "_upcasters", {})
    return set(table.get(cls.event_type, {}))
