"""A projection of a Kafka topic (`KafkaTopic`), SIGKILLed at random moments and restarted: its view
commits each batch with the topic offsets in one transaction, so every record on the topic is applied
exactly once — checked with a counter view whose effect is not idempotent. On the test broker."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from eventsourcing import SQLEventStore
from eventsourcing.projections import ProjectionRunner
from tests.integration.test_relay import checkout, consume, relay_class, store  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[2]
CARTS, KILLS, MAX_RUN = 30, 6, 25


async def test_a_consumer_killed_anywhere_applies_every_record_exactly_once(
    store: SQLEventStore,  # noqa: F811
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    await checkout(store, CARTS)
    topic = f"consumed-{uuid.uuid4().hex[:10]}"
    relay_views = f"sqlite:///{tmp_path / 'relay-views.db'}"
    async with relay_class(topic)(kafka_bootstrap) as relay:
        async with ProjectionRunner(store, relay_views, [relay], batch_size=7) as runner:
            await runner.catch_up()
            await runner.views.reset("order-events")  # published again: duplicates on the topic count too
        async with ProjectionRunner(store, relay_views, [relay], batch_size=11) as runner:
            await runner.catch_up()
    records = await consume(kafka_bootstrap, topic, CARTS)
    assert len(records) == 2 * CARTS
    on_topic = Counter(record.key.decode() for record in records)

    views = tmp_path / "counts.db"
    args = [kafka_bootstrap, topic, str(views), "4"]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.topic_worker", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    rng = random.Random(11)
    mid_batch = 0  # kills after the handler applied records of a batch not yet committed (batch size 4)
    for _ in range(KILLS):
        worker = start()
        assert worker.stdout is not None
        assert (await asyncio.to_thread(worker.stdout.readline)).strip() == b"ready", worker.communicate()
        applied_lines = 0
        for _ in range(rng.randint(1, MAX_RUN)):  # kill after a random number of applied records
            line = (await asyncio.to_thread(worker.stdout.readline)).strip()
            if line != b"a":
                break  # it caught up ("done N") before the kill
            applied_lines += 1
        os.kill(worker.pid, signal.SIGKILL)
        _out, err = worker.communicate()
        assert worker.returncode in (-signal.SIGKILL, 0), err.decode()
        mid_batch += worker.returncode == -signal.SIGKILL and applied_lines % 4 != 0
    assert mid_batch >= 2, "the kills did not hit the middle of a batch"
    worker = start()
    out, err = await asyncio.to_thread(worker.communicate, None, 300)
    assert worker.returncode == 0, err.decode()
    assert out.decode().splitlines()[-1].startswith("done ")

    with sqlite3.connect(views) as db:
        applied = dict(db.execute("SELECT cart_id, n FROM counts").fetchall())
    assert applied == dict(on_topic)  # every record once: none lost, none applied twice
