"""A consumer process for the topic-consumer crash test.

    python -m tests.integration.topic_worker BOOTSTRAP TOPIC VIEWS_DB BATCH_SIZE

Projects the topic of integration events (see test_relay) into a counter view whose effect is not
idempotent (``n = n + 1`` per record), so that a record applied twice or lost shows in the counts.
Prints ``ready`` once open and ``a`` as its handler applies each record (before the batch commits),
catches up, prints ``done N`` and exits 0.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import RecordedEvent, on
from eventsourcing.projections import ProjectionRunner, Projector, ViewBatch
from eventsourcing.projections.topic import KafkaTopic
from tests.integration.test_relay import OrderPlaced

counts = Table("counts", MetaData(), Column("cart_id", Text, primary_key=True), Column("n", Integer, nullable=False))


class Counts(Projector):
    """How many records of each cart the view has applied (duplicates on the topic count twice)."""

    name = "counts"
    tables = (counts,)

    @on(OrderPlaced)
    def order_placed(self, event: RecordedEvent[OrderPlaced], view: ViewBatch) -> None:
        view.execute(
            "INSERT INTO {counts} (cart_id, n) VALUES (?, 1) ON CONFLICT (cart_id) DO UPDATE SET n = n + 1",
            (event.event.cart_id,),
        )
        sys.stdout.write("a\n")
        sys.stdout.flush()


async def main(bootstrap: str, topic: str, views_db: str, batch_size: int) -> None:
    async with (
        KafkaTopic(bootstrap, topic) as source,
        ProjectionRunner(source, f"sqlite:///{views_db}", [Counts()], batch_size=batch_size) as runner,
    ):
        print("ready", flush=True)
        done = await runner.catch_up()
        print(f"done {done}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
