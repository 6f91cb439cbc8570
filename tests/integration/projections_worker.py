"""A projection worker process for the crash tests, and the small model the projection tests share.

    python -m tests.integration.projections_worker EVENTS_DB VIEWS_DB BATCH_SIZE [--report]

prints ``ready`` once its runner is open, catches up, prints ``done N`` and exits 0. Any error
(a double apply would be a primary key violation of the audit table) exits non-zero. With
``--report`` it also prints a line ``e`` as its handler takes each event, so that a test can kill
it at a moment chosen by progress rather than by the clock.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import DomainEvent, RecordedEvent, SQLEventStore
from eventsourcing.projections import ProjectionRunner, Projector, ViewBatch, on

STREAM_TYPE = "ptest.Counter"


class Ticked(DomainEvent):
    event_type = "ptest.ticked"
    n: int = 0


class Poisoned(DomainEvent):
    event_type = "ptest.poisoned"
    reason: str


metadata = MetaData()
counters = Table("counters", metadata, Column("id", Text, primary_key=True), Column("n", Integer, nullable=False))
# One row per applied event: applying an event twice violates the primary key, and a SQL error
# is never dead-lettered or skipped, so a double apply cannot go unnoticed.
audit = Table(
    "audit",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("stream_id", Text, nullable=False),
)

AUDIT = "INSERT INTO {audit} (event_id, stream_id) VALUES (?, ?)"


class Counting(Projector):
    name = "counting"
    tables = (counters, audit)

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        view.add("counters", event.stream_id, n=1)
        view.execute(AUDIT, (str(event.event_id), event.stream_id))

    @on(Poisoned)
    def poisoned(self, event: RecordedEvent[Poisoned], view: ViewBatch) -> None:
        view.add("counters", event.stream_id, n=1000)  # recorded, then the handler fails: must not apply
        raise ValueError(event.event.reason)


class CountingWithDeadLetters(Counting):
    name = "counting-dl"
    dead_letters = True


class Reporting(Counting):
    """`Counting` that says when it takes each event (same name: the same checkpoint and view)."""

    name = Counting.name

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        super().ticked(event, view)
        sys.stdout.write("e\n")
        sys.stdout.flush()


async def main(events_db: str, views_db: str, batch_size: int, report: bool = False) -> None:
    projector = Reporting() if report else Counting()
    async with (
        SQLEventStore(f"sqlite:///{events_db}") as store,
        ProjectionRunner(store, f"sqlite:///{views_db}", [projector], batch_size=batch_size) as runner,
    ):
        print("ready", flush=True)
        done = await runner.catch_up()
        print(f"done {done}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), "--report" in sys.argv[4:]))
