"""Concurrent writers on one SQLite file: several OS processes, several tasks each, one database.

Optimistic concurrency must lose nothing: every committed command's effect is in the final state,
streams have no holes, the global log holds every event exactly once in increasing positions. And a
writer holding the database's write lock must make the library's appends wait, not fail, without
blocking the event loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import os
import random
import sys
import time
from asyncio.subprocess import Process
from collections import Counter as Tally
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import eventsourcing
from eventsourcing import Repository, SQLEventStore

WORKER_SCRIPT = Path(__file__).with_name("sqlite_writer.py")

PROCESSES = 4
TASKS_PER_PROCESS = 4
COMMANDS_PER_TASK = 250
COUNTERS = 20
MAX_ATTEMPTS = 200  # far above what a command needs (see the report); hitting it is reported and fails the test
DEADLINE = 300.0  # seconds for the whole multi-process run before the workers are killed


def _load_worker() -> ModuleType:
    # By path, so the test does not depend on how `tests/` is packaged; the workers run it as a script.
    name = "it_sqlite_concurrency_writer"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, WORKER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


writer = _load_worker()
CounterAggregate = writer.Counter


def _child_env() -> dict[str, str]:
    # The workers import the same `eventsourcing` as this process, installed or not.
    root = str(Path(eventsourcing.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


async def _kill(processes: list[Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.kill()
    for process in processes:
        await process.wait()


async def _wait_until(condition: Any, processes: list[Process], logs: list[Path], what: str) -> None:
    """Poll ``condition`` until true; fail at once, with the worker's stderr, if a worker dies first."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for index, process in enumerate(processes):
            code = process.returncode
            if code is not None and code != 0:
                await _kill(processes)
                pytest.fail(f"worker {index} exited with code {code} while {what}; its stderr:\n{_tail(logs[index])}")
        if time.monotonic() > deadline:
            await _kill(processes)
            pytest.fail(f"timed out after {DEADLINE} s {what}")
        await asyncio.sleep(0.005)


async def _spawn(config: dict[str, Any], log: Path) -> Process:
    """One worker process running `WORKER_SCRIPT` with ``config``; its stdout and stderr go to ``log``."""
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER_SCRIPT), json.dumps(config), stdout=out, stderr=out, env=_child_env()
        )


async def _all_say(start_dir: Path, word: str, processes: list[Process], logs: list[Path]) -> None:
    """Wait until every worker has touched its file ``<word>-<worker>`` in ``start_dir``."""
    await _wait_until(
        lambda: all((start_dir / f"{word}-{n}").exists() for n in range(len(processes))),
        processes,
        logs,
        f"waiting for every worker to say {word!r}",
    )


async def _read_global_log(store: SQLEventStore, page: int = 257) -> list[Any]:
    events: list[Any] = []
    after = None
    while batch := await store.read_all(after=after, limit=page):
        events.extend(batch)
        after = batch[-1].position
    return events


