"""A reactor process for the reactor crash test.

    python -m tests.integration.reactor_worker EVENTS_DB VIEWS_DB BATCH_SIZE

Runs `Fulfilment` (see test_reactors) over the SQLite event store: prints ``ready`` once open, then
a line ``e`` as its handler takes each event, catches up, prints ``done N`` and exits 0.
"""

from __future__ import annotations

import asyncio
import sys

from eventsourcing import RecordedEvent, SQLEventStore, on
from eventsourcing.projections import ProjectionRunner, Reaction
from tests.integration.test_reactors import Fulfilment, Shop
from tests.model import Cart


class Reporting(Fulfilment):
    name = Fulfilment.name

    @on(Cart.CheckedOut)
    def checked_out(self, event: RecordedEvent[Cart.CheckedOut], react: Reaction) -> None:
        super().checked_out(event, react)
        sys.stdout.write("e\n")
        sys.stdout.flush()


async def main(events_db: str, views_db: str, batch_size: int) -> None:
    async with SQLEventStore(f"sqlite:///{events_db}") as store:
        shop = Shop(store)
        async with ProjectionRunner(
            store, f"sqlite:///{views_db}", [Reporting(shop.bus)], batch_size=batch_size
        ) as runner:
            print("ready", flush=True)
            done = await runner.catch_up()
            print(f"done {done}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
