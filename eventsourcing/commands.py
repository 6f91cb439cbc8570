"""Commands: pydantic models routed to one handler each, idempotent on the command id.

Inside a handler, events get ids derived from the command id, so running a command again (a
client retry, a redelivered message) re-derives the same ids. The bus checks for the command's
first event id before running the handler, and the store refuses to store an id twice, so a
retried command never emits twice — including when two deliveries race.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventsourcing import context
from eventsourcing.errors import CommandError, ConfigurationError, DuplicateEventId, InvalidCommand, UnknownCommand
from eventsourcing.registry import default_type_name
from eventsourcing.stores.base import AppendResult, EventStore

C = TypeVar("C", bound="Command")
Handler = Callable[[Any], Awaitable[Any]]


class Command(BaseModel):
    """A request to change state. ``command_id`` is the idempotency key: reuse it when retrying."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_type: ClassVar[str] = ""

    command_id: UUID = Field(default_factory=uuid4)
    correlation_id: UUID | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "command_type" not in cls.__dict__:
            cls.command_type = default_type_name(cls)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What dispatching did: the handler's return value, or ``duplicate=True`` if it had run before.

    ``appended`` says where the command's events landed, one `AppendResult` per save (for a
    duplicate: where its first event is), so a caller can wait for projections to reach
    ``position`` before reading a view (read-your-writes).
    """

    command_id: UUID
    value: Any = None
    duplicate: bool = False
    appended: tuple[AppendResult, ...] = ()

    @property
    def position(self) -> Any:
        """The position of the command's last stored event (None if it stored nothing)."""
        return self.appended[-1].position if self.appended else None


class CommandBus:
    """Routes commands to handlers (one per command type) with idempotency on ``command_id``."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._handlers: dict[type[Command], Handler] = {}
        self._by_name: dict[str, type[Command]] = {}

    def handler(
        self, command_type: type[C]
    ) -> Callable[[Callable[[C], Awaitable[Any]]], Callable[[C], Awaitable[Any]]]:
        """Register ``async def handle(command) -> Any`` for ``command_type``."""

        def register(fn: Callable[[C], Awaitable[Any]]) -> Callable[[C], Awaitable[Any]]:
            if command_type in self._handlers:
                raise ConfigurationError(f"{command_type.__name__} already has a handler")
            self._handlers[command_type] = fn
            self._by_name[command_type.command_type] = command_type
            return fn

        return register

    @property
    def command_types(self) -> Mapping[str, type[Command]]:
        return dict(self._by_name)

    async def dispatch(self, command: Command, **metadata: Any) -> CommandResult:
        """Run the command's handler once per ``command_id``; ``metadata`` is stored with its events.

        A command whose first event is already stored is a duplicate: the handler does not run.
        Reusing a ``command_id`` for a different payload is refused with `CommandError`.
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            raise UnknownCommand(f"no handler registered for command {type(command).__name__}")
        digest = _digest(command)
        first_id = context.first_event_id(command.command_id)
        if (first := await self._already_ran(command, first_id, digest)) is not None:
            return CommandResult(command.command_id, duplicate=True, appended=(first,))
        try:
            with context.command_context(
                command.command_id, correlation_id=command.correlation_id, command_digest=digest, **metadata
            ) as ctx:
                value = await handler(command)
        except DuplicateEventId:
            # A concurrent delivery of the same command stored its events first (e.g. one that
            # creates an aggregate with a new id, so the versions did not collide).
            if (first := await self._already_ran(command, first_id, digest)) is not None:
                return CommandResult(command.command_id, duplicate=True, appended=(first,))
            raise
        return CommandResult(command.command_id, value=value, appended=tuple(ctx.appended))

    async def _already_ran(self, command: Command, first_id: UUID, digest: str) -> AppendResult | None:
        """Where the command's first event is stored, or None if it never ran."""
        recorded = await self.store.get_event(first_id)
        if recorded is None:
            return None
        stored_digest = recorded.metadata.get("command_digest")
        if stored_digest is not None and stored_digest != digest:
            raise CommandError(
                f"command id {command.command_id} was already used for a different {type(command).__name__} "
                "payload; a retry must resend the same command, a new command needs a new id"
            )
        return AppendResult(recorded.stream_id, recorded.version, recorded.position)

    def parse(self, command_type: str, payload: Mapping[str, Any] | str | bytes) -> Command:
        """Validate an untrusted payload into a command; `InvalidCommand` lists what is wrong."""
        cls = self._by_name.get(command_type)
        if cls is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownCommand(f"unknown command type {command_type!r} (known: {known})")
        try:
            if isinstance(payload, str | bytes):
                return cls.model_validate_json(payload)
            return cls.model_validate(payload)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(payload)'}: {e['msg']}" for e in err.errors())
            raise InvalidCommand(f"invalid {command_type}: {problems}", err.errors()) from err  # type: ignore[arg-type]

    async def dispatch_raw(
        self, command_type: str, payload: Mapping[str, Any] | str | bytes, **metadata: Any
    ) -> CommandResult:
        return await self.dispatch(self.parse(command_type, payload), **metadata)


def _digest(command: Command) -> str:
    """What the command asks for (its type and fields, ids excluded), to detect a reused command id."""
    body = command.model_dump_json(exclude={"command_id", "correlation_id"})
    return hashlib.sha256(f"{command.command_type}:{body}".encode()).hexdigest()[:32]
