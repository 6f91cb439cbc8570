"""A relay process for the relay crash test.

    python -m tests.integration.relay_worker EVENTS_DB VIEWS_DB BOOTSTRAP TOPIC BATCH_SIZE

Runs `OrderEvents` (see test_relay) over the SQLite event store: prints ``ready`` once open, a line
``e`` as its handler maps each event, and ``f N`` when the N records of a batch are acknowledged by
Kafka, before the batch's checkpoint commits: there it waits for a line on stdin, so that a test
can kill it exactly between the publication and the commit (or let it go on). It catches up,
prints ``done N`` and exits 0.
"""

from __future__ import annotations

import asyncio
import sys

from eventsourcing import RecordedEvent, SQLEventStore, on
from eventsourcing.projections import ProjectionRunner
from tests.integration.test_relay import OrderEvents, OrderPlaced
from tests.model import Cart


async def main(events_db: str, views_db: str, bootstrap: str, topic: str, batch_size: int) -> None:
    class Reporting(OrderEvents):
        name = OrderEvents.name

        @on(Cart.CheckedOut)
        def checked_out(self, event: RecordedEvent[Cart.CheckedOut]) -> OrderPlaced:
            placed = super().checked_out(event)
            sys.stdout.write("e\n")
            sys.stdout.flush()
            return placed

        async def acknowledge(self) -> None:
            pending = len(self._pending)
            await super().acknowledge()
            if pending:
                print(f"f {pending}", flush=True)
                await asyncio.to_thread(sys.stdin.readline)

    Reporting.topic = topic
    async with (
        SQLEventStore(f"sqlite:///{events_db}") as store,
        Reporting(bootstrap) as relay,
        ProjectionRunner(store, f"sqlite:///{views_db}", [relay], batch_size=batch_size) as runner,
    ):
        print("ready", flush=True)
        done = await runner.catch_up()
        print(f"done {done}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
