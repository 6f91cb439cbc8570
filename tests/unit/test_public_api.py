"""The public surface: a curated, sorted ``__all__``, the design's names, no driver imported eagerly."""

from __future__ import annotations

import subprocess
import sys

import eventsourcing
from eventsourcing import errors

DESIGN_NAMES = {
    "DomainEvent",
    "Aggregate",
    "on",
    "Repository",
    "RecordedEvent",
    "EventStore",
    "MemoryEventStore",
    "SQLEventStore",
    "open_store",
    "EventSourcingError",
    "ConcurrencyError",
    "AggregateNotFound",
}


def test_all_is_sorted_and_complete() -> None:
    # isort-style, as ruff keeps it: CONSTANTS, then Classes, then functions.
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert eventsourcing.__all__ == sorted(eventsourcing.__all__, key=kind)
    assert all(hasattr(eventsourcing, name) for name in eventsourcing.__all__)
    assert set(eventsourcing.__all__) >= DESIGN_NAMES


def test_every_error_is_rooted_in_eventsourcing_error() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) > 10
    assert all(issubclass(cls, errors.EventSourcingError) for cls in classes)
    assert all(cls.__name__ in eventsourcing.__all__ for cls in classes)


def test_import_loads_no_optional_driver() -> None:
    code = (
        "import sys, eventsourcing; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('asyncpg', 'aiokafka', 'fastavro', 'pytest')); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
