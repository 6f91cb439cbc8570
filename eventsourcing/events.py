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


class RecordedEvent(NamedTuple, Generic[E]):
    """An event as read back from a store, with everything the store knows about it.

    ``position`` is the store's global checkpoint token, JSON-serialisable (an int for the memory and
    SQLite stores, ``[xid, position]`` for PostgreSQL); pass it back as ``read_all(after=...)`` and
    never compare tokens yourself. ``timestamp`` is timezone-aware UTC and never decreases within
    a stream. ``metadata`` holds at least ``correlation_id`` and ``causation_id``.
    """

    event: E
    stream_id: str
    version: int
    position: Any
    timestamp: dt.datetime
    event_id: UUID
    event_type: str
    schema_version: int
    metadata: Mapping[str, Any]
