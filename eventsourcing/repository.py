"""`Repository`: load aggregates by replaying their events, save their pending events, travel in time."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import random
import typing
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from eventsourcing import context
from eventsourcing.aggregate import Aggregate
from eventsourcing.clock import require_aware
from eventsourcing.errors import (
    AggregateNotFound,
    ConcurrencyError,
    EventSourcingError,
    InvalidArgument,
    StreamTypeMismatch,
)
from eventsourcing.events import DomainEvent
from eventsourcing.snapshotting import Snapshot, SnapshotPolicy, SnapshotStore, StateCodec, snapshots_to_keep
from eventsourcing.stores.base import MAX_VERSION, AppendResult, EventStore
from eventsourcing.stores.replay import ReadsStreamEvents, StreamEvents, stream_events

A = TypeVar("A", bound=Aggregate)

logger = logging.getLogger(__name__)

_AS_OF_WINDOW = 1000  # events read per window when loading as of a time
_TYPED_IDS = 4096  # stream ids whose type a repository remembers having checked


class Repository(Generic[A]):
    """Loads and saves one aggregate type on an event store.

    ``snapshots`` (a `SnapshotStore`) lets loads start from the newest valid snapshot at or before
    the wanted version or time; ``snapshot_policy`` (e.g. ``EveryNEvents(100)``) decides when to
    write one. ``max_attempts`` bounds `update`'s optimistic retries after a `ConcurrencyError`.

    ``cache_size`` (default 0: off) keeps that many recently loaded aggregates in memory, least
    recently used dropped first. A cached aggregate is only ever a prefix of its stream: `get`
    still reads the events stored after its version (written by anyone) and applies them, so it
    returns the latest state while replaying only what it has not seen. Only states rebuilt from
    stored events are cached (not what a save holds in memory), and callers get a copy, never the
    cached instance. Loads with ``version=`` or ``as_of=`` do not use the cache; a cache hit does
    not read snapshots.
    """

    def __init__(
        self,
        aggregate_type: type[A],
        store: EventStore,
        *,
        snapshots: SnapshotStore | None = None,
        snapshot_policy: SnapshotPolicy | None = None,
        max_attempts: int = 10,
        cache_size: int = 0,
    ) -> None:
        if not (isinstance(aggregate_type, type) and issubclass(aggregate_type, Aggregate)):
            raise TypeError("Repository(aggregate_type, store): aggregate_type must be an Aggregate subclass")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError("cache_size must be an int >= 0 (0: no cache)")
        if snapshot_policy is not None and snapshots is None:
            raise ValueError("a snapshot_policy needs a snapshot store: pass snapshots=...")
        self.aggregate_type = aggregate_type
        self.store = store
        self.snapshots = snapshots
        self.snapshot_policy = snapshot_policy
        self.max_attempts = max_attempts
        self._codec = StateCodec.of(aggregate_type) if snapshots is not None else None
        self.cache_size = cache_size
        # Cached aggregates are never changed once cached (concurrent gets clone them), only replaced.
        self._cache: OrderedDict[str, A] = OrderedDict()
        self._typed: OrderedDict[str, None] = OrderedDict()  # stream ids whose type was checked (bounded)
        # Only a store whose class offers read_events: a wrapper that forwards unknown attributes to
        # the store it wraps (a tracing decorator, say) keeps seeing every read through its own `read`.
        self._reads_events = callable(getattr(type(store), "read_events", None))

    async def get(self, aggregate_id: str, *, version: int | None = None, as_of: dt.datetime | None = None) -> A:
        """The aggregate now, after event ``version``, or as it was at ``as_of`` (aware datetime).

        Aggregates loaded with ``version`` or ``as_of`` are read-only views of the past.
        Raises `AggregateNotFound` if the stream has no events (up to that version or time).
        """
        if version is not None and as_of is not None:
            raise InvalidArgument("pass either version= or as_of=, not both")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
            raise InvalidArgument(
                f"version must be an int: version starts at 1 (the state after the first event), not {version!r}"[:300]
            )
        if as_of is not None:
            as_of = require_aware(as_of, "as_of")
        historic = version is not None or as_of is not None
        if not historic and self.cache_size:
            cached = self._cache.get(aggregate_id)
            if cached is not None:
                return await self._get_cached(cached)
        snapshot, start = await self._start_from_snapshot(aggregate_id, version, as_of)
        from_version = 1 if snapshot is None else snapshot.version + 1
        if version is not None and from_version > version:
            events = StreamEvents([], 0, None)  # the snapshot is exactly the version asked for
        elif as_of is not None:
            events = await self._read_as_of(aggregate_id, from_version, as_of)
        else:
            events = await self._read(aggregate_id, from_version, version)
        reached = events.version or (0 if snapshot is None else snapshot.version)
        name = self.aggregate_type.type_name
        await self._check_type(aggregate_id, events, snapshot)
        if reached == 0:
            when = f" at or before {as_of.isoformat()}" if as_of is not None else ""
            raise AggregateNotFound(f"{name} {aggregate_id!r} has no events{when}")
        if version is not None and reached < version:
            raise AggregateNotFound(f"{name} {aggregate_id!r} has {reached} events; version {version} does not exist")
        aggregate = self.aggregate_type._replay(
            aggregate_id,
            events.events,
            events.version,
            events.timestamp,
            start=start,
            read_only=historic,
            created_on=events.created_on,
        )
        if not historic:
            self._remember(aggregate)
            if self.snapshot_policy is not None:
                # No valid snapshot, or an old one: catch up (e.g. after the class's state schema changed).
                await self._snapshot_if_due(aggregate, 0 if snapshot is None else snapshot.version)
        return aggregate

    async def _check_type(self, aggregate_id: str, events: StreamEvents, snapshot: Snapshot | None) -> None:
        """Refuse to build this aggregate type from another type's stream (`StreamTypeMismatch`).

        Free when the store read the stream's type with its events (SQLite, memory), a snapshot of
        this type was used, or this repository checked the stream before (a stream's type never
        changes: appends of another type are refused); otherwise one `stream_info` look-up (also
        when nothing was found, so that a stream of another type is not reported as missing)."""
        name = self.aggregate_type.type_name
        stored = events.stream_type
        if stored is None and snapshot is not None and not events.events:
            stored = snapshot.stream_type
        if stored is None:
            if aggregate_id in self._typed:
                return
            info = await self.store.stream_info(aggregate_id)
            stored = None if info is None else info.stream_type
        if stored is not None and stored != name:
            raise StreamTypeMismatch(aggregate_id, name, stored, operation="read")
        if stored is not None:
            self._typed[aggregate_id] = None
            if len(self._typed) > _TYPED_IDS:
                self._typed.popitem(last=False)

    async def _get_cached(self, cached: A) -> A:
        """The cached aggregate's copy, brought up to date with the events stored since it was cached."""
        aggregate = cached._clone()
        tail = await self._read(aggregate.id, aggregate.version + 1, None)
        if tail.events:
            self.aggregate_type._replay(aggregate.id, tail.events, tail.version, tail.timestamp, start=aggregate)
            self._remember(aggregate)
        elif self._cache.get(aggregate.id) is cached:
            self._cache.move_to_end(aggregate.id)
        return aggregate

    def _remember(self, aggregate: A) -> None:
        """Cache a copy of ``aggregate``, just rebuilt from stored events (its state is the stream's at its version).

        Never called after a save: a save that the store recognises as an idempotent retry returns the
        stored version, yet the saved instance holds the retrying copy's events, not the stored ones.
        """
        if not self.cache_size:
            return
        current = self._cache.get(aggregate.id)
        if current is not None and current.version > aggregate.version:
            return  # a newer state was cached meanwhile (by a concurrent get)
        try:
            self._cache[aggregate.id] = aggregate._clone()
        except Exception:  # state that cannot be copied: not cached, loads replay it
            self._cache.pop(aggregate.id, None)
            logger.debug("cannot cache %s %r", self.aggregate_type.type_name, aggregate.id, exc_info=True)
            return
        self._cache.move_to_end(aggregate.id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _read(
        self, aggregate_id: str, from_version: int, to_version: int | None, as_of: dt.datetime | None = None
    ) -> StreamEvents:
        """The events to rebuild from: the store's narrow read if it has one, else its records' events."""
        if self._reads_events:
            return await typing.cast(ReadsStreamEvents, self.store).read_events(
                aggregate_id, from_version=from_version, to_version=to_version, as_of=as_of
            )
        records = await self.store.read(aggregate_id, from_version=from_version, to_version=to_version, as_of=as_of)
        return stream_events(records)

    async def take_snapshot(self, aggregate_id: str) -> Snapshot:
        """Snapshot the aggregate's latest state now (the on-demand policy)."""
        if self.snapshots is None or self._codec is None:
            raise ValueError("this repository has no snapshot store: pass snapshots=...")
        aggregate = await self.get(aggregate_id)
        snapshot = self._codec.take(aggregate)
        await self._save_snapshot(snapshot)
        return snapshot

    async def _save_snapshot(self, snapshot: Snapshot) -> None:
        assert self.snapshots is not None
        await self.snapshots.save(snapshot)
        keep = snapshots_to_keep(self.snapshot_policy)
        if keep is not None:  # after the save: a failure here leaves one snapshot too many, never none
            await self.snapshots.keep_newest(keep, stream_id=snapshot.stream_id)

    async def _read_as_of(self, aggregate_id: str, from_version: int, as_of: dt.datetime) -> StreamEvents:
        # Timestamps never decrease within a stream, so the events at or before `as_of` are a prefix
        # of the tail: read it in bounded windows and stop at the first short one, rather than asking
        # the store to filter the whole rest of the stream by time.
        events: list[DomainEvent] = []
        last = StreamEvents(events, 0, None)
        stream_type = created_on = None
        while True:
            page = await self._read(aggregate_id, from_version, from_version + _AS_OF_WINDOW - 1, as_of)
            events.extend(page.events)
            if page.events:
                last = page
                stream_type = stream_type or page.stream_type
                created_on = created_on or page.created_on
            if len(page.events) < _AS_OF_WINDOW:
                return StreamEvents(events, last.version, last.timestamp, stream_type, created_on)
            from_version += _AS_OF_WINDOW

    async def _start_from_snapshot(
        self, aggregate_id: str, version: int | None, as_of: dt.datetime | None
    ) -> tuple[Snapshot | None, A | None]:
        """The newest valid snapshot and the aggregate restored from it, or (None, None).

        A snapshot only ever saves time: if the snapshot store fails or a snapshot does not decode,
        the aggregate is replayed from its events instead (and the problem is logged).
        """
        if self._codec is None:
            return None, None
        try:
            snapshot = await self._latest_snapshot(aggregate_id, version, as_of)
            if snapshot is None:
                return None, None
            return snapshot, typing.cast(A, self._codec.restore(snapshot))
        except EventSourcingError:
            logger.warning(
                "snapshot of %s %r unusable; replaying from events",
                self.aggregate_type.type_name,
                aggregate_id,
                exc_info=True,
            )
            return None, None

    async def _latest_snapshot(
        self, aggregate_id: str, version: int | None, as_of: dt.datetime | None
    ) -> Snapshot | None:
        if self.snapshots is None or self._codec is None:
            return None
        return await self.snapshots.latest(
            aggregate_id,
            fingerprint=self._codec.fingerprint,
            max_version=None if version is None else min(version, MAX_VERSION),
            as_of=as_of,
        )

    async def _snapshot_if_due(self, aggregate: A, previous_version: int) -> None:
        assert self.snapshot_policy is not None and self.snapshots is not None and self._codec is not None
        if not self.snapshot_policy.should_snapshot(aggregate.version, previous_version):
            return
        try:
            await self._save_snapshot(self._codec.take(aggregate))
        except Exception:  # the events are stored; a missing snapshot only costs replay time
            logger.warning("could not snapshot %s %r", self.aggregate_type.type_name, aggregate.id, exc_info=True)

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
        context.record_append(result)
        if self.snapshot_policy is not None and result.version == aggregate.version:
            await self._snapshot_if_due(aggregate, aggregate.version - len(pending))
        return result

    async def update(
        self, aggregate_id: str, change: Callable[[A], Any | Awaitable[Any]], *, expected_version: int | None = None
    ) -> A:
        """Load the latest state, apply ``change``, save; on `ConcurrencyError` reload and run it again.

        ``change`` may be sync or async; its exceptions (domain errors) propagate and nothing is saved.
        Retries are bounded by ``max_attempts``; the last `ConcurrencyError` is raised after them.
        With ``expected_version`` (e.g. the version a client last saw: an HTTP ``If-Match``), the
        change applies only to that version: a newer aggregate raises `ConcurrencyError` at once.
        """
        mark = context.mark()
        for attempt in range(1, self.max_attempts + 1):
            aggregate = await self.get(aggregate_id)
            if expected_version is not None and aggregate.version != expected_version:
                raise ConcurrencyError(
                    aggregate_id, expected_version, aggregate.version, "the caller's version is stale"
                )
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
