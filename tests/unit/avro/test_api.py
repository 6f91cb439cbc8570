"""eventsourcing.avro's public surface: a sorted, complete ``__all__`` and errors in the library's tree."""

from __future__ import annotations

import eventsourcing.avro
from eventsourcing import SerializationError
from eventsourcing.avro import errors


def test_all_is_sorted_and_complete() -> None:
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    names = eventsourcing.avro.__all__
    assert names == sorted(names, key=kind)
    assert all(hasattr(eventsourcing.avro, name) for name in names)
    assert {"AvroCodec", "SchemaRegistry", "MemorySchemaRegistry", "check_compatibility", "avro_schema"} <= set(names)


def test_errors_are_serialization_errors() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    own = [cls for cls in classes if cls.__module__ == errors.__name__]
    assert {cls.__name__ for cls in own} == {"UnmappableType", "UnknownSchema"}
    assert all(issubclass(cls, SerializationError) for cls in own)
    assert all(cls.__name__ in eventsourcing.avro.__all__ for cls in own)