@pytest.mark.slow
async def test_concurrent_processes_and_tasks_lose_no_update(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    url = f"sqlite:///{db}"
    counter_ids = [f"counter-{n:02d}" for n in range(COUNTERS)]
    seed = random.randrange(2**32)

    # The streams exist before any writer starts.
    async with SQLEventStore(url) as store:
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
                "db": str(db),
                "counter_ids": counter_ids,
                "tasks": TASKS_PER_PROCESS,
                "commands": COMMANDS_PER_TASK,
                "max_attempts": MAX_ATTEMPTS,
                "seed": seed,
                "start_dir": str(start_dir),
                "result": str(results[n]),
            }
            processes.append(await _spawn(config, logs[n]))
        # Barrier: every process has opened the store and loaded once; then all start together.
        await _all_say(start_dir, "ready", processes, logs)
        started = time.monotonic()
        (start_dir / "go").touch()
        await _wait_until(
            lambda: all(p.returncode is not None for p in processes),
            processes,
            logs,
            "waiting for the workers to finish",
        )
        elapsed = time.monotonic() - started
    finally:
        await _kill(processes)
    for n, process in enumerate(processes):
        assert process.returncode == 0, f"worker {n} exited with code {process.returncode}:\n{_tail(logs[n])}"
        assert results[n].exists(), f"worker {n} exited cleanly but wrote no report:\n{_tail(logs[n])}"
    reports = [json.loads(path.read_text()) for path in results]

    committed = [row for report in reports for row in report["committed"]]
    exhausted = [row for report in reports for row in report["exhausted"]]
    conflicts = sum(report["conflicts"] for report in reports)
    attempts = Tally(row[5] for row in committed)
    print(
        f"\n{PROCESSES} processes x {TASKS_PER_PROCESS} tasks x {COMMANDS_PER_TASK} commands on {COUNTERS} "
        f"counters (seed {seed}): {elapsed:.1f} s, {len(committed)} committed, {conflicts} conflicts observed, "
        f"{len(exhausted)} commands hit the retry bound ({MAX_ATTEMPTS}); attempts per command: "
        f"{dict(sorted(attempts.items()))}; per process: "
        + ", ".join(f"{r['elapsed']:.1f} s / {r['conflicts']} conflicts" for r in reports)
    )

    # No command failed permanently, and each was committed exactly once.
    assert not exhausted, (
        f"{len(exhausted)} commands hit the retry bound of {MAX_ATTEMPTS} attempts (e.g. {exhausted[:5]}); "
        "the bound is meant never to be reached"
    )
    total_commands = PROCESSES * TASKS_PER_PROCESS * COMMANDS_PER_TASK
    assert len(committed) == total_commands
    assert len({row[2] for row in committed}) == total_commands, "a command id was reported committed twice"
    # A test that never collides proves nothing about conflict handling.
    assert conflicts > 0, "the writers never collided: the test did not exercise optimistic concurrency"

    by_counter: dict[str, list[list[Any]]] = {counter_id: [] for counter_id in counter_ids}
    for row in committed:
        by_counter[row[0]].append(row)

    async with SQLEventStore(url) as store:
        repo = Repository(CounterAggregate, store)
        stream_events: dict[str, list[Any]] = {}
        for counter_id, rows in by_counter.items():
            events = await store.read(counter_id)
            stream_events[counter_id] = events
            versions = [e.version for e in events]
            assert versions == list(range(1, len(events) + 1)), f"{counter_id}: versions are not 1..n: {versions}"
            assert isinstance(events[0].event, CounterAggregate.Created), f"{counter_id}: first event is not Created"
            assert all(isinstance(e.event, CounterAggregate.Incremented) for e in events[1:])
            # Zero lost updates: the stream holds exactly the committed commands, each where its save said.
            stored = {str(e.event_id): (e.event.command_id, e.event.amount, e.version) for e in events[1:]}
            reported = {row[3]: (row[2], row[1], row[4]) for row in rows}
            missing, unexpected = sorted(set(reported) - set(stored)), sorted(set(stored) - set(reported))
            assert stored == reported, (
                f"{counter_id}: stored increments differ from the committed ones: lost {len(missing)} "
                f"(e.g. {missing[:3]}), unexpected {len(unexpected)} (e.g. {unexpected[:3]}), or stored elsewhere"
            )
            # Every decision was taken on the latest state: each event's total follows from the one before.
            running = 0
            for e in events[1:]:
                running += e.event.amount
                assert e.event.total == running, (
                    f"{counter_id} v{e.version}: decided total {e.event.total}, but the history sums to {running}"
                )
            counter = await repo.get(counter_id)
            assert counter.total == sum(row[1] for row in rows)
            assert counter.increments == len(rows)
            assert counter.version == len(rows) + 1  # the Created event, then one event per committed command
            assert await store.stream_version(counter_id) == len(rows) + 1

        log = await _read_global_log(store)

    stream_total = sum(len(events) for events in stream_events.values())
    assert stream_total == COUNTERS + total_commands
    assert len(log) == stream_total, f"the global log has {len(log)} events, the streams {stream_total}"
    positions = [e.position for e in log]
    assert all(a < b for a, b in itertools.pairwise(positions)), "positions are not strictly increasing"
    assert len({e.event_id for e in log}) == len(log), "an event id appears twice in the global log"
    assert {(e.stream_id, e.version, e.event_id) for e in log} == {
        (e.stream_id, e.version, e.event_id) for events in stream_events.values() for e in events
    }


