"""The Kafka store's process is killed (SIGKILL) while appending, and restarted, several times.

Nothing acknowledged is lost, nothing is applied twice: a command a kill interrupted is re-sent on
restart with the same event ids and stored once, whether or not its first record had reached the
log. The restarted process resumes from the offsets its index committed (it does not rebuild), and
its index ends up identical to one built from scratch by a fresh store.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import sys
import time
from pathlib import Path
from uuid import uuid4

from eventsourcing.stores.kafka import KafkaEventStore
from tests.integration.kafka_restart_worker import acknowledged
from tests.integration.test_sqlite_concurrency import _child_env, _tail

WORKER = Path(__file__).with_name("kafka_restart_worker.py")
KILLS = 4


def _committed(index: Path) -> int:
    """How many events the worker's index file holds, as committed (0 before its first commit)."""
    if not index.exists():
        return 0
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not created yet
        return 0
    finally:
        db.close()


async def _run_until_killed(args: list[str], ack_file: Path, log: Path, at_least: int, index: Path) -> None:
    """Run the worker until it acknowledged ``at_least`` appends and its index committed some of this
    run's work (so the restart has offsets to resume from, however fast the run was), then kill it."""
    committed_before = _committed(index)
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), *args, stdout=out, stderr=out, env=_child_env()
        )
    deadline = time.monotonic() + 60
    try:
        while len(acknowledged(ack_file)) < at_least or _committed(index) <= committed_before:
            assert process.returncode is None, f"the worker exited with {process.returncode}:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"the worker made no progress:\n{_tail(log)}"
            await asyncio.sleep(0.01)
        await asyncio.sleep(random.uniform(0, 0.05))  # kill at a random point of an append
    finally:
        process.kill()
        await process.wait()


async def test_a_killed_writer_loses_nothing_acknowledged_and_stores_nothing_twice(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"t{uuid4().hex[:12]}"
    index, ack_file, opened, log = (tmp_path / name for name in ("index.db", "acks.jsonl", "opened.jsonl", "w.log"))
    args = [kafka_bootstrap, prefix, str(index), str(ack_file), str(opened)]
    for _ in range(KILLS):  # each run acknowledges 25 more appends at least, then dies at a random moment
        await _run_until_killed(args, ack_file, log, at_least=len(acknowledged(ack_file)) + 25, index=index)
    acks = acknowledged(ack_file)
    starts = [json.loads(line) for line in opened.read_text().splitlines()]
    assert len(starts) == KILLS
    assert starts[0]["events"] == 0
    for start in starts[1:]:  # every restart found its index on disk and resumed from it
        assert start["events"] > 0 and any(offset > 0 for offset in start["offsets"].values()), start

    async with KafkaEventStore(kafka_bootstrap, prefix=prefix) as fresh:
        streams = {s.stream_id: await fresh.read(s.stream_id) for s in await fresh.list_streams()}
        assert len(streams) == 5
        log_from_scratch = sorted(
            (e.stream_id, e.version, str(e.event_id)) for events in streams.values() for e in events
        )
    # Every acknowledged append is stored, at the versions its acknowledgement gave.
    for ack in acks:
        events = streams[str(ack["stream"])]
        ids = [str(e.event_id) for e in events[int(ack["version"]) - len(ack["ids"]) : int(ack["version"])]]
        assert ids == ack["ids"], f"command {ack['k']}: acknowledged at version {ack['version']} but not stored there"
    # Each stream is 1..n, and each command is stored once, whole and in order (none lost, none twice).
    commands: list[tuple[int, int]] = []
    for stream_id, events in streams.items():
        assert [e.version for e in events] == list(range(1, len(events) + 1)), stream_id
        commands.extend((e.event.k, e.event.i) for e in events)
    assert len(commands) == len(set(commands)), "an event was stored twice"
    stored_k = sorted({k for k, _ in commands})
    last_acked = int(acks[-1]["k"])
    assert stored_k[: last_acked + 1] == list(range(last_acked + 1)), "an acknowledged command is missing"
    assert stored_k[-1] <= last_acked + 1  # at most the one command in flight when the last kill came

    # The killed process's own index, reopened once more, agrees with the fresh one.
    async with KafkaEventStore(kafka_bootstrap, prefix=prefix, index=str(index)) as reopened:
        own = []
        for stream_id in streams:
            own.extend((e.stream_id, e.version, str(e.event_id)) for e in await reopened.read(stream_id))
    assert sorted(own) == log_from_scratch
