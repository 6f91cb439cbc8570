"""Concurrent writers on the Kafka store: 2 OS processes x 4 tasks x 200 commands over 20 streams.

Each process has its own store and so its own index; the only thing the writers share is the log.
Optimistic concurrency decided by log order must lose nothing: every committed command's effect is
in the final state, each stream's versions are 1..n, conflicts happened, and every reader — both
writers' indexes, a fresh store reading the topics from the start, and a projection fed by it —
agrees on which appends were accepted and at which versions.
"""

from __future__ import annotations

import json
import time
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import RecordedEvent, Repository, on
from eventsourcing.projections import ProjectionRunner, Projector, ViewBatch
from eventsourcing.stores.kafka import KafkaEventStore
from tests.integration.test_sqlite_concurrency import (
    CounterAggregate,
    _all_say,
    _kill,
    _read_global_log,
    _spawn,
    _tail,
    _wait_until,
)

PROCESSES = 2
TASKS_PER_PROCESS = 4
COMMANDS_PER_TASK = 200
COUNTERS = 20
MAX_ATTEMPTS = 200


class Applied(Projector):
    """Every event it applies, once: a second apply of an event would break the primary key."""

    name = "kafka-concurrency-applied"
    tables = (
        Table(
            "applied",
            MetaData(),
            Column("stream_id", Text, primary_key=True),
            Column("version", Integer, primary_key=True),
            Column("event_id", Text, nullable=False),
        ),
    )

    @on(CounterAggregate.Created, CounterAggregate.Incremented)
    def applied(self, event: RecordedEvent[Any], view: ViewBatch) -> None:
        view.execute(
            "INSERT INTO {applied} (stream_id, version, event_id) VALUES (?, ?, ?)",
            (event.stream_id, event.version, str(event.event_id)),
        )


@pytest.mark.slow
async def test_two_processes_of_writers_lose_no_update_and_every_reader_agrees(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"t{uuid4().hex[:12]}"
    url = f"kafka://{kafka_bootstrap}?prefix={prefix}&partitions=4"
    counter_ids = [f"counter-{n:02d}" for n in range(COUNTERS)]
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=4) as store:
        repo = Repository(CounterAggregate, store)
        for counter_id in counter_ids:
            await repo.save(CounterAggregate.create(counter_id))

    start_dir = tmp_path / "start"
    start_dir.mkdir()
    results = [tmp_path / f"result-{n}.json" for n in range(PROCESSES)]
    logs = [tmp_path / f"worker-{n}.stderr" for n in range(PROCESSES)]
    processes: list[Process] = []
    try:
        for n in range(PROCESSES):
            config = {
                "worker": n,
                "url": url,
                "counter_ids": counter_ids,
                "tasks": TASKS_PER_PROCESS,
                "commands": COMMANDS_PER_TASK,
                "max_attempts": MAX_ATTEMPTS,
                "seed": n,
                "start_dir": str(start_dir),
                "result": str(results[n]),
                "dump_log": True,
            }
            processes.append(await _spawn(config, logs[n]))
        await _all_say(start_dir, "ready", processes, logs)
        started = time.monotonic()
        (start_dir / "go").touch()
        await _all_say(start_dir, "done", processes, logs)
        (start_dir / "dump").touch()  # every append is in the log: now each worker reads it all back
        await _wait_until(
            lambda: all(p.returncode is not None for p in processes), processes, logs, "waiting for the workers"
        )
        elapsed = time.monotonic() - started
    finally:
        await _kill(processes)
    for n, process in enumerate(processes):
        assert process.returncode == 0, f"worker {n} exited with code {process.returncode}:\n{_tail(logs[n])}"
    reports = [json.loads(path.read_text()) for path in results]
    committed = [row for report in reports for row in report["committed"]]
    exhausted = [row for report in reports for row in report["exhausted"]]
    conflicts = sum(report["conflicts"] for report in reports)
    total = PROCESSES * TASKS_PER_PROCESS * COMMANDS_PER_TASK
    print(
        f"\nKafka: {PROCESSES} processes x {TASKS_PER_PROCESS} tasks x {COMMANDS_PER_TASK} commands on {COUNTERS} "
        f"streams: {elapsed:.1f} s, {len(committed)} committed, {conflicts} conflicts"
    )
    assert not exhausted, f"{len(exhausted)} commands hit the retry bound (e.g. {exhausted[:3]})"
    assert len(committed) == total
    assert len({row[2] for row in committed}) == total, "a command was reported committed twice"
    assert conflicts > 0, "the writers never collided: the test did not exercise optimistic concurrency"

    by_counter: dict[str, list[list[Any]]] = {counter_id: [] for counter_id in counter_ids}
    for row in committed:
        by_counter[row[0]].append(row)

    # A fresh store reads every topic from the start into a new index: the third reader.
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:
        repo = Repository(CounterAggregate, fresh)
        for counter_id, rows in by_counter.items():
            events = await fresh.read(counter_id)
            versions = [e.version for e in events]
            assert versions == list(range(1, len(events) + 1)), f"{counter_id}: versions are not 1..n: {versions}"
            stored = {str(e.event_id): (e.event.command_id, e.event.amount, e.version) for e in events[1:]}
            reported = {row[3]: (row[2], row[1], row[4]) for row in rows}
            assert stored == reported, f"{counter_id}: the stream differs from the committed commands"
            running = 0
            for e in events[1:]:  # every decision was taken on the latest state
                running += e.event.amount
                assert e.event.total == running, f"{counter_id} v{e.version}: decided on stale state"
            counter = await repo.get(counter_id)
            assert counter.version == len(rows) + 1
        log = await _read_global_log(fresh)
        accepted = sorted((e.stream_id, e.version, str(e.event_id)) for e in log)
        assert len(accepted) == COUNTERS + total

        # The fourth reader: a projection of the fresh store's log into a SQLite view.
        async with ProjectionRunner(fresh, f"sqlite:///{tmp_path / 'views.db'}", [Applied()]) as runner:
            await runner.catch_up()
            projected = sorted(tuple(row) for row in await runner.views.fetch("SELECT * FROM applied"))

    # The writers' own indexes, each read to the end after the run.
    for report in reports:
        assert sorted(tuple(row) for row in report["log"]) == accepted, f"worker {report['worker']} disagrees"
    assert projected == accepted, "the projection disagrees with the log"
