"""Events: what users declare (`DomainEvent`), what waits to be stored (`NewEvent`), what is read back
(`RecordedEvent`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from eventsourcing.errors import ConfigurationError
from eventsourcing.registry import default_type_name, events_registry


class DomainEvent(BaseModel):
    """An immutable fact. Subclass it and declare typed fields; the framework supplies the metadata.

    Class attributes (no annotation needed in subclasses):

    - ``event_type``: the stable name stored with the event. Default: the class's qualified name
      without its module (``"ShoppingCart.ItemAdded"`` for a class nested in ``ShoppingCart``).
      Set it explicitly (``event_type = "cart.item_added"``) before renaming or moving classes.
    - ``schema_version``: 1 by default; bump it when the payload's shape changes and register an
      upcaster from the previous version (see `eventsourcing.upcaster`).
    - ``aliases``: former type names that still resolve to this class.
    """

    # extra="ignore": a field removed from the class must not make old payloads unreadable.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1
    aliases: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = default_type_name(cls)
        if not isinstance(cls.schema_version, int) or cls.schema_version < 1:
            raise ConfigurationError(f"{cls.__qualname__}.schema_version must be an int >= 1")
        events_registry.register(cls)


E = TypeVar("E", bound=DomainEvent, covariant=True)

EMPTY_METADATA: Mapping[str, Any] = MappingProxyType({"correlation_id": None, "causation_id": None})


class NewEvent(NamedTuple):
    """An emitted event waiting to be appended: the event plus the metadata the store will keep."""

    event: DomainEvent
    event_id: UUID
    timestamp: dt.datetime
    metadata: Mapping[str, Any] = EMPTY_METADATA


class RecordedEvent(Generic[E]):
    """An event as read back from a store, with everything the store knows about it. Read-only.

    ``position`` is the store's global checkpoint token, JSON-serialisable (an int for the memory and
    SQLite stores, ``[xid, position]`` for PostgreSQL); pass it back as ``read_all(after=...)`` and
    never compare tokens yourself. ``timestamp`` is timezone-aware UTC and never decreases within
    a stream. ``metadata`` holds at least ``correlation_id`` and ``causation_id``.

    The event is decoded when the record is read (so corrupt data is reported then); ``event_id``
    and ``timestamp`` are converted from their stored form on first access, which keeps replays
    and log reads from paying for values most of them never look at.
    """

    __slots__ = (
        "_event",
        "_event_id",
        "_event_type",
        "_metadata",
        "_position",
        "_schema_version",
        "_stream_id",
        "_timestamp",
        "_version",
    )

    def __init__(
        self,
        event: E,
        stream_id: str,
        version: int,
        position: Any,
        timestamp: dt.datetime | str,
        event_id: UUID | bytes,
        event_type: str,
        schema_version: int,
        metadata: Mapping[str, Any],
    ) -> None:
        self._event = event
        self._stream_id = stream_id
        self._version = version
        self._position = position
        self._timestamp = timestamp  # a datetime, or the stored ISO 8601 text (converted on access)
        self._event_id = event_id  # a UUID, or its 16 stored bytes (converted on access)
        self._event_type = event_type
        self._schema_version = schema_version
        self._metadata = metadata

    @property
    def event(self) -> E:
        return self._event

    @property
    def stream_id(self) -> str:
        return self._stream_id

    @property
    def version(self) -> int:
        return self._version

    @property
    def position(self) -> Any:
        return self._position

    @property
    def timestamp(self) -> dt.datetime:
        value = self._timestamp
        if isinstance(value, str):
            value = self._timestamp = dt.datetime.fromisoformat(value)
        return value

    @property
    def event_id(self) -> UUID:
        value = self._event_id
        if isinstance(value, bytes):
            value = self._event_id = UUID(bytes=value)
        return value

    @property
    def event_type(self) -> str:
        """The type name the event was stored under (an alias if it was stored under an old name)."""
        return self._event_type

    @property
    def schema_version(self) -> int:
        """The schema version the event was stored at (the event itself is upcast to the current one)."""
        return self._schema_version

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self._metadata

    def _key(self) -> tuple[Any, ...]:
        return (
            self.event,
            self.stream_id,
            self.version,
            self.position,
            self.timestamp,
            self.event_id,
            self.event_type,
            self.schema_version,
            dict(self.metadata),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedEvent):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.event_id, self.stream_id, self.version))

    def __repr__(self) -> str:
        return (
            f"RecordedEvent(stream_id={self.stream_id!r}, version={self.version}, position={self.position!r}, "
            f"event_type={self.event_type!r}, event={self.event!r})"
        )
