"""`ProjectionRunner.start`: a `stop` called before the started task got to run stops it too (a
server shut down right after it started used to hang: `run()` began after `stop()` and followed on)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventsourcing import MemoryEventStore
from eventsourcing.projections import MemoryCheckpointStore, ProjectionRunner
from eventsourcing.sample_shopping_cart.shop import Shop
from tests.integration.projections_worker import STREAM_TYPE
from tests.integration.test_push_notices import Seen, ticks

WAIT = 30.0


async def test_a_stop_before_the_started_task_runs_stops_it() -> None:
    async with MemoryEventStore() as store:
        runner = ProjectionRunner(store, MemoryCheckpointStore(), [Seen()])
        async with runner:
            task = runner.start()
            runner.stop()  # before the task had a turn
            await asyncio.wait_for(task, WAIT)


async def test_a_started_runner_follows_until_stopped() -> None:
    async with MemoryEventStore() as store:
        seen = Seen()
        runner = ProjectionRunner(store, MemoryCheckpointStore(), [seen])
        async with runner:
            task = runner.start()
            await store.append("s", ticks(3), 0, stream_type=STREAM_TYPE)
            await seen.reach(3)
            assert not task.done()
            runner.stop()
            await asyncio.wait_for(task, WAIT)
            again = runner.start()  # a start after the stop follows as usual
            await store.append("s", ticks(1), 3, stream_type=STREAM_TYPE)
            await seen.reach(4)
            runner.stop()
            await asyncio.wait_for(again, WAIT)


async def test_the_shop_stops_following_right_after_it_started(tmp_path: Path) -> None:
    async with Shop(f"sqlite:///{tmp_path / 'shop.db'}") as shop:
        shop.follow()
        await asyncio.wait_for(shop.stop_following(), WAIT)
