"""`@event`: a command method whose signature declares its event and whose body is its handler.

An option beside `@on` for the common aggregate, where a change is "record these arguments, then
apply them"::

    class Book(Aggregate):
        borrower: str = ""

        @event("Lent")
        def lend(self, to: str) -> None:
            self.borrower = to

``book.lend("ann")`` emits ``Book.Lent(to="ann")``, a `DomainEvent` class derived from the method's
parameters when the class is declared (type name ``"Book.Lent"``, schema version 1, registered like
any other), and the body runs as its handler: now, and on every replay. ``@event(Lent)`` uses an
event class declared by hand instead (its fields must be the method's parameters).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from eventsourcing.errors import ConfigurationError
from eventsourcing.events import DomainEvent

if TYPE_CHECKING:
    from eventsourcing.aggregate import Aggregate

P = ParamSpec("P")
A = TypeVar("A", bound="Aggregate")

_RESERVED = frozenset({"event_type", "schema_version", "aliases"})


class EventMethod(Generic[A, P]):
    """What `@event` makes of a method: called on an aggregate, it emits the event built from its
    arguments; `apply` is the event's handler (the method's body). ``event_class`` is the event."""

    def __init__(
        self,
        fn: Callable[Concatenate[A, P], None],
        name: str | type[DomainEvent],
        *,
        event_type: str | None = None,
        schema_version: int = 1,
        aliases: Sequence[str] = (),
    ) -> None:
        self._fn = fn
        self._name = name
        self._options: dict[str, Any] = {"schema_version": schema_version, "aliases": tuple(aliases)}
        if event_type is not None:
            self._options["event_type"] = event_type
        self._signature = inspect.signature(fn)
        parameters = list(self._signature.parameters.values())
        if not parameters:
            raise ConfigurationError(f"@event on {fn.__qualname__}: the method needs `self`")
        self._self = parameters[0].name
        self._fields: tuple[str, ...] = ()
        for parameter in parameters[1:]:
            if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                raise ConfigurationError(
                    f"@event on {fn.__qualname__}: parameter {parameter.name!r} cannot become an event field "
                    "(no *args, **kwargs or positional-only parameters)"
                )
            if parameter.name in _RESERVED or parameter.name.startswith(("_", "model_")):
                raise ConfigurationError(
                    f"@event on {fn.__qualname__}: parameter {parameter.name!r} is a reserved name for an event field"
                )
            self._fields += (parameter.name,)
        self.event_class: type[DomainEvent] = DomainEvent  # replaced when the aggregate class is declared
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def bind(self, owner: type) -> None:
        """Derive (or check) the event class; `Aggregate` calls this when a class declaring the method
        is declared (not `__set_name__`, whose errors Python 3.11 wraps in a RuntimeError)."""
        if self.event_class is not DomainEvent:
            raise ConfigurationError(f"@event method {self._fn.__name__!r} of {owner.__qualname__} is already bound")
        if isinstance(self._name, str):
            self.event_class = self._derive(owner, self._name)
        else:
            self.event_class = self._check(owner, self._name)

    def _derive(self, owner: type, name: str) -> type[DomainEvent]:
        if not name.isidentifier():
            raise ConfigurationError(f"@event({name!r}) on {self._fn.__qualname__}: the name must be an identifier")
        if name in vars(owner):
            raise ConfigurationError(
                f"@event({name!r}) on {self._fn.__qualname__}: {owner.__qualname__} already has an attribute {name!r}"
            )
        try:
            hints = typing.get_type_hints(self._fn, localns=dict(vars(owner)))
        except Exception as err:  # an annotation that does not resolve
            raise ConfigurationError(
                f"@event on {self._fn.__qualname__}: its annotations do not resolve ({err})"
            ) from err
        annotations: dict[str, Any] = {}
        namespace: dict[str, Any] = {
            "__module__": owner.__module__,
            "__qualname__": f"{owner.__qualname__}.{name}",
            "__doc__": f"Emitted by {owner.__qualname__}.{self._fn.__name__}{self._signature}.",
            **self._options,
        }
        for field in self._fields:
            if field not in hints:
                raise ConfigurationError(
                    f"@event on {self._fn.__qualname__}: annotate parameter {field!r} (the event's fields are "
                    "typed by the method's annotations)"
                )
            annotations[field] = hints[field]
            default = self._signature.parameters[field].default
            if default is not inspect.Parameter.empty:
                namespace[field] = default
        namespace["__annotations__"] = annotations
        event_class: type[DomainEvent] = types.new_class(name, (DomainEvent,), {}, lambda ns: ns.update(namespace))
        setattr(owner, name, event_class)
        return event_class

    def _check(self, owner: type, event_class: type[DomainEvent]) -> type[DomainEvent]:
        if not (isinstance(event_class, type) and issubclass(event_class, DomainEvent)):
            raise ConfigurationError(f"@event(...) on {self._fn.__qualname__} takes a name or a DomainEvent subclass")
        declared = set(event_class.model_fields)
        if declared != set(self._fields):
            raise ConfigurationError(
                f"@event({event_class.__qualname__}) on {self._fn.__qualname__}: the method's parameters "
                f"{sorted(self._fields)} must be the event's fields {sorted(declared)}"
            )
        return event_class

    def apply(self, aggregate: A, event: DomainEvent) -> None:
        """The handler: the method's body, called with the event's fields."""
        self._fn(aggregate, **{field: getattr(event, field) for field in self._fields})  # type: ignore[call-arg]

    def emit(self, aggregate: A, /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Build the event from the call's arguments (validated like any event) and emit it."""
        bound = self._signature.bind(aggregate, *args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        del arguments[self._self]
        aggregate.emit(self.event_class(**arguments))

    @overload
    def __get__(self, aggregate: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, aggregate: A, owner: type[Any] | None = None) -> Callable[P, None]: ...

    def __get__(self, aggregate: A | None, owner: type[Any] | None = None) -> Self | Callable[P, None]:
        if aggregate is None:
            return self
        return types.MethodType(self.emit, aggregate)

    def __repr__(self) -> str:
        return f"<@event method {self._fn.__qualname__} -> {self.event_class.__qualname__}>"


@overload
def event(
    name: str, *, event_type: str | None = None, schema_version: int = 1, aliases: Sequence[str] = ()
) -> Callable[[Callable[Concatenate[A, P], None]], EventMethod[A, P]]: ...


@overload
def event(name: type[DomainEvent]) -> Callable[[Callable[Concatenate[A, P], None]], EventMethod[A, P]]: ...


def event(
    name: str | type[DomainEvent],
    *,
    event_type: str | None = None,
    schema_version: int = 1,
    aliases: Sequence[str] = (),
) -> Callable[[Callable[Concatenate[A, P], None]], EventMethod[A, P]]:
    """Declare a command method whose parameters are its event's fields and whose body is its handler.

    ``name``: the event class's name, nested in the aggregate (``@event("Lent")`` → ``Book.Lent``,
    stable type name ``"Book.Lent"`` unless ``event_type=`` pins another), or an event class declared
    by hand. ``schema_version`` and ``aliases`` are the event class's (see `DomainEvent`).

    The body runs whenever the event is applied — when the method is called and on every replay —
    so it only changes state; check the rules in a plain method that then calls this one.
    """
    if not isinstance(name, str) and (event_type is not None or schema_version != 1 or aliases):
        raise ConfigurationError("@event(EventClass) takes no options: set them on the class")

    def decorate(fn: Callable[Concatenate[A, P], None]) -> EventMethod[A, P]:
        return EventMethod(fn, name, event_type=event_type, schema_version=schema_version, aliases=aliases)

    return decorate
