"""Keeping Avro schemas in the event store, so that every stored payload can always be decoded.

A payload carries only its writer schema's id (`wire`); the schema itself lives in the store that
holds the payload — a table for SQL stores, a topic for Kafka (`SchemaStore`). `StoredSchemaRegistry`
is the codec's registry: schemas are registered in memory as the codec meets event classes, and a
store writes the ones it has not saved yet before the first append whose payloads name them, and
loads all of them when it opens (and again when a payload names a schema it has not seen, written by
another process since). `SchemaSync` is that glue, shared by the stores.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from eventsourcing.avro.errors import UnknownSchema
from eventsourcing.avro.registry import MemorySchemaRegistry
from eventsourcing.events import DomainEvent, NewEvent

log = logging.getLogger(__name__)

T = TypeVar("T")


class SchemaStore(Protocol):
    """Where a store keeps the Avro schemas its payloads were written with."""

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        """Every stored schema."""
        ...

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Store ``(schema id, schema)`` pairs; a schema already stored is left as it is."""
        ...


class MemorySchemaStore:
    """Schemas kept in a list (for memory stores and tests)."""

    def __init__(self) -> None:
        self.saved: dict[int, Mapping[str, Any]] = {}

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        return list(self.saved.values())

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        for schema_id, schema in schemas:
            self.saved.setdefault(schema_id, schema)


class StoredSchemaRegistry(MemorySchemaRegistry):
    """A `MemorySchemaRegistry` that knows which of its schemas the store has not saved yet."""

    def __init__(self, schemas: Iterable[Mapping[str, Any]] = ()) -> None:
        self._saved: set[int] = set()
        self._unsaved: dict[int, Mapping[str, Any]] = {}
        super().__init__(schemas)

    def register(self, schema: Mapping[str, Any]) -> int:
        schema_id = super().register(schema)
        if schema_id not in self._saved:
            self._unsaved.setdefault(schema_id, schema)
        return schema_id

    def unsaved(self) -> list[tuple[int, Mapping[str, Any]]]:
        return list(self._unsaved.items())

    def mark_saved(self, schema_ids: Iterable[int]) -> None:
        for schema_id in schema_ids:
            self._saved.add(schema_id)
            self._unsaved.pop(schema_id, None)

    def load(self, schemas: Iterable[Mapping[str, Any]]) -> None:
        """Take in schemas read from the store (they are saved, by definition)."""
        loaded = [super(StoredSchemaRegistry, self).register(schema) for schema in schemas]
        self.mark_saved(loaded)


class SchemaSync:
    """What a store does for an Avro codec: load schemas on open, save new ones before an append,
    reload once when a read meets an unknown schema id."""

    def __init__(self, codec: Any, schema_store: SchemaStore) -> None:
        registry = getattr(codec, "registry", None)
        if not isinstance(registry, StoredSchemaRegistry):
            raise TypeError("SchemaSync needs a codec whose registry is a StoredSchemaRegistry")
        self.codec = codec
        self.registry = registry
        self.schema_store = schema_store

    async def load(self) -> None:
        self.registry.load(await self.schema_store.load_schemas())

    async def before_append(self, events: Sequence[NewEvent]) -> None:
        """Register the writer schemas of ``events`` and save those the store does not hold yet."""
        seen: set[type[DomainEvent]] = set()
        for new in events:
            cls = type(new.event)
            if cls not in seen:
                seen.add(cls)
                self.codec.schema_id(cls)
        unsaved = self.registry.unsaved()
        if unsaved:
            await self.schema_store.save_schemas(unsaved)
            self.registry.mark_saved(schema_id for schema_id, _ in unsaved)

    async def reading(self, read: Callable[[], Awaitable[T]]) -> T:
        """Run ``read``; if it meets a schema id not loaded yet, reload the schemas and run it once more."""
        try:
            return await read()
        except UnknownSchema as err:
            log.info("payload names schema %s, not loaded yet: reloading the store's schemas", err.schema_id)
            await self.load()
            return await read()
