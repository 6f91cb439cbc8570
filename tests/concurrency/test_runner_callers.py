"""Concurrent callers of one `ProjectionRunner`: any mix of `catch_up`, `wait_until_caught_up`,
`run` and `rebuild`, from any number of tasks, applies each event exactly once.

The counter view would count an event twice, and the audit table (one row per applied event,
primary key on the event id) turns a double apply into an error the runner cannot skip.
"""

from __future__ import annotations

import asyncio

from eventsourcing import SQLEventStore
from eventsourcing.projections import ProjectionRunner, SQLCheckpointStore
from tests.integration.projections_worker import Counting
from tests.integration.test_projections import append, audit_ids, ticks, view_rows


async def test_gathered_waiters_without_run_apply_each_event_once(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    """Several HTTP requests waiting for their own writes, no `run()` active (the issue's report: 230
    deposits counted for 200 events)."""
    async with ProjectionRunner(store, views, [Counting()], batch_size=7) as runner:
        for round_ in range(40):
            result = await append(store, f"s-{round_ % 4}", ticks(5))
            await asyncio.gather(*(runner.wait_until_caught_up(result) for _ in range(5)))
        assert sum((await view_rows(views)).values()) == 200
        assert len(await audit_ids(views)) == 200


async def test_waiter_started_with_run_applies_each_event_once(store: SQLEventStore, views: SQLCheckpointStore) -> None:
    """The pattern the docs show: start `run()` as a task, then wait at once (before `run` follows)."""
    for s in range(3):
        await append(store, f"s-{s}", ticks(40))
    async with ProjectionRunner(store, views, [Counting()], batch_size=7) as runner:
        following = asyncio.create_task(runner.run())
        result = await append(store, "s-last", ticks(3))
        await asyncio.gather(*(runner.wait_until_caught_up(result) for _ in range(3)), runner.catch_up())
        runner.stop()
        await following
    assert sum((await view_rows(views)).values()) == 123
    assert len(await audit_ids(views)) == 123


async def test_every_entry_point_at_once_applies_each_event_once(
    store: SQLEventStore, views: SQLCheckpointStore
) -> None:
    async with ProjectionRunner(store, views, [Counting()], batch_size=5) as runner:
        following = asyncio.create_task(runner.run())
        for round_ in range(10):
            result = await append(store, f"s-{round_ % 3}", ticks(6))
            calls = [
                runner.catch_up(),
                runner.wait_until_caught_up(result),
                runner.catch_up(),
                runner.wait_until_caught_up(result),
            ]
            if round_ % 4 == 3:
                calls.append(runner.rebuild("counting"))
            await asyncio.gather(*calls)
        await runner.wait_until_caught_up(result)
        runner.stop()
        await following
    assert sum((await view_rows(views)).values()) == 60
    assert sorted(await audit_ids(views)) == sorted(set(await audit_ids(views)))
