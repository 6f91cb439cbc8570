"""Which declared class answers to a stored event type name, and how old schema versions are upcast.

Stored data names an event by its stable type name (``"ShoppingCart.ItemAdded"``,
``"cart.item_added"``), never by a module path, and the name is resolved only against classes
that have been declared in this process. Nothing named in stored data is ever imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eventsourcing.errors import ConfigurationError, SchemaMismatch, UnknownEventType

if TYPE_CHECKING:
    from eventsourcing.events import DomainEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    """Type name (and aliases) → event class, plus upcasters keyed by (type name, from version)."""

    def __init__(self) -> None:
        self._by_name: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[str, dict[int, Upcaster]] = {}
        self.generation = 0
        """Bumped on every change, so that decoders cached from it know when to forget."""

    def register(self, cls: type[DomainEvent]) -> None:
        for name in (cls.event_type, *cls.aliases):
            existing = self._by_name.get(name)
            if existing is not None and existing is not cls and not _same_origin(existing, cls):
                raise ConfigurationError(
                    f"event type name {name!r} is declared twice: by {_where(existing)} and by {_where(cls)}; "
                    "give one of them another name (class attribute `event_type`)"
                )
            self._by_name[name] = cls
        self.generation += 1

    def forget(self, name: str) -> None:
        """Remove a name (tests use this to simulate data written by code this process lacks)."""
        self._by_name.pop(name, None)
        self.generation += 1

    def resolve(self, name: str) -> type[DomainEvent]:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownEventType(
                f"unknown event type {name!r}: no declared DomainEvent has this name or alias "
                "(import the module that declares it, or add the old name to the class's `aliases`)"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def add_upcaster(self, cls: type[DomainEvent], from_version: int, fn: Upcaster) -> None:
        if not 1 <= from_version < cls.schema_version:
            raise ConfigurationError(
                f"upcaster for {cls.event_type!r} from version {from_version}: the class is at version "
                f"{cls.schema_version}, so upcasters exist for versions 1..{cls.schema_version - 1}"
            )
        self._upcasters.setdefault(cls.event_type, {})[from_version] = fn
        self.generation += 1

    def upcast(self, cls: type[DomainEvent], stored_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring ``data`` stored at ``stored_version`` to ``cls.schema_version`` (v1→v2→v3...)."""
        if stored_version > cls.schema_version:
            raise SchemaMismatch(
                f"event {cls.event_type!r} was stored at schema version {stored_version}, newer than this "
                f"code's version {cls.schema_version}; upgrade the code that reads it"
            )
        chain = self._upcasters.get(cls.event_type, {})
        for version in range(stored_version, cls.schema_version):
            step = chain.get(version)
            if step is None:
                raise SchemaMismatch(
                    f"event {cls.event_type!r} stored at schema version {stored_version} needs an upcaster "
                    f"from version {version} to {version + 1}; none is registered"
                )
            data = step(data)
        return data


def _same_origin(a: type, b: type) -> bool:
    """A re-declaration of the same class (module reload, a test defining it again) replaces it."""
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def default_type_name(cls: type) -> str:
    """``__qualname__`` without ``<locals>`` parts: ``"ShoppingCart.ItemAdded"`` for a nested class."""
    return ".".join(part for part in cls.__qualname__.split(".") if part != "<locals>")


events_registry = EventRegistry()
"""The process-wide registry every `DomainEvent` subclass registers itself in when declared."""


class AggregateRegistry:
    """Aggregate type name → class, so tools (the CLI) can resolve the type named on a stream."""

    def __init__(self) -> None:
        self._by_name: dict[str, type] = {}

    def register(self, cls: type) -> None:
        name: str = cls.type_name  # type: ignore[attr-defined]
        existing = self._by_name.get(name)
        if existing is not None and existing is not cls and not _same_origin(existing, cls):
            raise ConfigurationError(
                f"aggregate type name {name!r} is declared twice: by {_where(existing)} and by {_where(cls)}; "
                "give one of them another name (class attribute `type_name`)"
            )
        self._by_name[name] = cls

    def resolve(self, name: str) -> type:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise ConfigurationError(f"unknown aggregate type {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)


aggregates_registry = AggregateRegistry()
"""The process-wide registry every `Aggregate` subclass registers itself in when declared."""


def upcaster(cls: type[DomainEvent], *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Declare how a stored payload of ``cls`` at ``from_version`` becomes ``from_version + 1``.

    ::

        @upcaster(ItemAdded, from_version=1)
        def _add_currency(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "currency": "EUR"}
    """

    def decorate(fn: Upcaster) -> Upcaster:
        events_registry.add_upcaster(cls, from_version, fn)
        return fn

    return decorate
