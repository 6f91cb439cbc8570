"""`Aggregate`: declared state evolved only by `@on` handlers, so replaying events reproduces it."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import reprlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing import clock, context
from eventsourcing.errors import ReadOnlyAggregate
from eventsourcing.event_methods import EventMethod
from eventsourcing.events import DomainEvent, NewEvent, RecordedEvent
from eventsourcing.registry import aggregates_registry, default_type_name

F = TypeVar("F", bound=Callable[..., Any])
A = TypeVar("A", bound="Aggregate")

Handler = Callable[[Any, Any], None]

_IMMUTABLE = (
    str,
    int,
    float,
    bool,
    bytes,
    Decimal,
    UUID,
    dt.datetime,
    dt.date,
    Enum,
    frozenset,
    tuple,
    type(None),
)
_NO_DEFAULT = object()
# Exact types whose instances cannot change, so a copy of an aggregate may share them.
_ATOMIC = frozenset(
    {str, int, float, bool, bytes, Decimal, UUID, dt.datetime, dt.date, dt.time, dt.timedelta, type(None)}
)


def on(*event_types: type[DomainEvent]) -> Callable[[F], F]:
    """Mark a method as the handler that evolves state for these event types."""
    if not event_types or not all(isinstance(t, type) and issubclass(t, DomainEvent) for t in event_types):
        raise TypeError("@on(...) takes one or more DomainEvent subclasses")

    def mark(fn: F) -> F:
        existing: tuple[type[DomainEvent], ...] = getattr(fn, "__on_events__", ())
        fn.__on_events__ = existing + event_types  # type: ignore[attr-defined]
        return fn

    return mark


class Aggregate:
    """Base class for event-sourced aggregates.

    Declare state as annotated class attributes with defaults (mutable defaults are copied per
    instance), events as nested `DomainEvent` subclasses, command methods that validate and call
    `emit`, and `@on(Event)` handlers that change state — or, for the common case, `@event("Name")`
    methods whose signature declares the event and whose body is its handler. ``type_name``
    (default: the class's qualified name) is the stream type stored with every stream of this
    aggregate. A new aggregate's id is `create_id()` (a uuid4 string unless overridden) unless given.
    """

    type_name: ClassVar[str] = ""
    __handlers__: ClassVar[dict[type[DomainEvent], Handler]] = {}
    __state_fields__: ClassVar[tuple[tuple[str, Any, bool], ...]] = ()
    __extra_slots__: ClassVar[bool] = False

    __slots__ = ("__dict__", "_created_on", "_id", "_last_timestamp", "_pending", "_read_only", "_version")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = default_type_name(cls)
        for attr in list(vars(cls).values()):
            if isinstance(attr, EventMethod):
                attr.bind(cls)
        handlers: dict[type[DomainEvent], Handler] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                if isinstance(attr, EventMethod):
                    handlers[attr.event_class] = attr.apply
                for event_type in getattr(attr, "__on_events__", ()):
                    handlers[event_type] = attr
        cls.__handlers__ = handlers
        cls.__state_fields__ = tuple(_state_fields(cls))
        cls.__extra_slots__ = any("__slots__" in vars(klass) for klass in cls.__mro__[: cls.__mro__.index(Aggregate)])
        aggregates_registry.register(cls)

    def __init__(self, id: str | None = None) -> None:
        self._id = type(self).create_id() if id is None else id
        self._version = 0
        self._created_on: dt.datetime | None = None
        self._pending: list[NewEvent] = []
        self._read_only = False
        self._last_timestamp: dt.datetime | None = None
        for name, default, needs_copy in self.__state_fields__:
            if default is not _NO_DEFAULT:
                setattr(self, name, copy.deepcopy(default) if needs_copy else default)

    @classmethod
    def create_id(cls) -> str:
        """The id of a new aggregate created without one: a uuid4 string. Override it for other ids
        (deterministic ones in tests, say); to derive an id from data, pass ``id=`` instead."""
        return str(uuid4())

    @property
    def id(self) -> str:
        return self._id

    @property
    def version(self) -> int:
        """Number of events applied (0 for a new aggregate), pending ones included."""
        return self._version

    @property
    def pending_events(self) -> tuple[NewEvent, ...]:
        return tuple(self._pending)

    @property
    def read_only(self) -> bool:
        """True for an aggregate rebuilt for a past version or time."""
        return self._read_only

    @property
    def last_event_at(self) -> dt.datetime | None:
        """Timestamp of the last event applied (None for a new aggregate); the same as `modified_on`."""
        return self._last_timestamp

    @property
    def created_on(self) -> dt.datetime | None:
        """Timestamp of the aggregate's first event (None before it has one)."""
        return self._created_on

    @property
    def modified_on(self) -> dt.datetime | None:
        """Timestamp of the last event applied, pending ones included (None for a new aggregate)."""
        return self._last_timestamp

    def collect_events(self) -> list[NewEvent]:
        """Take the pending events (the aggregate forgets them)."""
        pending, self._pending = self._pending, []
        return pending

    def emit(self, event: DomainEvent) -> None:
        """Apply ``event`` to the state now and queue it to be saved."""
        if self._read_only:
            raise ReadOnlyAggregate(
                f"{self.type_name} {self._id!r} was loaded as of version {self._version}: it is a view of "
                "the past and cannot emit events; load the latest version to change it"
            )
        if not isinstance(event, DomainEvent):
            raise TypeError(f"emit() takes a DomainEvent, got {type(event).__name__}")
        timestamp = clock.now()
        if self._last_timestamp is not None and timestamp < self._last_timestamp:
            timestamp = self._last_timestamp  # keep timestamps non-decreasing within the stream
        self._apply(event)
        if self._version == 0:
            self._created_on = timestamp
        self._version += 1
        self._last_timestamp = timestamp
        self._pending.append(NewEvent(event, context.next_event_id(), timestamp, context.current_metadata()))

    def _apply(self, event: DomainEvent) -> None:
        handler = self.__handlers__.get(type(event))
        if handler is None:
            handler = self._handler_for_subclass(type(event))
        if handler is not None:
            handler(self, event)

    @classmethod
    def _handler_for_subclass(cls, event_type: type[DomainEvent]) -> Handler | None:
        for base in event_type.__mro__[1:]:
            handler = cls.__handlers__.get(base)
            if handler is not None:
                cls.__handlers__[event_type] = handler
                return handler
        return None

    @classmethod
    def _rebuild(
        cls: type[A],
        aggregate_id: str,
        events: Iterable[RecordedEvent[DomainEvent]],
        *,
        start: A | None = None,
        read_only: bool = False,
    ) -> A:
        """Replay recorded events (onto ``start`` if given, e.g. a snapshot's state)."""
        aggregate = cls(aggregate_id) if start is None else start
        handlers = cls.__handlers__
        records = iter(events)
        first = next(records, None)
        if first is None:
            aggregate._read_only = read_only
            return aggregate
        if first.version == 1:
            aggregate._created_on = first.timestamp
        last = first
        for last in itertools.chain((first,), records):
            event = last.event
            handler = handlers.get(type(event)) or cls._handler_for_subclass(type(event))
            if handler is not None:
                handler(aggregate, event)
        if last is not None:
            aggregate._version = last.version
            aggregate._last_timestamp = last.timestamp
        aggregate._read_only = read_only
        return aggregate

    @classmethod
    def _replay(
        cls: type[A],
        aggregate_id: str,
        events: Iterable[DomainEvent],
        version: int,
        timestamp: dt.datetime | None,
        *,
        start: A | None = None,
        read_only: bool = False,
        created_on: dt.datetime | None = None,
    ) -> A:
        """Like `_rebuild`, from bare events and the version and timestamp of the last one (and of the
        first event of the stream, when these events start with it)."""
        aggregate = cls(aggregate_id) if start is None else start
        if created_on is not None:
            aggregate._created_on = created_on
        handlers = cls.__handlers__
        for event in events:
            handler = handlers.get(type(event)) or cls._handler_for_subclass(type(event))
            if handler is not None:
                handler(aggregate, event)
        if version:
            aggregate._version = version
            aggregate._last_timestamp = timestamp
        aggregate._read_only = read_only
        return aggregate

    def _clone(self: A) -> A:
        """An independent copy of this aggregate without its pending events (for the repository's cache).

        Immutable values are shared and everything else is deep-copied (one memo, so values shared
        between fields stay shared), so no change to either copy can reach the other.
        """
        cls = type(self)
        if cls.__extra_slots__:
            clone = copy.deepcopy(self)
            clone._pending = []
            return clone
        clone = cls.__new__(cls)
        clone._id = self._id
        clone._version = self._version
        clone._pending = []
        clone._read_only = self._read_only
        clone._last_timestamp = self._last_timestamp
        clone._created_on = self._created_on
        memo: dict[int, Any] = {}
        clone.__dict__.update(
            (name, value if type(value) in _ATOMIC else copy.deepcopy(value, memo))
            for name, value in self.__dict__.items()
        )
        return clone

    def state(self) -> dict[str, Any]:
        """The declared state fields and their current values."""
        return {name: getattr(self, name) for name, _, _ in self.__state_fields__ if hasattr(self, name)}

    def __repr__(self) -> str:
        """``Cart(id='c-1', version=2, modified_on=2026-12-04T10:00:00+00:00, customer_id='alice', ...)``:
        identity first, then the state, long values shortened (a log line, not a dump)."""
        parts = [f"id={self._id!r}", f"version={self._version}"]
        if self._last_timestamp is not None:
            parts.append(f"modified_on={self._last_timestamp.isoformat()}")
        if self._pending:
            parts.append(f"pending={len(self._pending)}")
        if self._read_only:
            parts.append("read_only=True")
        parts += [f"{name}={_short.repr(value)}" for name, value in self.state().items()]
        return f"{type(self).__name__}({', '.join(parts)})"


_short = reprlib.Repr()
_short.maxdict = _short.maxlist = _short.maxtuple = _short.maxset = 8
_short.maxstring = _short.maxother = 80


def _state_fields(cls: type) -> Iterable[tuple[str, Any, bool]]:
    seen: set[str] = set()
    for klass in cls.__mro__:
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if name in seen or name.startswith("_") or _is_classvar(annotation):
                continue
            seen.add(name)
            default = getattr(cls, name, _NO_DEFAULT)
            yield name, default, not isinstance(default, _IMMUTABLE) and default is not _NO_DEFAULT


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))
