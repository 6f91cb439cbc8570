"""Where writer schemas are kept by id: the `SchemaRegistry` port and its in-memory implementation.

A payload carries only its writer schema's id; reading it needs the schema, so a store keeps every
schema it has stored events with (a table for SQL stores, a compacted topic for Kafka) and hands the
codec a registry backed by it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from eventsourcing.avro.errors import UnknownSchema
from eventsourcing.avro.fingerprint import ID_MASK, canonical_form, rabin64
from eventsourcing.errors import ConfigurationError


class SchemaRegistry(Protocol):
    """Schema id ↔ Avro schema (JSON data).

    Calls are synchronous because decoding is: a store-backed registry answers from memory (loaded
    when the store opens, refreshed on an unknown id) and persists a new schema with the append
    that first uses it.
    """

    def register(self, schema: Mapping[str, Any]) -> int:
        """Keep ``schema`` (idempotent) and return its id."""
        ...

    def get(self, schema_id: int) -> Mapping[str, Any]:
        """The schema registered under ``schema_id``; raises `UnknownSchema` if there is none."""
        ...

    def schemas(self) -> Iterable[Mapping[str, Any]]:
        """Every schema held, in the order they were registered (what `check_compatibility` checks against)."""
        ...


class MemorySchemaRegistry:
    """Schemas in a dict, under ids computed from the schema itself (`fingerprint.schema_id`).

    Registering a schema that differs from a held one only in what canonical forms ignore (field
    defaults, docs, aliases, other attributes) returns the held schema's id and keeps the held one:
    for decoding, a writer schema's defaults and docs play no part.
    """

    def __init__(self, schemas: Iterable[Mapping[str, Any]] = ()) -> None:
        self._texts: dict[int, str] = {}
        self._canonical: dict[int, str] = {}
        for schema in schemas:
            self.register(schema)

    def register(self, schema: Mapping[str, Any]) -> int:
        try:
            canonical = canonical_form(dict(schema))
        except Exception as err:  # fastavro's parse errors have no common base we can name
            raise ConfigurationError(f"not a valid Avro schema: {err}") from err
        schema_id = rabin64(canonical.encode()) & ID_MASK
        held = self._canonical.get(schema_id)
        if held is None:
            self._canonical[schema_id] = canonical
            self._texts[schema_id] = json.dumps(schema, sort_keys=True)
        elif held != canonical:
            raise ConfigurationError(
                f"Avro schema id {schema_id} is taken by another schema ({held[:80]}...); "
                "rename the event type or change the new schema"
            )
        return schema_id

    def get(self, schema_id: int) -> Mapping[str, Any]:
        text = self._texts.get(schema_id)
        if text is None:
            raise UnknownSchema(schema_id)
        schema: dict[str, Any] = json.loads(text)  # a fresh copy: callers cannot change what is held
        return schema

    def schemas(self) -> Iterator[Mapping[str, Any]]:
        for text in list(self._texts.values()):
            yield json.loads(text)

    def ids(self) -> list[int]:
        return list(self._texts)

    def __contains__(self, schema_id: object) -> bool:
        return schema_id in self._texts

    def __len__(self) -> int:
        return len(self._texts)
