"""`MemoryCheckpointStore`: checkpoints in a process's memory, for in-process views and tests.

Views kept in Python objects change through `ViewBatch.call` effects, applied when the batch commits;
checkpoint and view live and die together, so the pair is exactly-once within the process.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any, Self

from sqlalchemy import Table

from eventsourcing import ConfigurationError, clock
from eventsourcing.projections.checkpoints import Checkpoint, DeadLetter, encode_position
from eventsourcing.projections.errors import CheckpointConflict
from eventsourcing.projections.view import ViewBatch


class MemoryCheckpointStore:
    dialect: str | None = None

    def __init__(self) -> None:
        self._checkpoints: dict[str, Checkpoint] = {}
        self._dead: dict[str, dict[Any, DeadLetter]] = {}
        self._errors: dict[str, tuple[int, str]] = {}

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def load(self, name: str) -> Checkpoint:
        await asyncio.sleep(0)
        current = self._checkpoints.get(name) or Checkpoint(name)
        seq, error = self._errors.get(name, (-1, None))
        return dataclasses.replace(current, error=error) if seq == current.seq else current

    async def record_error(self, checkpoint: Checkpoint, error: str) -> None:
        await asyncio.sleep(0)
        self._errors[checkpoint.name] = (checkpoint.seq, error)

    async def commit(
        self,
        expected: Checkpoint,
        position: Any,
        view: ViewBatch | None = None,
        dead_letter: DeadLetter | None = None,
    ) -> Checkpoint:
        await asyncio.sleep(0)
        if view is not None and view.has_sql:
            raise ConfigurationError(
                "a MemoryCheckpointStore keeps in-process views (ViewBatch.call); for SQL views use SQLCheckpointStore"
            )
        current = self._checkpoints.get(expected.name) or Checkpoint(expected.name)
        if current.seq != expected.seq or encode_position(current.position) != encode_position(expected.position):
            raise CheckpointConflict(expected.name, expected.seq)
        # No suspension point from here on: the effects and the checkpoint move together.
        effects = view.take_effects() if view is not None else []
        bounds = view.take_bounds() if view is not None else []
        for index, (fn, args) in enumerate(effects):
            try:
                fn(*args)
            except BaseException:
                # Effects cannot be undone: commit the events whose effects all went through, so that
                # the batch, retried, starts at the event whose effect failed and applies nothing twice.
                done_before = [position for start, position in bounds if start <= index][:-1]
                if done_before:
                    self._checkpoints[expected.name] = Checkpoint(
                        expected.name, done_before[-1], expected.seq + 1, clock.now()
                    )
                raise
        if dead_letter is not None:
            recorded = DeadLetter(**{**_fields(dead_letter), "recorded_at": clock.now()})
            self._dead.setdefault(expected.name, {})[dead_letter.event_id] = recorded
        done = Checkpoint(expected.name, position, expected.seq + 1, clock.now())
        self._checkpoints[expected.name] = done
        return done

    async def discard(self, view: ViewBatch) -> None:
        view.take_effects()

    async def reset(self, name: str, *, drop: Sequence[Table] = (), create: Sequence[Table] = ()) -> Checkpoint:
        await asyncio.sleep(0)
        current = self._checkpoints.get(name) or Checkpoint(name)
        self._dead.pop(name, None)
        self._errors.pop(name, None)
        done = Checkpoint(name, None, current.seq + 1, clock.now())
        self._checkpoints[name] = done
        return done

    async def create_tables(self, tables: Sequence[Table]) -> None:
        if tables:
            raise ConfigurationError("a MemoryCheckpointStore has no SQL tables: use SQLCheckpointStore for SQL views")

    async def dead_letters(self, name: str) -> list[DeadLetter]:
        await asyncio.sleep(0)
        return list(self._dead.get(name, {}).values())

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise ConfigurationError("a MemoryCheckpointStore has no SQL tables to query")

    async def fetch_in_batch(self, view: ViewBatch, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise ConfigurationError("a MemoryCheckpointStore has no SQL tables to query")


def _fields(letter: DeadLetter) -> dict[str, Any]:
    return {slot: getattr(letter, slot) for slot in DeadLetter.__slots__}
