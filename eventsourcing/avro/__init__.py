"""Avro for event payloads: schemas derived from event classes, schema ids, a codec, a schema
registry port, and a compatibility checker for schema evolution (docs/schema-evolution.md).

Needs fastavro (``pip install 'async-eventsourcing[avro]'``); ``import eventsourcing`` alone never loads it.
"""

from eventsourcing.errors import ConfigurationError

try:
    import fastavro  # noqa: F401
except ImportError as err:  # pragma: no cover - the extra is installed wherever the tests run
    raise ConfigurationError("eventsourcing.avro needs fastavro: pip install 'async-eventsourcing[avro]'") from err

from eventsourcing.avro.check import Incompatibility, check_compatibility
from eventsourcing.avro.codec import AvroCodec
from eventsourcing.avro.compatibility import Problem, check_schema
from eventsourcing.avro.derive import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY, EventSchema, avro_schema, derive
from eventsourcing.avro.errors import UnknownSchema, UnmappableType
from eventsourcing.avro.fingerprint import canonical_form, fingerprint, parsing_canonical_form, schema_id
from eventsourcing.avro.registry import MemorySchemaRegistry, SchemaRegistry

__all__ = [
    "EVENT_TYPE_KEY",
    "SCHEMA_VERSION_KEY",
    "AvroCodec",
    "EventSchema",
    "Incompatibility",
    "MemorySchemaRegistry",
    "Problem",
    "SchemaRegistry",
    "UnknownSchema",
    "UnmappableType",
    "avro_schema",
    "canonical_form",
    "check_compatibility",
    "check_schema",
    "derive",
    "fingerprint",
    "parsing_canonical_form",
    "schema_id",
]
