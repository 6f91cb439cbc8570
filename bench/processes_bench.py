"""Processes and integration events (issue 17's targets), measured in one run:

- **reactor latency**: append an event, until the reactor's command has been handled (its handler
  ran), p50/p99 over sequential appends, on SQLite and PostgreSQL (durable settings), with the
  follower woken by the appending process (`runner.wake()`, the in-process push) and by polling
  alone (another process's append);
- **relay throughput**: events published by a `Relay` (read from a SQLite store, mapped, encoded,
  produced, acknowledged, checkpointed) against raw aiokafka pipelined produce of the same records
  (same keys, values and headers, `acks=all`, all sends then one wait);
- **consumer projection**: records of a topic applied by a `ProjectionRunner` over a `KafkaTopic`
  into a counter view on SQLite.

    .venv/bin/python bench/processes_bench.py            # medians of 3 runs (a few minutes)
    .venv/bin/python bench/processes_bench.py --quick    # tiny sizes, one run

Starts its own Tansu broker and PostgreSQL cluster (as the tests do).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402
from sqlalchemy import Column, Integer, MetaData, Table, Text  # noqa: E402

from eventsourcing import Command, CommandBus, DomainEvent, NewEvent, RecordedEvent, SQLEventStore, clock  # noqa: E402
from eventsourcing.projections import ProjectionRunner, Projector, Reaction, Reactor, Relay, ViewBatch, on  # noqa: E402
from eventsourcing.projections.topic import KafkaTopic  # noqa: E402
from tests.kafka_server import KafkaBroker  # noqa: E402
from tests.postgres_server import PostgresServer  # noqa: E402

STREAM_TYPE = "bench.Order"


class Placed(DomainEvent):
    event_type = "bench.placed"
    n: int


class Ship(Command):
    n: int


class PublicPlaced(DomainEvent):
    event_type = "bench.public_placed"
    n: int
    note: str


class Shipping(Reactor):
    name = "shipping"

    @on(Placed)
    def placed(self, event: RecordedEvent[Placed], react: Reaction) -> None:
        react.send(Ship(n=event.event.n))


class Publisher(Relay):
    name = "publisher"
    topic = "unset"

    @on(Placed)
    def placed(self, event: RecordedEvent[Placed]) -> PublicPlaced:
        return PublicPlaced(n=event.event.n, note="an order was placed")


counts = Table("counts", MetaData(), Column("id", Text, primary_key=True), Column("n", Integer, nullable=False))


class Counter(Projector):
    name = "counter"
    tables = (counts,)

    @on(PublicPlaced)
    def placed(self, event: RecordedEvent[PublicPlaced], view: ViewBatch) -> None:
        view.add("counts", event.stream_id, n=1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def reactor_latency(store_url: str, views_url: str, appends: int, *, wake: bool) -> tuple[float, float]:
    """(p50, p99) in ms from an append's return to the reactor's command handled."""
    handled: dict[int, asyncio.Future[float]] = {}
    async with SQLEventStore(store_url) as store:
        bus = CommandBus(store)

        @bus.handler(Ship)
        async def ship(command: Ship) -> None:
            future = handled.get(command.n)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

        latencies = []
        async with ProjectionRunner(store, views_url, [Shipping(bus)], poll_interval=0.002) as runner:
            following = asyncio.create_task(runner.run())
            for n in range(appends):
                handled[n] = asyncio.get_running_loop().create_future()
                event = NewEvent(Placed(n=n), uuid.uuid4(), clock.now())
                await store.append(f"o-{n}", [event], 0, stream_type=STREAM_TYPE)
                appended = time.perf_counter()
                if wake:
                    runner.wake()
                latencies.append((await asyncio.wait_for(handled[n], 30) - appended) * 1000)
            runner.stop()
            await following
    return percentile(latencies, 0.5), percentile(latencies, 0.99)


async def seed(store_url: str, events: int) -> None:
    async with SQLEventStore(store_url) as store:
        for start in range(0, events, 100):
            batch = [NewEvent(Placed(n=n), uuid.uuid4(), clock.now()) for n in range(start, min(start + 100, events))]
            await store.append(f"s-{start // 100 % 50}-{start}", batch, 0, stream_type=STREAM_TYPE)


async def relay_rate(store_url: str, views_url: str, bootstrap: str, topic: str, events: int) -> float:
    cls = type("BenchPublisher", (Publisher,), {"topic": topic, "name": "publisher"})
    async with (
        SQLEventStore(store_url) as store,
        cls(bootstrap) as relay,
        ProjectionRunner(store, views_url, [relay], batch_size=1000) as runner,
    ):
        start = time.perf_counter()
        done = await runner.catch_up()
        elapsed = time.perf_counter() - start
    assert done == events, (done, events)
    return events / elapsed


async def raw_rate(bootstrap: str, topic: str, events: int) -> float:
    """The same records (a relay's values and headers) by bare pipelined produce: all sends, then one wait."""
    from eventsourcing.avro import AvroCodec

    codec = AvroCodec()
    values = [codec.encode(PublicPlaced(n=n, note="an order was placed")) for n in range(events)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        start = time.perf_counter()
        futures = []
        for n, value in enumerate(values):
            headers = [
                ("event-id", str(uuid.uuid4()).encode()),
                ("event-type", b"bench.public_placed"),
                ("source-stream-id", f"s-{n // 100}".encode()),
                ("source-version", str(n % 100 + 1).encode()),
                ("source-event-id", str(uuid.uuid4()).encode()),
            ]
            futures.append(await producer.send(topic, value, key=f"s-{n // 100}".encode(), headers=headers))
        await asyncio.gather(*futures)
        return events / (time.perf_counter() - start)
    finally:
        await producer.stop()


async def consumer_rate(bootstrap: str, topic: str, views_url: str, events: int) -> float:
    async with (
        KafkaTopic(bootstrap, topic) as source,
        ProjectionRunner(source, views_url, [Counter()], batch_size=1000) as runner,
    ):
        start = time.perf_counter()
        done = await runner.catch_up()
        elapsed = time.perf_counter() - start
    assert done == events, (done, events)
    return events / elapsed


async def one_run(
    args: argparse.Namespace, bootstrap: str, pg: PostgresServer, results: dict[str, list[float]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgres"):
            for wake in (True, False):
                if backend == "sqlite":
                    store_url, views_url = f"sqlite:///{tmp}/lat-{wake}.db", f"sqlite:///{tmp}/lat-views-{wake}.db"
                else:
                    db = f"lat_{uuid.uuid4().hex[:8]}"
                    await _create_database(pg, db)
                    store_url = views_url = pg.url(db)
                p50, p99 = await reactor_latency(store_url, views_url, args.appends, wake=wake)
                how = "woken" if wake else "polling"
                results.setdefault(f"reactor {backend} {how} p50 ms", []).append(p50)
                results.setdefault(f"reactor {backend} {how} p99 ms", []).append(p99)
        store_url = f"sqlite:///{tmp}/relay.db"
        await seed(store_url, args.events)
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        results.setdefault("relay events/s", []).append(
            await relay_rate(store_url, f"sqlite:///{tmp}/relay-views.db", bootstrap, topic, args.events)
        )
        results.setdefault("raw pipelined produce records/s", []).append(
            await raw_rate(bootstrap, f"raw-{topic}", args.events)
        )
        results.setdefault("consumer projection records/s", []).append(
            await consumer_rate(bootstrap, topic, f"sqlite:///{tmp}/consumer-views.db", args.events)
        )


async def _create_database(pg: PostgresServer, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--appends", type=int, default=300, help="sequential appends for the reactor latency")
    parser.add_argument("--events", type=int, default=50_000, help="events for the relay and the consumer")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.appends, args.events = 1, 20, 500
    broker = KafkaBroker()
    broker.start()
    pg = PostgresServer(settings={"fsync": "on", "synchronous_commit": "on"}).start()
    results: dict[str, list[float]] = {}
    try:
        for _ in range(args.runs):
            asyncio.run(one_run(args, broker.bootstrap_servers, pg, results))
    finally:
        pg.stop()
        broker.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"## Processes and integration events (medians of {args.runs} runs)\n")
    print("| measure | value |\n|---|---:|")
    for key, value in med.items():
        print(f"| {key} | {value:,.1f} |")
    ratio = med["relay events/s"] / med["raw pipelined produce records/s"]
    print(f"\nrelay / raw pipelined produce: {ratio:.2f}x")
    print("\n## Targets (issue 17)\n")
    targets = [
        ("reactor p50 <= 10 ms (SQLite, woken)", med["reactor sqlite woken p50 ms"] <= 10),
        ("reactor p99 <= 50 ms (SQLite, woken)", med["reactor sqlite woken p99 ms"] <= 50),
        ("reactor p50 <= 10 ms (PostgreSQL, woken)", med["reactor postgres woken p50 ms"] <= 10),
        ("reactor p99 <= 50 ms (PostgreSQL, woken)", med["reactor postgres woken p99 ms"] <= 50),
        ("relay >= 0.5x raw pipelined produce", ratio >= 0.5),
        ("consumer projection >= 20,000 records/s (SQLite)", med["consumer projection records/s"] >= 20_000),
    ]
    for name, ok in targets:
        print(f"- {name}: {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
