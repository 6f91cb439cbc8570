"""`Projector`: declares a query view (SQL tables) and the `@on(Event)` handlers that maintain it.

::

    counters = Table("counters", MetaData(), Column("id", Text, primary_key=True), Column("n", Integer))

    class Counters(Projector):
        name = "counters"
        tables = (counters,)

        @on(Account.Deposited)
        def deposited(self, event: RecordedEvent[Account.Deposited], view: ViewBatch) -> None:
            view.add("counters", event.stream_id, n=1)

Handlers are synchronous and record their writes on the batch's `ViewBatch` (see `eventsourcing.projections.view`).
A handler that must read the view in the middle of a batch is declared ``async def`` and awaits
``view.fetch(...)``; such projectors take a slower path (a transaction is opened before the
handlers run), so keep handlers synchronous where you can.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from sqlalchemy import Table

from eventsourcing import DomainEvent, RecordedEvent, on

__all__ = ["Projector", "on"]

Handler = Callable[..., Any]


class Projector:
    """Base class for projectors. Subclass it, declare ``tables`` and ``@on`` handlers.

    Class attributes:

    - ``name``: the checkpoint's key; keep it stable (default: the class's qualified name).
    - ``tables``: the SQLAlchemy `Table`s of the view (created if missing; dropped by a rebuild).
      Refer to them in SQL as ``{table_name}``.
    - ``stream_types``: read only streams of these aggregate types (None: the whole log).
    - ``dead_letters``: when a handler raises, record the event in the dead-letter table and skip
      it, instead of stopping the projector (the default) at the last good checkpoint.
    """

    name: ClassVar[str] = ""
    tables: ClassVar[Sequence[Table]] = ()
    stream_types: ClassVar[Sequence[str] | None] = None
    dead_letters: ClassVar[bool] = False

    __handlers__: ClassVar[dict[type[DomainEvent], Handler]] = {}
    __async__: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__qualname__
        handlers: dict[type[DomainEvent], Handler] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for event_type in getattr(attr, "__on_events__", ()):
                    handlers[event_type] = attr
        cls.__handlers__ = handlers
        cls.__async__ = any(inspect.iscoroutinefunction(fn) for fn in handlers.values())

    def reset_views(self) -> None:
        """Clear a view kept in Python objects (`ViewBatch.call`), before a rebuild projects the log into it again.

        SQL views need nothing here (the runner drops and re-creates their tables). A projector with
        in-process views overrides this; without it, such a projector cannot be rebuilt once it has
        applied events (the runner would count them twice).
        """
        raise NotImplementedError

    acknowledges: ClassVar[bool] = False
    """Whether the runner must await `acknowledge` before each commit (a relay: its records)."""

    def wrap_handler(self, handler: Handler, sends: Callable[[RecordedEvent[DomainEvent]], bool]) -> Handler:
        """``handler`` as the runner calls it, ``(event, view)``. Projectors whose effect lies outside
        the view (reactors send commands, relays publish records) wrap their handlers here; ``sends``
        says whether an event's effect is due (not for a view as of a time, nor for what a rebuild
        projects again that was already sent)."""
        return handler

    async def acknowledge(self) -> None:
        """Wait until the effects handed out since the last call are done (see `acknowledges`)."""

    def handlers(self) -> dict[type[DomainEvent], Handler]:
        """Event class -> this instance's bound handler."""
        return {event_type: fn.__get__(self) for event_type, fn in self.__handlers__.items()}

    @property
    def has_async_handlers(self) -> bool:
        return self.__async__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