# A separate process takes SQLite's write lock with a raw connection, says so, holds it, then lets go. It notes
# the (system-wide monotonic) time just before its COMMIT: nobody else can have committed before that moment.
LOCK_HOLDER = """
import sqlite3, sys, time
from pathlib import Path
db, locked, released, hold = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
connection = sqlite3.connect(db, isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
locked.touch()
time.sleep(hold)
released.write_text(repr(time.monotonic()))
connection.execute("COMMIT")
"""
HOLD = 0.5


async def test_appends_wait_for_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    locked, released = tmp_path / "locked", tmp_path / "released"
    counter_ids = ["held-1", "held-2", "held-3"]
    async with SQLEventStore(f"sqlite:///{db}") as store:
        repo = Repository(CounterAggregate, store)
        for counter_id in counter_ids:
            await repo.save(CounterAggregate.create(counter_id))

        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCK_HOLDER, str(db), str(locked), str(released), str(HOLD)
        )
        try:
            deadline = time.monotonic() + 30
            while not locked.exists():
                assert holder.returncode is None, f"the lock holder exited early with code {holder.returncode}"
                assert time.monotonic() < deadline, "the lock holder never took the lock"
                await asyncio.sleep(0.002)

            ticks: list[float] = []
            stop = asyncio.Event()

            async def tick() -> None:
                while not stop.is_set():
                    ticks.append(time.monotonic())
                    await asyncio.sleep(0.01)

            ticker = asyncio.create_task(tick())
            await asyncio.sleep(0.03)

            # WAL: readers do not wait for a writer.
            read_started = time.monotonic()
            counters = [await repo.get(counter_id) for counter_id in counter_ids]
            read_time = time.monotonic() - read_started

            async def save(counter: Any, amount: int) -> float:
                counter.increment(amount, f"{counter.id}-after-lock")
                await repo.save(counter)
                return time.monotonic()

            saves_started = time.monotonic()
            assert not released.exists(), "the lock was released before the appends started: the test proves nothing"
            finished = await asyncio.gather(*(save(c, n) for n, c in enumerate(counters, start=1)))
            saves_done = time.monotonic()
            stop.set()
            await ticker
        finally:
            if holder.returncode is None:
                await asyncio.wait_for(holder.wait(), timeout=30)
        assert holder.returncode == 0, f"the lock holder failed with code {holder.returncode}"
        release = float(released.read_text())

        waited = saves_done - saves_started
        during = [t for t in ticks if saves_started <= t <= saves_done]
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        print(
            f"\nreads under the lock: {read_time * 1000:.1f} ms; appends waited {waited * 1000:.0f} ms, finishing "
            f"{', '.join(f'{(t - release) * 1000:.0f}' for t in sorted(finished))} ms after the release; "
            f"{len(during)} ticks meanwhile, longest gap between ticks {max(gaps) * 1000:.1f} ms"
        )
        assert read_time < 0.2, f"reading took {read_time:.3f} s while another process held the write lock"
        # The appends waited for the lock and succeeded once it was released ...
        assert all(t > release for t in finished), "an append finished while another process held the write lock"
        assert waited > 0.2, f"the appends took only {waited:.3f} s, yet the lock was held for {HOLD} s"
        # ... and the event loop kept running while they waited.
        assert len(during) >= 10, f"only {len(during)} ticks of 10 ms during a {waited:.3f} s wait: the loop stalled"
        assert max(gaps) < 0.15, f"the event loop stalled for {max(gaps):.3f} s while the appends waited"

        for n, counter_id in enumerate(counter_ids, start=1):
            counter = await repo.get(counter_id)
            assert (counter.version, counter.total) == (2, n)
            assert [e.version for e in await store.read(counter_id)] == [1, 2]
