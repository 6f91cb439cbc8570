"""Snapshots: policies that decide when to take one, and stores that keep them.

A `Repository` given ``snapshots=`` loads from the newest valid snapshot at or before the wanted
version or time and applies only the later events; given ``snapshot_policy=`` it writes new
snapshots after saves (never before the events are stored, never failing the save).
"""

if __name__ != "eventsourcing.snapshots":  # the folder sits at the repository's top; it is never a top-level package
    raise ImportError(f"import eventsourcing.snapshots, not {__name__}")

from eventsourcing._coinstall import refuse_pyeventsourcing

refuse_pyeventsourcing()  # this package's own entry point: pyeventsourcing may have replaced eventsourcing/__init__.py


from eventsourcing.snapshots.memory import MemorySnapshotStore
from eventsourcing.snapshots.policies import EveryNEvents, OnDemand
from eventsourcing.snapshots.sql import SQLSnapshotStore
from eventsourcing.snapshotting import Snapshot, SnapshotPolicy, SnapshotStore, StateCodec

__all__ = [
    "EveryNEvents",
    "MemorySnapshotStore",
    "OnDemand",
    "SQLSnapshotStore",
    "Snapshot",
    "SnapshotPolicy",
    "SnapshotStore",
    "StateCodec",
]
