"""`ProjectionScenario`: given these events, then the view holds these rows.

A projector checked end to end in a few lines, with the real runner and a real SQLite view (a
throwaway file) — no mocks, and no bookkeeping in the test::

    await ProjectionScenario(Balances()).given(
        Account, "acc-1", Account.Opened(owner="alice"), Account.Deposited(amount=Decimal("2.50"))
    ).then_rows("balances", [{"account_id": "acc-1", "deposits": 1, "total_cents": 250}])

Each ``then_*`` runs the scenario from scratch: a fresh in-memory event store holding the given
events, the projector's tables dropped and re-created, the whole log projected again (a `rebuild`).
Exported by `eventsourcing.projections.testing`, next to the checkpoint store contract.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from uuid import uuid4

from eventsourcing import Aggregate, ConfigurationError, DomainEvent, EventStore, MemoryEventStore, NewEvent, clock
from eventsourcing.projections.checkpoints import CheckpointStore
from eventsourcing.projections.projector import Projector
from eventsourcing.projections.runner import ProjectionRunner
from eventsourcing.testing.obligations import Check, Tracked
from eventsourcing.testing.scenarios import ScenarioFailed

__all__ = ["ProjectionScenario", "ScenarioFailed"]

Row = Mapping[str, Any]


class ProjectionScenario(Tracked):
    """Given events (in log order), then the projector's view holds these rows (or it raised this error).

    ``views``: the view database's URL; by default a SQLite file in a temporary directory, removed
    afterwards. On another database (``postgresql://...``) the projector's tables there are dropped
    and re-created by each run. ``store``: the event store to append the given events to (default:
    a fresh `MemoryEventStore` per run; a store you pass keeps its events, and all are projected).
    """

    def __init__(
        self,
        projector: Projector,
        *,
        views: str | None = None,
        store: EventStore | None = None,
        batch_size: int = 1000,
    ) -> None:
        if views is not None and views.split(":", 1)[0].lower() == "memory":
            raise ConfigurationError("ProjectionScenario checks SQL views: give a sqlite:/// or postgresql:// URL")
        self.projector = projector
        self.views = views
        self.store = store
        self.batch_size = batch_size
        self._given: list[tuple[str, str, list[DomainEvent], dt.datetime | None]] = []

    def given(
        self, aggregate_type: type[Aggregate] | str, stream_id: str, *events: DomainEvent, at: dt.datetime | None = None
    ) -> Self:
        """Append ``events`` to stream ``stream_id`` of ``aggregate_type`` (its type name, or the class),
        after the events given before; ``at`` is their timestamp (default: now)."""
        self._started()
        stream_type = aggregate_type if isinstance(aggregate_type, str) else aggregate_type.type_name
        self._given.append((stream_type, stream_id, list(events), at))
        return self

    def then_rows(self, table: str, rows: Sequence[Row]) -> Check[list[dict[str, Any]]]:
        """Assert ``table`` holds exactly ``rows``, in any order, comparing the columns the rows name
        (all rows name the same columns; ``[]``: the table is empty). Awaiting returns the rows found."""
        return self._check("then_rows", lambda: self._then_rows(table, rows))

    async def _then_rows(self, table: str, rows: Sequence[Row]) -> list[dict[str, Any]]:
        names = {t.name for t in self.projector.tables}
        if table not in names:
            raise ScenarioFailed(f"{table!r} is not a table of {self.projector!r} (its tables: {sorted(names)})")
        columns = list(rows[0]) if rows else []
        if any(list(row) != columns for row in rows):
            raise ScenarioFailed(f"expected rows must all name the same columns, in the same order: {columns}")
        async with self._run() as (views, error):
            if error is not None:
                raise ScenarioFailed(f"the projector failed: {type(error).__name__}: {error}") from error
            select = ", ".join(columns) if columns else "*"
            found = await views.fetch(f"SELECT {select} FROM {table}")
        actual = [dict(zip(columns, row, strict=True)) for row in found] if columns else [{} for _ in found]
        expected = [dict(row) for row in rows]
        if sorted(map(repr, expected)) != sorted(map(repr, actual)):
            raise ScenarioFailed(_difference(table, expected, actual))
        return actual

    def then_raises(self, error: type[BaseException], match: str | None = None) -> Check[BaseException]:
        """Assert the projector stopped with ``error`` (a `PoisonEvent`, say; message matching ``match``);
        awaiting returns it."""
        return self._check("then_raises", lambda: self._then_raises(error, match))

    async def _then_raises(self, error: type[BaseException], match: str | None) -> BaseException:
        async with self._run() as (_views, raised):
            pass
        if raised is None:
            raise ScenarioFailed(f"expected {error.__name__}, but the projector applied every event")
        if not isinstance(raised, error):
            raise ScenarioFailed(f"expected {error.__name__}, but {type(raised).__name__}: {raised}") from raised
        if match is not None and not re.search(match, str(raised)):
            raise ScenarioFailed(f"{type(raised).__name__} raised, but {str(raised)!r} does not match {match!r}")
        return raised

    @contextlib.asynccontextmanager
    async def _run(self) -> AsyncIterator[tuple[CheckpointStore, Exception | None]]:
        with contextlib.ExitStack() as cleanup:
            url = self.views
            if url is None:
                folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="projection-scenario-"))
                url = f"sqlite:///{Path(folder) / 'views.db'}"
            store = self.store if self.store is not None else MemoryEventStore()
            async with contextlib.AsyncExitStack() as stack:
                if self.store is None:
                    await stack.enter_async_context(store)
                await self._append(store)
                runner = await stack.enter_async_context(
                    ProjectionRunner(store, url, [self.projector], batch_size=self.batch_size)
                )
                error: Exception | None = None
                try:
                    await runner.rebuild(self.projector.name)
                except Exception as err:
                    error = err
                yield runner.views, error

    async def _append(self, store: EventStore) -> None:
        now = clock.now()
        for stream_type, stream_id, events, at in self._given:
            version = await store.stream_version(stream_id)
            batch = [NewEvent(event, uuid4(), at or now) for event in events]
            await store.append(stream_id, batch, version, stream_type=stream_type)


def _difference(table: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> str:
    missing = [row for row in expected if row not in actual]
    extra = [row for row in actual if row not in expected]
    lines = [f"rows of {table!r} differ:", "  expected:"]
    lines += [f"    {row!r}" for row in sorted(expected, key=repr)] or ["    (none)"]
    lines += ["  actual:"]
    lines += [f"    {row!r}" for row in sorted(actual, key=repr)] or ["    (none)"]
    lines += [f"  missing: {missing!r}", f"  unexpected: {extra!r}"]
    return "\n".join(lines)
