"""Snapshots: policies that decide when to take one, and stores that keep them.

A `Repository` given ``snapshots=`` loads from the newest valid snapshot at or before the wanted
version or time and applies only the later events; given ``snapshot_policy=`` it writes new
snapshots after saves (never before the events are stored, never failing the save).
"""

from eventsourcing.snapshotting import Snapshot, SnapshotPolicy, SnapshotStore, StateCodec
from snapshots.memory import MemorySnapshotStore
from snapshots.policies import EveryNEvents, OnDemand
from snapshots.sql import SQLSnapshotStore

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
