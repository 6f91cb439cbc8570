"""Issue 14, item 15: ``replay --json`` and ``replay --events all`` stream their output in bounded memory.

A 50,000-event stream is replayed by the real command in a child process whose peak RSS is read
with ``os.wait4`` (the child's own rusage). Before the fix both kept every event (and the table of
every row) in memory: ~1.4 GB for 200,000 events, so ~360 MB here. Streamed, the peak does not grow
with the stream: the bound is the issue's 150 MB. ``EVENTSOURCING_MEMORY_EVENTS=200000`` runs the
full-size measurement (its figures are printed with ``-s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from eventsourcing import Repository, open_store
from tests.e2e.cli_app import Cart

HERE = Path(__file__).resolve().parent
EVENTS = int(os.environ.get("EVENTSOURCING_MEMORY_EVENTS", "50000"))
BOUND_MB = 150


# The command runs under a small Python process that reports its child's peak RSS: a child forked
# straight from pytest would count pytest's own pages (Linux keeps the pre-exec high-water mark).
_PEAK = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "sys.stderr.write(f'\\npeak-kb {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n'); sys.exit(code)"
)


def measured(args: list[str], out: Path) -> tuple[float, float]:
    """Run the CLI with stdout to ``out``: (peak RSS in MB, wall seconds)."""
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("EVENTSOURCING_DEBUG", None)
    started = time.monotonic()
    with out.open("w") as sink:
        done = subprocess.run(
            [sys.executable, "-c", _PEAK, sys.executable, "-m", "eventsourcing.cli", *args],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
            env=env,
            timeout=600,
            check=False,
        )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    peak_kb = int(done.stderr.rsplit("peak-kb ", 1)[1])
    return peak_kb / 1024, elapsed


@pytest.fixture(scope="module")
def long_stream(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('long') / 'long.db'}"

    async def write() -> None:
        async with open_store(url) as store:
            repo = Repository(Cart, store)
            cart = Cart.open("carol", "long")
            await repo.save(cart)
            for start in range(1, EVENTS, 10_000):
                for i in range(start, min(start + 10_000, EVENTS)):
                    cart.add_item(f"sku-{i % 7}", 1, Decimal("0.01"))
                await repo.save(cart)

    asyncio.run(write())
    return url


def test_replay_json_streams_every_event_in_bounded_memory(long_stream: str, tmp_path: Path) -> None:
    out = tmp_path / "replay.json"
    args = ["replay", "--store", long_stream, "--app", "cli_app", "e2e.Cart", "long", "--json"]
    peak, seconds = measured(args, out)
    events_peak, events_seconds = measured(
        ["events", "--store", long_stream, "--app", "cli_app", "--stream", "long", "--json"], tmp_path / "events.json"
    )
    print(f"\nreplay --json of {EVENTS:,} events: peak RSS {peak:.0f} MB, {seconds:.1f} s", file=sys.stderr)
    print(f"events --json of the same stream: peak RSS {events_peak:.0f} MB, {events_seconds:.1f} s", file=sys.stderr)
    doc = json.loads(out.read_text())
    assert (doc["version"], doc["events_applied"], len(doc["events"])) == (EVENTS, EVENTS, EVENTS)
    assert [e["version"] for e in doc["events"][:3]] == [1, 2, 3] and doc["events"][-1]["version"] == EVENTS
    assert doc["state"]["total"] == str(Decimal("0.01") * (EVENTS - 1))
    listed = [json.loads(line) for line in (tmp_path / "events.json").read_text().splitlines()]
    assert doc["events"] == listed  # the same records as `events --json`
    assert peak < BOUND_MB, f"replay --json peaked at {peak:.0f} MB"


def test_replay_table_of_all_events_streams_in_bounded_memory(long_stream: str, tmp_path: Path) -> None:
    out = tmp_path / "replay.txt"
    args = ["replay", "--store", long_stream, "--app", "cli_app", "e2e.Cart", "long", "--events", "all"]
    peak, seconds = measured(args, out)
    print(f"\nreplay --events all of {EVENTS:,} events: peak RSS {peak:.0f} MB, {seconds:.1f} s", file=sys.stderr)
    lines = out.read_text().splitlines()
    rows = [line for line in lines if line.startswith("│") and "e2e.cart." in line]
    assert len(rows) == EVENTS
    assert rows[0].split("│")[1].strip() == "1" and rows[-1].split("│")[1].strip() == str(EVENTS)
    assert f"events applied ({EVENTS}, from the start)" in out.read_text()
    assert peak < BOUND_MB, f"replay --events all peaked at {peak:.0f} MB"
