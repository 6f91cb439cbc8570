"""`Reactor`: a process manager (policy) — handlers that react to events by sending commands.

::

    class Fulfilment(Reactor):
        name = "fulfilment"

        @on(Cart.CheckedOut)
        def checked_out(self, event: RecordedEvent[Cart.CheckedOut], react: Reaction) -> None:
            react.send(StartOrder(cart_id=event.stream_id))
            react.schedule(CancelUnpaid(cart_id=event.stream_id), at=event.timestamp + THIRTY_MINUTES,
                           key=f"unpaid:{event.stream_id}")

        @on(Order.Paid)
        def paid(self, event: RecordedEvent[Order.Paid], react: Reaction) -> None:
            react.cancel(f"unpaid:{event.event.cart_id}")

    runner = ProjectionRunner(store, views, [Fulfilment(bus)])

A reactor runs in the `ProjectionRunner` like a projector: it follows the log from a checkpoint
that moves by compare-and-set, one step at a time, with the same status, poison events and dead
letters. Its *effect* is exactly once although a command may be sent more than once: the id of
the n-th command sent for an event is derived from the event's id and the reactor's name
(`command_id_for`), so a page read again after a crash, or by a second runner, sends the same
commands with the same ids, and the `CommandBus` recognises each as a duplicate. The commands
of an event are dispatched, in order, before the batch's checkpoint commits; a command that
fails (a domain error, an invalid command) is a failure of the handler at that event.

Deadlines (``react.schedule``) are rows of the reactor's deadline table in the view database,
written in the batch's transaction; ``react.cancel`` deletes one in the same way. The runner
fires due deadlines (`ProjectionRunner.fire_deadlines`, and on its own while `run` follows): each
is dispatched with the command id it was scheduled with, then deleted by a commit fenced by the
reactor's checkpoint, so a deadline fired by two processes, or again after a crash, has its effect
once. Due means ``due_at <= clock.now()``: the application clock, which freezegun controls.

A reactor's own state, if it needs any, is an event-sourced aggregate that its commands load and
save. `rebuild` of a reactor re-derives its deadline table from the log but sends nothing for
the events it had already reacted to (those up to its checkpoint before the reset).
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from uuid import UUID, uuid5

from sqlalchemy import Column, MetaData, Table, Text

from eventsourcing import Command, CommandBus, ConfigurationError, DomainEvent, RecordedEvent
from eventsourcing.clock import require_aware
from eventsourcing.projections.projector import Projector
from eventsourcing.projections.view import ViewBatch
from eventsourcing.stores.sql.rows import iso_utc

__all__ = ["DUE", "FIRED", "Reaction", "Reactor", "command_id_for", "deadline_table"]


_SCHEDULE = (
    "INSERT INTO {deadlines} (key, due_at, command_type, payload, command_id, event_id) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at, command_type = excluded.command_type, "
    "payload = excluded.payload, command_id = excluded.command_id, event_id = excluded.event_id"
)
_CANCEL = "DELETE FROM {deadlines} WHERE key = ?"
DUE = "SELECT key, due_at, command_type, payload, command_id FROM {deadlines} WHERE due_at <= ? ORDER BY due_at, key"
FIRED = "DELETE FROM {deadlines} WHERE key = ? AND command_id = ?"


def command_id_for(reactor: str, event_id: UUID, index: int) -> UUID:
    """The id of the ``index``-th command (0-based, sent or scheduled) of reactor ``reactor`` for event ``event_id``."""
    return uuid5(event_id, f"reactor:{reactor}:{index}")


class Reaction:
    """What a reactor's handler does about one event: commands to send now, deadlines to set or cancel."""

    __slots__ = ("_count", "_event", "_reactor", "_sent", "_view")

    def __init__(self, reactor: Reactor, event: RecordedEvent[Any], view: ViewBatch) -> None:
        self._reactor = reactor
        self._event = event
        self._view = view
        self._sent: list[Command] = []
        self._count = 0

    def send(self, command: Command) -> Command:
        """Send ``command`` once this handler returns (its id is derived from the event: see the module doc)."""
        derived = self._derive(command)
        self._sent.append(derived)
        return derived

    def schedule(self, command: Command, *, at: dt.datetime, key: str) -> Command:
        """Send ``command`` at ``at`` (application clock), unless cancelled before; ``key`` names the
        deadline (scheduling the same key again replaces it). Needs ``deadlines = True`` and SQL views."""
        self._require_deadlines()
        due = iso_utc(require_aware(at, "at"))
        derived = self._derive(command)
        payload = derived.model_dump_json(exclude={"command_id"})
        self._view.execute(
            self._reactor.sql[_SCHEDULE],
            (key, due, derived.command_type, payload, str(derived.command_id), str(self._event.event_id)),
        )
        return derived

    def cancel(self, key: str) -> None:
        """Cancel the deadline named ``key`` if it has not fired (nothing happens if there is none)."""
        self._require_deadlines()
        self._view.execute(self._reactor.sql[_CANCEL], (key,))

    @property
    def sent(self) -> list[Command]:
        """The commands to send, in order, with their derived ids."""
        return list(self._sent)

    def _derive(self, command: Command) -> Command:
        command_id = command_id_for(self._reactor.name, self._event.event_id, self._count)
        self._count += 1
        return command.model_copy(update={"command_id": command_id, "correlation_id": self._correlation()})

    def _correlation(self) -> UUID:
        """The triggering event's correlation id (the conversation it belongs to), else the event's id."""
        given = self._event.metadata.get("correlation_id")
        try:
            return UUID(str(given)) if given else self._event.event_id
        except ValueError:
            return self._event.event_id

    def _require_deadlines(self) -> None:
        if not self._reactor.deadlines:
            raise ConfigurationError(f"reactor {self._reactor.name!r} uses deadlines: declare `deadlines = True`")


