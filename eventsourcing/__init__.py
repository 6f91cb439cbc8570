"""Async-first, typed event sourcing: aggregates, event stores, time travel, commands.

``import eventsourcing`` loads no database driver beyond the standard library: backends import
their driver when they are used.
"""

from eventsourcing._coinstall import refuse_pyeventsourcing

refuse_pyeventsourcing()  # before anything else: a merged folder must fail with a clear sentence

from eventsourcing.aggregate import Aggregate, on
from eventsourcing.commands import Command, CommandBus, CommandResult
from eventsourcing.errors import (
    AggregateNotFound,
    AppendOutcomeUnknown,
    CommandError,
    ConcurrencyError,
    ConfigurationError,
    CorruptEvent,
    CorruptStream,
    DuplicateEventId,
    EventSourcingError,
    InvalidArgument,
    InvalidCommand,
    InvalidTimestamp,
    ReadOnlyAggregate,
    SchemaMismatch,
    SerializationError,
    StoreError,
    StoreUnavailable,
    StreamTypeMismatch,
    UnknownCommand,
    UnknownEventType,
    UnsupportedOperation,
)
from eventsourcing.event_methods import event
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import aggregates_registry, events_registry, upcaster
from eventsourcing.repository import Repository
from eventsourcing.saving import save_atomically
from eventsourcing.serialization import Codec, JSONCodec
from eventsourcing.stores.atomic import StreamAppend
from eventsourcing.stores.base import ANY, EXISTS, NO_STREAM, AppendResult, EventStore, ExpectedVersion
from eventsourcing.stores.factory import open_store
from eventsourcing.stores.memory import MemoryEventStore
from eventsourcing.stores.sql import SQLEventStore

__all__ = [
    "ANY",
    "EXISTS",
    "NO_STREAM",
    "Aggregate",
    "AggregateNotFound",
    "AppendOutcomeUnknown",
    "AppendResult",
    "Codec",
    "Command",
    "CommandBus",
    "CommandError",
    "CommandResult",
    "ConcurrencyError",
    "ConfigurationError",
    "CorruptEvent",
    "CorruptStream",
    "DomainEvent",
    "DuplicateEventId",
    "EventSourcingError",
    "EventStore",
    "ExpectedVersion",
    "InvalidArgument",
    "InvalidCommand",
    "InvalidTimestamp",
    "JSONCodec",
    "MemoryEventStore",
    "NewEvent",
    "ReadOnlyAggregate",
    "RecordedEvent",
    "Repository",
    "SQLEventStore",
    "SchemaMismatch",
    "SerializationError",
    "StoreError",
    "StoreUnavailable",
    "StreamAppend",
    "StreamTypeMismatch",
    "UnknownCommand",
    "UnknownEventType",
    "UnsupportedOperation",
    "aggregates_registry",
    "event",
    "events_registry",
    "on",
    "open_store",
    "save_atomically",
    "upcaster",
]
