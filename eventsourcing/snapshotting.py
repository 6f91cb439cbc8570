"""The snapshot port: what `Repository` needs from a snapshot store and policy, and the state codec.

The `snapshots` package implements these protocols; the core depends only on them. A snapshot is
the aggregate's declared state at one version, with the timestamp of that version and a
fingerprint of the aggregate class's state schema: a snapshot whose fingerprint differs from the
class's current one is never loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from eventsourcing.aggregate import Aggregate
from eventsourcing.errors import ConfigurationError, CorruptEvent, InvalidArgument

A = TypeVar("A", bound=Aggregate)

_CREATED_ON = "es_created_on"  # the state model's field for `Aggregate.created_on` (JSON key "$created_on")


@dataclass(frozen=True, slots=True)
class Snapshot:
    stream_id: str
    stream_type: str
    version: int
    timestamp: dt.datetime
    """The timestamp of the event at ``version`` (so ``as_of`` loads can use the snapshot)."""
    fingerprint: str
    state: bytes


@runtime_checkable
class SnapshotStore(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def save(self, snapshot: Snapshot) -> None:
        """Store a snapshot (idempotent for the same stream, version and fingerprint)."""

    async def latest(
        self,
        stream_id: str,
        *,
        fingerprint: str,
        max_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> Snapshot | None:
        """The newest snapshot with this fingerprint at or before ``max_version`` and ``as_of``."""
        ...

    async def list(self, *, stream_id: str | None = None, stream_type: str | None = None) -> list[Snapshot]: ...

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int:
        """Delete the snapshots of ``stream_type`` whose fingerprint is not ``keep_fingerprint``."""
        ...

    async def keep_newest(self, n: int, *, stream_id: str | None = None, stream_type: str | None = None) -> int:
        """Delete all but the ``n`` newest snapshots of each stream (of ``stream_id``/``stream_type`` only, if
        given); return how many were deleted. Newest is the highest version, then the highest fingerprint
        (snapshots of one version under two fingerprints count as two). ``n < 1`` raises `InvalidArgument`.
        """
        ...


def check_keep(n: object) -> int:
    """``n`` for `SnapshotStore.keep_newest`, or `InvalidArgument`: keeping none is not retention."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgument(f"keep_newest(n) needs an int n >= 1, got {n!r}")
    return n


@runtime_checkable
class KeepsNewest(Protocol):
    """A snapshot policy that also bounds how many snapshots a stream keeps (``keep=None``: all)."""

    @property
    def keep(self) -> int | None: ...


def snapshots_to_keep(policy: object) -> int | None:
    """How many snapshots per stream ``policy`` keeps (`KeepsNewest`), or None for all of them."""
    return policy.keep if isinstance(policy, KeepsNewest) else None


class SnapshotPolicy(Protocol):
    def should_snapshot(self, version: int, previous_version: int) -> bool:
        """Whether to snapshot an aggregate that just went from ``previous_version`` to ``version``."""
        ...


class StateCodec:
    """Encodes an aggregate class's declared state as JSON and fingerprints its schema.

    The fingerprint covers the aggregate's type name, the JSON schema of its state fields and its
    ``snapshot_version`` class attribute (bump that after changing what a handler computes without
    changing the state's shape).
    """

    _cache: ClassVar[dict[type[Aggregate], StateCodec]] = {}

    def __init__(self, aggregate_type: type[Aggregate]) -> None:
        self.aggregate_type = aggregate_type
        try:
            hints = typing.get_type_hints(aggregate_type)
        except Exception as err:  # an annotation that does not resolve
            raise ConfigurationError(
                f"cannot snapshot {aggregate_type.__name__}: its state annotations do not resolve ({err})"
            ) from err
        fields: dict[str, Any] = {name: (hints[name], None) for name, _, _ in aggregate_type.__state_fields__}
        # The aggregate's `created_on` (its first event's timestamp) travels with the state, under a
        # key no Python field name can take.
        fields[_CREATED_ON] = (dt.datetime | None, Field(None, alias="$created_on"))
        self.model: type[BaseModel] = create_model(
            f"{aggregate_type.__name__}State", __config__=ConfigDict(extra="forbid"), **fields
        )
        schema = {
            "type": aggregate_type.type_name,
            "state": self.model.model_json_schema(),
            "snapshot_version": getattr(aggregate_type, "snapshot_version", 1),
        }
        self.fingerprint = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:32]

    @classmethod
    def of(cls, aggregate_type: type[Aggregate]) -> StateCodec:
        codec = cls._cache.get(aggregate_type)
        if codec is None:
            codec = cls._cache[aggregate_type] = cls(aggregate_type)
        return codec

    def take(self, aggregate: Aggregate) -> Snapshot:
        if aggregate.version == 0 or aggregate.last_event_at is None:
            raise ValueError("cannot snapshot an aggregate with no events")
        if aggregate.pending_events:
            raise ValueError("cannot snapshot an aggregate with unsaved events: save it first")
        values = aggregate.state()
        values[_CREATED_ON] = aggregate.created_on
        state = self.model.model_construct(**values)
        return Snapshot(
            stream_id=aggregate.id,
            stream_type=self.aggregate_type.type_name,
            version=aggregate.version,
            timestamp=aggregate.last_event_at,
            fingerprint=self.fingerprint,
            state=state.model_dump_json(exclude_unset=True, by_alias=True).encode(),
        )

    def restore(self, snapshot: Snapshot) -> Aggregate:
        if snapshot.fingerprint != self.fingerprint:
            raise ValueError("snapshot fingerprint does not match the aggregate class")
        try:
            state = self.model.model_validate_json(snapshot.state)
        except ValidationError as err:
            raise CorruptEvent(
                f"snapshot of {snapshot.stream_id!r} at version {snapshot.version} does not decode: {err}"
            ) from err
        aggregate = self.aggregate_type(snapshot.stream_id)
        for name in state.model_fields_set:
            if name != _CREATED_ON:
                setattr(aggregate, name, getattr(state, name))
        aggregate._created_on = getattr(state, _CREATED_ON)
        aggregate._version = snapshot.version
        aggregate._last_timestamp = snapshot.timestamp
        return aggregate
