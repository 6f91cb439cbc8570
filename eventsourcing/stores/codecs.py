"""Choosing a store's payload codec by name, and the schema keeping that an Avro codec needs.

``codec="json"`` (pydantic's JSON) or ``codec="avro"`` (fastavro: the ``avro`` extra, and the ``kafka`` one, whose
store defaults to Avro), or a `Codec`
instance. An Avro codec built here gets a `StoredSchemaRegistry`, and the store keeps its schemas
(`SchemaSync`): in a table of the SQL database, on a topic of the Kafka cluster. An `AvroCodec` given
with a registry of another kind (a schema registry service, say) is used as it is: that registry
keeps the schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eventsourcing.errors import ConfigurationError
from eventsourcing.serialization import Codec, JSONCodec

if TYPE_CHECKING:
    from eventsourcing.avro.persistence import SchemaStore, SchemaSync

CODECS = ("json", "avro")


def make_codec(codec: Codec | str | None, default: str = "json", *, extra: str = "avro") -> Codec:
    """The codec ``codec`` names (``default`` when None); ``extra``: the extra a missing fastavro is installed by."""
    choice = default if codec is None else codec
    if not isinstance(choice, str):
        return choice
    if choice == "json":
        return JSONCodec()
    if choice == "avro":
        try:
            from eventsourcing.avro import AvroCodec
            from eventsourcing.avro.persistence import StoredSchemaRegistry
        except (ImportError, ConfigurationError) as err:  # fastavro is missing (eventsourcing.avro refuses to load)
            default_note = " (the default here)" if codec is None else ""
            raise ConfigurationError(
                f"codec 'avro'{default_note} needs fastavro: pip install 'async-eventsourcing[{extra}]'"
            ) from err
        return AvroCodec(StoredSchemaRegistry())
    raise ConfigurationError(f"unknown codec {choice!r}: use one of {', '.join(CODECS)} or a Codec instance")


def schema_sync(codec: Codec, schema_store: Callable[[], SchemaStore]) -> SchemaSync | None:
    """The schema keeping for ``codec`` (None when it needs none, or keeps its schemas elsewhere)."""
    registry: Any = getattr(codec, "registry", None)
    if registry is None or getattr(codec, "name", None) != "avro":
        return None
    from eventsourcing.avro.persistence import SchemaSync, StoredSchemaRegistry

    if not isinstance(registry, StoredSchemaRegistry):
        return None
    return SchemaSync(codec, schema_store())
