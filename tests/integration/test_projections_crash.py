"""Crash anywhere: a projector process is SIGKILLed at random moments while it catches up, and
restarted each time. At the end every event is applied exactly once (the audit table's primary
key makes a double apply fail loudly) and the view equals a from-scratch rebuild."""

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
from projections import ProjectionRunner, SQLCheckpointStore
from tests.integration.projections_worker import STREAM_TYPE, Counting, Ticked

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 20_000
STREAMS = 200
KILLS = 22
BATCH = 25  # small batches: many commits, so kills land before, inside and after them


def start_worker(events_db: Path, views_db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.projections_worker", str(events_db), str(views_db), str(BATCH)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
    for _attempt in range(KILLS * 3):
        worker = start_worker(events_db, views_db)
        assert worker.stdout is not None
        if rng.random() < 0.1:  # now and then while it opens the databases
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        else:
            ready = await asyncio.to_thread(worker.stdout.readline)
            assert ready.strip() == "ready", worker.communicate()
            await asyncio.sleep(rng.uniform(0.0, 0.12))
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
            killed_mid_way += 1
        _out, err = worker.communicate()
        # Killed (-9) or finished (0); anything else is an error, such as a double apply.
        assert worker.returncode in (-signal.SIGKILL, 0), f"worker failed ({worker.returncode}):\n{err}"
        if worker.returncode == 0 or killed_mid_way >= KILLS:
            break
    assert killed_mid_way >= KILLS, f"only {killed_mid_way} kills landed while catching up"

    worker = start_worker(events_db, views_db)
    _out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err

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
