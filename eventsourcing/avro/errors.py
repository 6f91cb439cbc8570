"""The Avro layer's own errors, both rooted in `SerializationError` (and so in `EventSourcingError`).

    SerializationError
    ├── UnmappableType      a field type that has no Avro mapping (raised when the schema is derived)
    └── UnknownSchema       a payload names a writer schema id that the schema registry does not hold

Decoding failures otherwise use the core's errors: `CorruptEvent` for bytes that do not decode
(corrupt, truncated, trailing garbage, invalid values) and `SchemaMismatch` for a writer schema
that cannot be resolved against the class's current schema.
"""

from __future__ import annotations

from eventsourcing.errors import SerializationError


class UnmappableType(SerializationError):
    """A field's type has no Avro mapping. The message names the event type, the field path and the type."""

    def __init__(self, event_type: str, path: str, annotation: object, reason: str) -> None:
        self.event_type = event_type
        self.path = path
        self.annotation = annotation
        where = f"{event_type}.{path}" if path else event_type
        super().__init__(f"{where}: {_type_name(annotation)} cannot be mapped to Avro: {reason}")


class UnknownSchema(SerializationError):
    """A payload was written with a schema id that the schema registry does not hold.

    The schemas of a store are kept with it (a table or a topic); this means the registry given to
    the codec is not the store's, or the schema was lost.
    """

    def __init__(self, schema_id: int, event_type: str | None = None) -> None:
        self.schema_id = schema_id
        self.event_type = event_type
        what = f"stored event {event_type!r}" if event_type else "stored event"
        super().__init__(
            f"{what} was written with Avro schema id {schema_id}, which the schema registry does not hold "
            "(give the codec the registry of the store the event comes from)"
        )


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")
