"""End-to-end: ``eventsourcing snapshots take|list|prune`` and ``replay --snapshots`` against PostgreSQL.

The events and the snapshots live in the same PostgreSQL database (the throwaway cluster of the
``postgres_url`` fixture); the CLI runs in a fresh interpreter with ``--app cli_app``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from decimal import Decimal

from freezegun import freeze_time

from eventsourcing import Repository, open_store
from eventsourcing.snapshots import SQLSnapshotStore
from eventsourcing.snapshotting import Snapshot
from tests.e2e.cli_app import Cart
from tests.e2e.test_cli import HERE, TIMEOUT, json_lines

T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def cli(*args: str) -> str:
    """Run the command; it must succeed with no traceback. Returns its stdout."""
    code, out, err = await run(*args)
    assert code == 0, f"{args}: exit {code}\n{err}"
    assert "Traceback" not in err
    return out


async def run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventsourcing.cli", *args,
        cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_snapshots_take_list_prune_and_replay_on_postgresql(postgres_url: str) -> None:
    url = postgres_url
    with freeze_time(at(0)) as clock:
        cart = Cart.open("erin", "pg-cart")  # v1 at 10:00, then v2..v4 at 10:10, 10:20, 10:30
        for minutes, sku in ((10, "fig"), (20, "kiwi"), (30, "fig")):
            clock.move_to(at(minutes))
            cart.add_item(sku, 1, Decimal("0.50"))
    async with open_store(url) as store:
        await Repository(Cart, store).save(cart)

    assert "at version 4" in await cli("snapshots", "take", "--store", url, "--app", "cli_app", "e2e.Cart", "pg-cart")
    # A snapshot written by an older version of the class: same type, another fingerprint, bad state.
    async with SQLSnapshotStore(url) as snapshots:
        await snapshots.save(Snapshot("pg-cart", "e2e.Cart", 2, at(10), "0" * 32, b'{"lines": 7}'))

    listing = ("snapshots", "list", "--store", url, "--app", "cli_app", "--json")
    rows = json_lines(await cli(*listing))
    assert [(r["version"], r["status"]) for r in rows] == [(2, "stale"), (4, "current")]
    assert rows[1]["timestamp"] == "2024-05-01T10:30:00.000000+00:00"

    replay = ("replay", "--store", url, "--snapshots", url, "--app", "cli_app", "e2e.Cart", "pg-cart", "--json")
    latest, earlier, before_snapshot, after_snapshot = [
        json.loads(out)
        for out in await asyncio.gather(
            cli(*replay),
            cli(*replay, "--version", "3"),  # before the snapshot (and the stale one is never used)
            cli(*replay, "--at", "2024-05-01T10:25:00Z"),
            cli(*replay, "--at", "2024-05-01T11:00:00+01:00"),  # 10:00 UTC: only the first event
        )
    ]
    assert (latest["version"], latest["snapshot_version"], latest["events_applied"]) == (4, 4, 0)
    assert latest["state"]["lines"] == {"fig": 2, "kiwi": 1}
    assert (earlier["version"], earlier["snapshot_version"], earlier["events_applied"]) == (3, None, 3)
    assert (before_snapshot["version"], before_snapshot["snapshot_version"]) == (3, None)
    assert (after_snapshot["version"], after_snapshot["state"]["lines"]) == (1, {})
    at_snapshot = json.loads(await cli(*replay, "--at", "2024-05-01T10:30:00Z"))
    assert (at_snapshot["version"], at_snapshot["snapshot_version"], at_snapshot["events_applied"]) == (4, 4, 0)

    pruned = await cli("snapshots", "prune", "--stale", "--store", url, "--app", "cli_app")
    assert pruned == "removed 1 stale snapshot (e2e.Cart: 1)\n"
    assert [r["version"] for r in json_lines(await cli(*listing))] == [4]

    code, _, err = await run(*replay[:4], "postgresql://postgres@127.0.0.1:1/db", *replay[5:])
    assert (code, err.count("\n"), "Traceback" in err) == (4, 1, False), err
    assert err.startswith("error: ") and "PostgreSQL snapshot store" in err
