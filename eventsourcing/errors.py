"""The library's error tree. Every error raised on purpose derives from `EventSourcingError`.

    EventSourcingError
    ├── ConcurrencyError            another writer got there first (retryable: reload and decide again)
    ├── DuplicateEventId            a batch reuses event ids in a way that is not an exact retry
    ├── StreamTypeMismatch          an append or read names another type than the stream was created with
    ├── AggregateNotFound           no events for the stream (or none up to the version / time asked for)
    ├── ReadOnlyAggregate           emit() on an aggregate rebuilt for a past version or time
    ├── InvalidArgument (ValueError) a bad argument to a store or repository call (names it); nothing stored
    ├── InvalidTimestamp (ValueError) a naive or otherwise unusable timestamp
    ├── CorruptStream               a read found a hole in a stream's versions or a count mismatch
    ├── SerializationError          an event could not be encoded or decoded
    │   ├── UnknownEventType        a stored type name that no declared class answers to
    │   ├── SchemaMismatch          stored schema version cannot be brought to the current one
    │   └── CorruptEvent            a stored payload that does not decode into its declared class
    ├── CommandError
    │   ├── UnknownCommand          no handler for this command type
    │   └── InvalidCommand          the command payload fails validation
    ├── ConfigurationError          a bad store URL, a missing extra, a duplicate type name
    ├── UnsupportedOperation        this store cannot keep the call's promise (e.g. an atomic append to
    │                               several streams on Kafka); nothing stored
    └── StoreError                  the backend failed; the driver's exception is the __cause__
        ├── KafkaLogLost            (eventsourcing.stores.kafka) the Kafka log lost what the store's
        │                           index had read (a broker back empty, topics gone): the store stops
        └── StoreUnavailable        the backend cannot be reached or opened
            └── AppendOutcomeUnknown  the store cannot tell whether an append was stored:
                                      re-send the same events (same ids) to settle it

Backends translate driver exceptions into these at their boundary with ``raise ... from err``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


class EventSourcingError(Exception):
    """Root of every error this library raises on purpose."""


class ConcurrencyError(EventSourcingError):
    """The stream's version was not the expected one: another writer appended first.

    Nothing of the rejected batch was stored. Reload the aggregate and decide again.
    """

    def __init__(self, stream_id: str, expected: Any, actual: int | None, detail: str = "") -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        message = f"stream {stream_id!r}: expected version {expected!r}, actual version {actual}"
        super().__init__(f"{message} ({detail})" if detail else message)


class DuplicateEventId(EventSourcingError):
    """Some, but not all, of a batch's event ids are already stored (or stored in another stream).

    An exact retry of an append that succeeded is not an error; this is a batch that mixes
    new events with already-stored ones, which would otherwise store events twice.
    """


class StreamTypeMismatch(EventSourcingError):
    """An append or a read named a stream type other than the one the stream was created with: a
    stream id is being reused for another kind of aggregate. Nothing of an append was stored; a read
    returns nothing rather than an aggregate built from another type's events."""

    def __init__(self, stream_id: str, given: str, stored: str, *, operation: str = "append") -> None:
        self.stream_id = stream_id
        self.given = given
        self.stored = stored
        self.operation = operation
        if operation == "append":
            advice = "it cannot take an append as {given!r} (use another stream id for the new aggregate)"
        else:
            advice = "it cannot be read as {given!r} (check the aggregate type and the stream id)"
        super().__init__(f"stream {stream_id!r} holds {stored!r} events; " + advice.format(given=given))


class CorruptStream(EventSourcingError):
    """A read found a stream whose stored versions are not contiguous (a hole) or fewer than its head
    says: the stored data was damaged or altered outside the library. Nothing is returned rather than
    an aggregate folded from part of its history. ``missing`` lists the absent versions (the first
    ones, when there are many)."""

    def __init__(self, stream_id: str, missing: list[int], detail: str = "") -> None:
        self.stream_id = stream_id
        self.missing = missing
        shown = ", ".join(map(str, missing[:20])) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        message = f"stream {stream_id!r} is corrupt: version(s) {shown} missing"
        super().__init__(f"{message} ({detail})" if detail else message)


class AggregateNotFound(EventSourcingError):
    """The stream has no events (or none up to the requested version or time)."""


class ReadOnlyAggregate(EventSourcingError):
    """The aggregate was rebuilt for a past version or time; it cannot emit events."""


class InvalidArgument(EventSourcingError, ValueError):
    """An argument a store or repository cannot use (a version that is not an int, a position of
    another store, an event id that is not a UUID, a stream id with a NUL...). The message names the
    argument; nothing was stored. A `ValueError` too, so ``except ValueError`` keeps working."""


class InvalidTimestamp(EventSourcingError, ValueError):
    """A timestamp that cannot be used: naive (no timezone), or not a datetime at all."""


class SerializationError(EventSourcingError):
    """An event could not be encoded or decoded.

    Raised while reading stored events, it says where the event is (``undecodable``), with the
    events of the same read that decoded before it, so a reader can stop or skip exactly there.
    """

    undecodable: Undecodable | None = None


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A stored event that does not decode: where it is, and the events read before it that did."""

    stream_id: str
    version: int
    position: Any
    event_id: UUID
    event_type: str
    schema_version: int
    preceding: list[Any]
    """The events of the same read, before this one, decoded (`RecordedEvent`s)."""


def locate(
    err: SerializationError,
    *,
    stream_id: str,
    version: int,
    position: Any,
    event_id: UUID | bytes,
    event_type: str,
    schema_version: int,
    preceding: list[Any],
) -> None:
    """Record on ``err`` which stored event failed to decode (stores call this before re-raising)."""
    if err.undecodable is None:
        uuid = UUID(bytes=event_id) if isinstance(event_id, bytes) else event_id
        err.undecodable = Undecodable(stream_id, version, position, uuid, event_type, schema_version, preceding)


class UnknownEventType(SerializationError):
    """A stored event type name that no declared `DomainEvent` subclass answers to.

    Import the module that declares the event (for the CLI: pass ``--app MODULE``), or declare the
    old name in the class's ``aliases``.
    """


class SchemaMismatch(SerializationError):
    """A stored schema version that cannot be brought to the class's version (newer, or a missing upcaster)."""


class CorruptEvent(SerializationError):
    """A stored payload that cannot be decoded into its declared event class."""


class CommandError(EventSourcingError):
    """A command could not be dispatched."""


class UnknownCommand(CommandError):
    """No handler is registered for the command's type."""


class InvalidCommand(CommandError):
    """The command's payload does not validate."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ConfigurationError(EventSourcingError):
    """The library was set up wrongly: bad URL, missing optional dependency, clashing type names."""


class UnsupportedOperation(EventSourcingError):
    """This store cannot do what was asked with the guarantees the call promises (e.g. an atomic
    append to several streams on the Kafka store); nothing was stored. The message says what it can do."""


class StoreError(EventSourcingError):
    """The storage backend failed. The driver's own exception is kept as ``__cause__``."""


class StoreUnavailable(StoreError):
    """The storage backend cannot be reached or opened."""


class AppendOutcomeUnknown(StoreUnavailable):
    """The store cannot tell whether an append was stored (the connection or the broker went away
    after the request was sent). Re-send the same events, with the same event ids: an append that
    was stored is recognised as a retry and returns its original result; one that was not is stored
    now. Never build new events for the retry: that could store the change twice."""

    def __init__(self, stream_id: str, detail: str) -> None:
        self.stream_id = stream_id
        super().__init__(
            f"stream {stream_id!r}: the outcome of the append is unknown ({detail}); "
            "re-send the same events (same ids) to settle it"
        )
