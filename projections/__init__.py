"""Projections (CQRS): projectors keep query views from the global event log, exactly once.

A `Projector` declares SQL tables and ``@on(Event)`` handlers; a `ProjectionRunner` follows an
event store's log and commits each batch's view change with the projector's checkpoint in one
transaction of the view database (a `CheckpointStore`), by compare-and-set on the checkpoint.
See docs/projections.md.
"""

if __name__ != "eventsourcing.projections":  # the folder sits at the repository's top; it is never a top-level package
    raise ImportError(f"import eventsourcing.projections, not {__name__}")

from eventsourcing._coinstall import refuse_pyeventsourcing

refuse_pyeventsourcing()  # this package's own entry point: pyeventsourcing may have replaced eventsourcing/__init__.py


from eventsourcing import on
from eventsourcing._renamed import renamed
from eventsourcing.projections.as_of import AsOfView, AsOfViewNotFound, LiveView, drop_as_of_view, list_as_of_views
from eventsourcing.projections.checkpoints import Checkpoint, CheckpointStore, DeadLetter
from eventsourcing.projections.errors import CheckpointConflict, PoisonEvent, ProjectionError
from eventsourcing.projections.log import GlobalLog
from eventsourcing.projections.memory import MemoryCheckpointStore
from eventsourcing.projections.projector import Projector
from eventsourcing.projections.reactor import Reaction, Reactor, command_id_for
from eventsourcing.projections.relay import Relay, integration_event_id
from eventsourcing.projections.runner import ProjectionRunner
from eventsourcing.projections.sql import SQLCheckpointStore
from eventsourcing.projections.status import ProjectionStatus
from eventsourcing.projections.view import ViewBatch

__all__ = [
    "AsOfView",
    "AsOfViewNotFound",
    "Checkpoint",
    "CheckpointConflict",
    "CheckpointStore",
    "DeadLetter",
    "GlobalLog",
    "LiveView",
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
    "ViewBatch",
    "command_id_for",
    "drop_as_of_view",
    "integration_event_id",
    "list_as_of_views",
    "on",
]

__getattr__ = renamed(__name__, {"View": "ViewBatch"}, globals())  # the old names, for one release
