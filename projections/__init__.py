"""Projections (CQRS): projectors keep query views from the global event log, exactly once.

A `Projector` declares SQL tables and ``@on(Event)`` handlers; a `ProjectionRunner` follows an
event store's log and commits each batch's view change with the projector's checkpoint in one
transaction of the view database (a `CheckpointStore`), by compare-and-set on the checkpoint.
See docs/projections.md.
"""

from eventsourcing import on
from projections.checkpoints import Checkpoint, CheckpointStore, DeadLetter
from projections.errors import CheckpointConflict, PoisonEvent, ProjectionError
from projections.log import GlobalLog
from projections.memory import MemoryCheckpointStore
from projections.projector import Projector
from projections.reactor import Reaction, Reactor, command_id_for
from projections.relay import Relay, integration_event_id
from projections.runner import ProjectionRunner
from projections.sql import SQLCheckpointStore
from projections.status import ProjectionStatus
from projections.view import View

__all__ = [
    "Checkpoint",
    "CheckpointConflict",
    "CheckpointStore",
    "DeadLetter",
    "GlobalLog",
    "MemoryCheckpointStore",
    "PoisonEvent",
    "ProjectionError",
    "ProjectionRunner",
    "ProjectionStatus",
    "Projector",
    "Reaction",
    "Reactor",
    "Relay",
    "SQLCheckpointStore",
    "View",
    "command_id_for",
    "integration_event_id",
    "on",
]
