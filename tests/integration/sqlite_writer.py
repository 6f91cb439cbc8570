"""One OS process of concurrent writers for the multi-process concurrency tests (a script, not collected).

Used by ``test_sqlite_concurrency.py`` (``db``: a SQLite file) and ``test_kafka_concurrency.py`` (``url``:
any store URL; with ``dump_log`` the process says it is done writing (file ``done-<worker>``), waits
for the file ``dump``, and adds to its report the global log as its store then reads it, after
reading every partition to its end).

    python sqlite_writer.py '<json config>'

The process opens the store, says it is ready (a file ``ready-<worker>`` in the start directory),
waits for the file ``go`` so that every process starts writing at the same moment, then runs
``tasks`` writer tasks on one event loop. Each task runs ``commands`` commands: load a random
counter, decide (the new total follows from the loaded state), save, and on `ConcurrencyError`
count the conflict, back off a little and try again, up to ``max_attempts``. The JSON report (what
was committed, conflicts, commands that hit the bound) is written to ``result`` atomically.
Anything unexpected propagates: the process exits non-zero with the traceback on stderr.

The test process imports this module for the `Counter` aggregate, so it has no side effects on import.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from eventsourcing import Aggregate, ConcurrencyError, DomainEvent, Repository, on, open_store


class Counter(Aggregate):
    type_name = "it_sqlite_concurrency.counter"

    total: int = 0
    increments: int = 0

    class Created(DomainEvent):
        event_type = "it_sqlite_concurrency.counter_created"

    class Incremented(DomainEvent):
        event_type = "it_sqlite_concurrency.counter_incremented"
        amount: int
        command_id: str
        total: int  # decided from the loaded state: a decision on stale state shows up as a wrong total

    @classmethod
    def create(cls, counter_id: str) -> Counter:
        counter = cls(counter_id)
        counter.emit(cls.Created())
        return counter

    def increment(self, amount: int, command_id: str) -> None:
        self.emit(self.Incremented(amount=amount, command_id=command_id, total=self.total + amount))

    @on(Created)
    def _created(self, event: Created) -> None:
        pass

    @on(Incremented)
    def _incremented(self, event: Incremented) -> None:
        self.total += event.amount
        self.increments += 1


async def _writer(repo: Repository[Counter], config: dict[str, Any], task: int) -> dict[str, Any]:
    worker = config["worker"]
    rng = random.Random(f"{config['seed']}-{worker}-{task}")
    committed: list[list[Any]] = []
    exhausted: list[list[Any]] = []
    conflicts = 0
    for n in range(config["commands"]):
        command_id = f"w{worker}-t{task}-c{n}"
        counter_id = rng.choice(config["counter_ids"])
        amount = rng.randint(1, 1000)
        for attempt in range(1, config["max_attempts"] + 1):
            counter = await repo.get(counter_id)
            counter.increment(amount, command_id)
            event_id = str(counter.pending_events[-1].event_id)
            try:
                result = await repo.save(counter)
            except ConcurrencyError:
                conflicts += 1
                await asyncio.sleep(rng.uniform(0, 0.002 * min(attempt, 10)))  # de-synchronise the contenders
                continue
            assert result is not None
            committed.append([counter_id, amount, command_id, event_id, result.version, attempt])
            break
        else:
            exhausted.append([counter_id, amount, command_id])
    return {"committed": committed, "exhausted": exhausted, "conflicts": conflicts}


async def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    # A stat every millisecond is the start barrier; it blocks the loop for microseconds, with nothing else to run.
    while not path.exists():  # noqa: ASYNC240
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {seconds} s")
        await asyncio.sleep(0.001)


async def run(config: dict[str, Any]) -> dict[str, Any]:
    start_dir = Path(config["start_dir"])
    async with open_store(config.get("url") or f"sqlite:///{config['db']}") as store:
        repo = Repository(Counter, store)
        await repo.get(config["counter_ids"][0])  # warm up: connection, schema, decoding
        (start_dir / f"ready-{config['worker']}").touch()
        await _wait_for(start_dir / "go", seconds=120)
        started = time.monotonic()
        reports = await asyncio.gather(*(_writer(repo, config, task) for task in range(config["tasks"])))
        elapsed = time.monotonic() - started
        log = None
        if config.get("dump_log"):  # once every process is done writing (file ``dump``)
            (start_dir / f"done-{config['worker']}").touch()
            await _wait_for(start_dir / "dump", seconds=120)
            log = await _dump_log(store)
    return {
        "log": log,
        "worker": config["worker"],
        "pid": os.getpid(),
        "elapsed": elapsed,
        "committed": [row for report in reports for row in report["committed"]],
        "exhausted": [row for report in reports for row in report["exhausted"]],
        "conflicts": sum(report["conflicts"] for report in reports),
    }


async def _dump_log(store: Any) -> list[list[Any]]:
    """The global log as ``[stream id, version, event id]`` rows, once the store has read everything."""
    sync = getattr(store, "sync", None)
    if sync is not None:
        await sync()
    rows: list[list[Any]] = []
    after = None
    while page := await store.read_all(after=after, limit=500):
        rows.extend([e.stream_id, e.version, str(e.event_id)] for e in page)
        after = page[-1].position
    return rows


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    report = asyncio.run(run(config))
    result = Path(config["result"])
    partial = result.with_suffix(".partial")
    partial.write_text(json.dumps(report))
    partial.replace(result)  # the test never sees half a report


if __name__ == "__main__":
    main(sys.argv)
