"""Crash anywhere: a projector process is SIGKILLed at random moments while it catches up, and
restarted each time. At the end every event is applied exactly once (the audit table's primary
key makes a double apply fail loudly) and the view equals a from-scratch rebuild.

The kill points are chosen by progress, not by the clock: the worker says as it takes each event,
and the test kills it after a random number of them (before, inside or after a batch's commit,
as the worker happens to be), with far more events left than any run gets through. So every kill
lands while the worker is catching up, however loaded the machine is."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from eventsourcing import NewEvent, SQLEventStore
from eventsourcing.projections import ProjectionRunner, SQLCheckpointStore
from tests.integration.projections_worker import STREAM_TYPE, Counting, Ticked

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 20_000
STREAMS = 200
KILLS = 22
BATCH = 25  # small batches: many commits, so kills land before, inside and after them


MAX_RUN = 300  # events a worker takes at most before it is killed: KILLS * MAX_RUN < EVENTS


def start_worker(events_db: Path, views_db: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.projections_worker", *map(str, (events_db, views_db, BATCH)), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
async def test_sigkill_anywhere_during_catch_up_applies_every_event_exactly_once(tmp_path: Path) -> None:
    events_db, views_db = tmp_path / "events.db", tmp_path / "views.db"
    now = Ticked(n=0)
    async with SQLEventStore(f"sqlite:///{events_db}") as store:
        per_stream = EVENTS // STREAMS
        for s in range(STREAMS):
            batch = [NewEvent(now, uuid.uuid4(), _at(i)) for i in range(per_stream)]
            await store.append(f"s-{s}", batch, 0, stream_type=STREAM_TYPE)

    rng = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    killed_mid_way = 0
    for attempt in range(KILLS):
        worker = start_worker(events_db, views_db, "--report")
        assert worker.stdout is not None
        ready = await asyncio.to_thread(worker.stdout.readline)
        assert ready.strip() == b"ready", worker.communicate()
        if attempt % 5 == 4:  # now and then before it has taken anything (reading its first page)
            taken = 0
        else:
            taken = rng.randint(1, MAX_RUN)
            seen = await asyncio.to_thread(worker.stdout.read, 2 * taken)  # "e\n" per event taken
            assert seen == b"e\n" * taken, (seen[-40:], worker.communicate())
        for _ in range(rng.choice((0, 0, 1, 3))):  # a few turns later: its commit may be under way
            await asyncio.sleep(0)
        assert worker.poll() is None, f"the worker ended with {EVENTS - KILLS * MAX_RUN}+ events to go"
        os.kill(worker.pid, signal.SIGKILL)
        _out, err = worker.communicate()
        # Killed (-9): anything else is an error, such as a double apply.
        assert worker.returncode == -signal.SIGKILL, f"worker failed ({worker.returncode}):\n{err.decode()}"
        killed_mid_way += 1

    worker = start_worker(events_db, views_db)
    _out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err.decode()

    async with (
        SQLEventStore(f"sqlite:///{events_db}") as store,
        SQLCheckpointStore(f"sqlite:///{views_db}") as views,
        ProjectionRunner(store, views, [Counting()]) as runner,
    ):
        (audited,) = await views.fetch("SELECT count(*), count(DISTINCT event_id) FROM audit")
        assert audited == (EVENTS, EVENTS)
        crashed = dict(await views.fetch("SELECT id, n FROM counters"))
        assert crashed == {f"s-{s}": EVENTS // STREAMS for s in range(STREAMS)}
        checkpoint = await views.load("counting")
        assert checkpoint.seq > killed_mid_way  # the kills really interrupted a run in progress
        await runner.rebuild("counting")
        assert dict(await views.fetch("SELECT id, n FROM counters")) == crashed
        (status,) = await runner.status()
        assert status.lag_events == 0


def _at(i: int) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=i)
