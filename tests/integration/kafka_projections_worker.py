"""Worker processes for the Kafka projection tests: a projector over the Kafka store, or a writer.

    python -m tests.integration.kafka_projections_worker catch-up BOOTSTRAP PREFIX VIEWS_URL BATCH INDEX
    python -m tests.integration.kafka_projections_worker follow BOOTSTRAP PREFIX VIEWS_URL BATCH NAME
    python -m tests.integration.kafka_projections_worker write BOOTSTRAP PREFIX STREAMS RECORDS

``catch-up`` runs `Counting` (see `projections_worker`; as `Reporting`, which prints a line ``e`` as
it takes each event) with the store's index in the file INDEX (``-`` for memory): prints ``ready``
once open, catches up, prints ``done N`` and exits 0.
``follow`` runs `Tagged` (which records which worker applied each event) live until SIGTERM; it
prints ``ready`` once open and ``stopped`` when it returns. ``write`` appends RECORDS records of
1-3 events to STREAMS shared streams, retrying conflicts, and prints ``wrote N`` (events).
A double apply is a primary key violation of an audit table: the worker exits non-zero.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid

from sqlalchemy import Column, MetaData, Table, Text

from eventsourcing import ConcurrencyError, NewEvent, RecordedEvent, clock
from eventsourcing.projections import ProjectionRunner, Projector, ViewBatch, on
from eventsourcing.stores.kafka import KafkaEventStore
from tests.integration.projections_worker import STREAM_TYPE, Reporting, Ticked

metadata = MetaData()
applied_by = Table(
    "applied_by",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("worker", Text, nullable=False),
)


class Tagged(Projector):
    """One row per applied event, naming the worker that applied it."""

    name = "tagged"
    tables = (applied_by,)

    def __init__(self, worker: str = "-") -> None:
        self.worker = worker

    @on(Ticked)
    def ticked(self, event: RecordedEvent[Ticked], view: ViewBatch) -> None:
        view.execute("INSERT INTO {applied_by} (event_id, worker) VALUES (?, ?)", (str(event.event_id), self.worker))


async def catch_up(bootstrap: str, prefix: str, views_url: str, batch_size: int, index: str) -> None:
    async with (
        KafkaEventStore(bootstrap, prefix=prefix, index=None if index == "-" else index) as store,
        ProjectionRunner(store, views_url, [Reporting()], batch_size=batch_size) as runner,
    ):
        print("ready", flush=True)
        done = await runner.catch_up()
        print(f"done {done}", flush=True)


async def follow(bootstrap: str, prefix: str, views_url: str, batch_size: int, name: str) -> None:
    async with (
        KafkaEventStore(bootstrap, prefix=prefix) as store,
        ProjectionRunner(store, views_url, [Tagged(name)], batch_size=batch_size, poll_interval=0.002) as runner,
    ):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, runner.stop)
        print("ready", flush=True)
        await runner.run()
        print("stopped", flush=True)


async def write(bootstrap: str, prefix: str, streams: int, records: int) -> None:
    written = 0
    async with KafkaEventStore(bootstrap, prefix=prefix) as store:
        for i in range(records):
            stream_id = f"shared-{i % streams}"
            events = [NewEvent(Ticked(n=i), uuid.uuid4(), clock.now()) for _ in range(1 + i % 3)]
            while True:  # retry with the same events: a conflict stores nothing
                version = await store.stream_version(stream_id)
                try:
                    await store.append(stream_id, events, version, stream_type=STREAM_TYPE)
                    break
                except ConcurrencyError:
                    await store.sync()
            written += len(events)
    print(f"wrote {written}", flush=True)


if __name__ == "__main__":
    mode, bootstrap, prefix, *rest = sys.argv[1:]
    if mode == "catch-up":
        asyncio.run(catch_up(bootstrap, prefix, rest[0], int(rest[1]), rest[2]))
    elif mode == "follow":
        asyncio.run(follow(bootstrap, prefix, rest[0], int(rest[1]), rest[2]))
    else:
        asyncio.run(write(bootstrap, prefix, int(rest[0]), int(rest[1])))
