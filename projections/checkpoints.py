"""The checkpoint store port: where a projector's position in the global log is kept, with its view.

A checkpoint only moves forward by compare-and-set, in the same transaction as the view change of
the batch that moved it, so a view has applied exactly the events before its checkpoint. The
store never interprets position tokens: it keeps them as canonical JSON and compares them only
for equality with the one the runner read (the compare-and-set), together with a commit counter
(``seq``) that makes a checkpoint that was reset and projected back to the same token distinct from
the old one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable
from uuid import UUID

from sqlalchemy import Table

from eventsourcing import StoreError, StoreUnavailable
from eventsourcing.projections.view import ViewBatch


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where projection ``name`` stands: after ``position`` (None: nothing applied yet).

    ``seq`` counts the commits (and resets) of this checkpoint; a commit must name the ``seq`` it
    read, so two runners that read the same checkpoint cannot both commit. ``error`` is what a
    runner recorded when it stopped here (a poison event, see `CheckpointStore.record_error`), for
    as long as the checkpoint has not moved since; it takes no part in the compare-and-set.
    """

    name: str
    position: Any = None
    seq: int = 0
    updated_at: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a projector's handler failed on, recorded and skipped (projectors with ``dead_letters``)."""

    name: str
    event_id: UUID
    stream_id: str
    version: int
    event_type: str
    position: Any
    error: str
    recorded_at: dt.datetime | None = None


@runtime_checkable
class CheckpointStore(Protocol):
    """Checkpoints, dead letters and (for SQL stores) the view tables, in one database.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"`` for SQL stores (views are SQL tables written
    with `ViewBatch.execute`), None for in-process stores (views are Python objects changed by
    `ViewBatch.call`).
    """

    dialect: str | None

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def open(self) -> None:
        """Connect and create the checkpoint and dead-letter tables (idempotent)."""

    async def close(self) -> None: ...

    async def load(self, name: str) -> Checkpoint:
        """The stored checkpoint (``position=None, seq=0`` for a projection never run)."""
        ...

    async def commit(
        self,
        expected: Checkpoint,
        position: Any,
        view: ViewBatch | None = None,
        dead_letter: DeadLetter | None = None,
    ) -> Checkpoint:
        """In one transaction: apply ``view``'s writes, record ``dead_letter``, and move the checkpoint
        from ``expected`` to ``position``. Raises `CheckpointConflict`, with nothing applied, if the
        stored checkpoint is no longer ``expected``."""
        ...

    async def discard(self, view: ViewBatch) -> None:
        """Roll back the transaction ``view`` opened for reads, if it did (a batch abandoned)."""
        ...

    async def reset(self, name: str, *, drop: Sequence[Table] = (), create: Sequence[Table] = ()) -> Checkpoint:
        """In one transaction: drop and re-create view tables, forget the dead letters, and move the
        checkpoint back to the start (with a new ``seq``, so a runner still working from the old
        checkpoint cannot commit)."""
        ...

    async def create_tables(self, tables: Sequence[Table]) -> None:
        """Create the view tables if they are missing (idempotent)."""
        ...

    async def dead_letters(self, name: str) -> list[DeadLetter]: ...

    async def record_error(self, checkpoint: Checkpoint, error: str) -> None:
        """Record that a runner stopped at ``checkpoint`` with ``error``, so that `load` (in any
        process) returns it until the checkpoint moves: the next commit or reset clears it."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query on the view database, outside any batch (SQL stores; ``?`` placeholders)."""
        ...

    async def fetch_in_batch(self, view: ViewBatch, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """For `ViewBatch.fetch`: open the batch's transaction if needed (checking ``view.expected`` is still
        the stored checkpoint), execute the writes recorded so far, then run the query."""
        ...


def encode_position(position: Any) -> str | None:
    """Canonical JSON of a position token (keys sorted), so equal tokens are equal strings."""
    return None if position is None else json.dumps(position, sort_keys=True, separators=(",", ":"))


def decode_position(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def batch_failed(error: BaseException) -> StoreError:
    """A batch one of whose reads failed: its writes were rolled back with the read's transaction, so
    it cannot commit (an unavailable store stays so: a following runner retries the batch)."""
    kind = StoreUnavailable if isinstance(error, StoreUnavailable) else StoreError
    failure = kind(f"a read of this batch failed, and its writes with it ({type(error).__name__}: {error})")
    failure.__cause__ = error
    return failure
