"""`Repository`: load aggregates by replaying their events, save their pending events, travel in time."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import random
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from eventsourcing import context
from eventsourcing.aggregate import Aggregate
from eventsourcing.clock import require_aware
from eventsourcing.errors import AggregateNotFound, ConcurrencyError
from eventsourcing.stores.base import AppendResult, EventStore

A = TypeVar("A", bound=Aggregate)


class Repository(Generic[A]):
    """Loads and saves one aggregate type on an event store.

    ``max_attempts`` bounds `update`'s optimistic retries after a `ConcurrencyError`.
    """

    def __init__(self, aggregate_type: type[A], store: EventStore, *, max_attempts: int = 10) -> None:
        if not (isinstance(aggregate_type, type) and issubclass(aggregate_type, Aggregate)):
            raise TypeError("Repository(aggregate_type, store): aggregate_type must be an Aggregate subclass")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.aggregate_type = aggregate_type
        self.store = store
        self.max_attempts = max_attempts

    async def get(self, aggregate_id: str, *, version: int | None = None, as_of: dt.datetime | None = None) -> A:
        """The aggregate now, after event ``version``, or as it was at ``as_of`` (aware datetime).

        Aggregates loaded with ``version`` or ``as_of`` are read-only views of the past.
        Raises `AggregateNotFound` if the stream has no events (up to that version or time).
        """
        if version is not None and as_of is not None:
            raise ValueError("pass either version= or as_of=, not both")
        if version is not None and version < 1:
            raise ValueError("version starts at 1 (the state after the first event)")
        if as_of is not None:
            as_of = require_aware(as_of, "as_of")
        events = await self.store.read(aggregate_id, to_version=version, as_of=as_of)
        name = self.aggregate_type.type_name
        if not events:
            when = f" at or before {as_of.isoformat()}" if as_of is not None else ""
            raise AggregateNotFound(f"{name} {aggregate_id!r} has no events{when}")
        if version is not None and events[-1].version < version:
            raise AggregateNotFound(
                f"{name} {aggregate_id!r} has {events[-1].version} events; version {version} does not exist"
            )
        historic = version is not None or as_of is not None
        return self.aggregate_type._rebuild(aggregate_id, events, read_only=historic)

    async def save(self, aggregate: A) -> AppendResult | None:
        """Append the aggregate's pending events, expecting the version it was loaded at.

        Raises `ConcurrencyError` if another writer appended first; nothing is stored then, and the
        aggregate keeps its pending events (reload it and decide again).
        """
        if not isinstance(aggregate, self.aggregate_type):
            raise TypeError(f"this repository saves {self.aggregate_type.__name__}, not {type(aggregate).__name__}")
        pending = aggregate._pending
        if not pending:
            return None
        result = await self.store.append(
            aggregate.id,
            pending,
            aggregate.version - len(pending),
            stream_type=self.aggregate_type.type_name,
        )
        aggregate._pending = []
        return result

    async def update(self, aggregate_id: str, change: Callable[[A], Any | Awaitable[Any]]) -> A:
        """Load the latest state, apply ``change``, save; on `ConcurrencyError` reload and run it again.

        ``change`` may be sync or async; its exceptions (domain errors) propagate and nothing is saved.
        Retries are bounded by ``max_attempts``; the last `ConcurrencyError` is raised after them.
        """
        mark = context.mark()
        for attempt in range(1, self.max_attempts + 1):
            aggregate = await self.get(aggregate_id)
            result = change(aggregate)
            if inspect.isawaitable(result):
                await result
            try:
                result = await self.save(aggregate)
            except ConcurrencyError:
                if attempt == self.max_attempts:
                    raise
                context.rewind(mark)  # the next attempt emits the same event ids (idempotent commands)
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))  # de-synchronise the contenders
                continue
            if result is not None and result.version != aggregate.version:
                # The store recognised these event ids as already stored (a retried command): what we
                # applied in memory was not appended, so return the stored state instead.
                return await self.get(aggregate_id)
            return aggregate
        raise AssertionError("unreachable")