class Reactor(Projector):
    """Base class for process managers. Subclass it, declare ``@on`` handlers taking ``(event, react)``.

    Construct it with the `CommandBus` its commands go to. Class attributes as for `Projector`
    (``name``, ``stream_types``, ``dead_letters``), plus ``deadlines = True`` for a reactor that
    schedules commands (its deadline table then lives in the view database, which must be SQL).
    """

    deadlines: ClassVar[bool] = False
    sql: ClassVar[dict[str, str]] = {}
    """The deadline statements with this reactor's table name in them (``{<name>_deadlines}``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.deadlines:
            table = deadline_table(cls.name)
            cls.tables = (table,)
            cls.sql = {sql: sql.replace("{deadlines}", f"{{{table.name}}}") for sql in (_SCHEDULE, _CANCEL, DUE, FIRED)}
        cls.__async__ = True  # the runner awaits each handler: sending is I/O

    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus

    def wrap_handler(
        self, handler: Callable[..., Any], sends: Callable[[RecordedEvent[DomainEvent]], bool]
    ) -> Callable[[RecordedEvent[DomainEvent], ViewBatch], Awaitable[None]]:
        """``handler`` as the runner calls it: build the reaction, run the handler, then dispatch its
        commands in order — unless ``sends(event)`` is False (a rebuild re-projecting what was reacted to)."""

        async def react(event: RecordedEvent[DomainEvent], view: ViewBatch) -> None:
            reaction = Reaction(self, event, view)
            result = handler(event, reaction)
            if inspect.isawaitable(result):
                await result
            if reaction._sent and sends(event):
                for command in reaction._sent:
                    await self.bus.dispatch(command, causation_event_id=str(event.event_id))

        return react

    def scheduled(self, command_type: str, payload: str, command_id: str) -> Command:
        """A scheduled command as stored, back as a command with the id it was scheduled with."""
        return self.bus.parse(command_type, payload).model_copy(update={"command_id": UUID(command_id)})


def deadline_table(reactor_name: str) -> Table:
    """The deadline table of a reactor: ``<reactor name>_deadlines`` (other characters than letters,
    digits and ``_`` as ``_``), one row per pending deadline."""
    return Table(
        re.sub(r"\W", "_", reactor_name).lower() + "_deadlines",
        MetaData(),
        Column("key", Text, primary_key=True),
        Column("due_at", Text, nullable=False, index=True),
        Column("command_type", Text, nullable=False),
        Column("payload", Text, nullable=False),
        Column("command_id", Text, nullable=False),
        Column("event_id", Text, nullable=False),
    )
