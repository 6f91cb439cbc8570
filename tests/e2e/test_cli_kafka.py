"""End-to-end tests of the ``eventsourcing`` command on the Kafka store, on the broker the tests start.

The same shop as tests/e2e/test_cli.py is written to topics of a fresh prefix; the CLI runs in a
fresh interpreter with ``--store kafka://...``. A Kafka store keeps only events: snapshots and views
go to a SQL database named with ``--snapshots`` / ``--views``, and saying nothing is a usage error.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from freezegun import freeze_time

from eventsourcing import NewEvent, Repository, open_store
from tests.e2e.cli_app import Cart
from tests.e2e.projections_app import Tally
from tests.e2e.test_cli import HERE, TIMEOUT, _save, at, failed, json_lines, ok, run_all, succeeded, write_shop


def kafka_url(bootstrap: str, prefix: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"prefix": prefix, "partitions": "2", **params}.items())
    return f"kafka://{bootstrap}?{query}"


@pytest.fixture(scope="module")
def shop(kafka_broker: object, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shop of tests/e2e/test_cli.py on topics of its own (shared by the module's tests, read-only)."""
    bootstrap: str = kafka_broker.bootstrap_servers  # type: ignore[attr-defined]
    url = kafka_url(bootstrap, f"t{uuid.uuid4().hex[:12]}")
    write_shop_to(url, tmp_path_factory.mktemp("kafka-shop"))
    return url


def write_shop_to(url: str, scratch: Path) -> None:
    """`write_shop` writes to a SQLite file; copy what it wrote, aggregate by aggregate, to ``url``."""
    sqlite = f"sqlite:///{scratch / 'events.db'}"
    write_shop(scratch / "events.db")

    async def copy() -> None:
        async with open_store(sqlite) as source, open_store(url) as target:
            for info in await source.list_streams():
                recorded = await source.read(info.stream_id)
                events = [NewEvent(r.event, r.event_id, r.timestamp, r.metadata) for r in recorded]
                await target.append(info.stream_id, events, 0, stream_type=info.stream_type)

    asyncio.run(copy())


def test_replay_events_snapshots_and_init(shop: str, tmp_path: Path) -> None:
    snapshots = f"sqlite:///{tmp_path / 'snapshots.db'}"
    replay = ("replay", "--store", shop, "--app", "cli_app", "e2e.Cart")
    done = run_all(
        [
            (*replay, "cart-1", "--json"),
            (*replay, "cart-1", "--at", "2024-05-01T10:15:00Z", "--json"),
            ("events", "--store", shop, "--app", "cli_app", "--json"),
            ("snapshots", "take", "--store", shop, "--snapshots", snapshots, "--app", "cli_app", "e2e.Cart", "cart-1"),
            ("init", "--store", shop),
        ]
    )
    latest, early = json.loads(succeeded(done[0])), json.loads(succeeded(done[1]))
    assert (latest["version"], latest["state"]["lines"], latest["state"]["total"]) == (
        4,
        {"apple": 2, "pear": 1},
        "2.25",
    )
    assert (early["version"], early["state"]["lines"]) == (2, {"apple": 2})
    listed = json_lines(succeeded(done[2]))
    assert sorted((e["stream_id"], e["version"]) for e in listed) == [
        ("cart-1", 1), ("cart-1", 2), ("cart-1", 3), ("cart-1", 4), ("cart-2", 1), ("cart-2", 2), ("order-1", 1)
    ]  # fmt: skip
    assert all(isinstance(e["position"], dict) for e in listed)  # topic-partition -> [offset, index]
    (order,) = [e for e in listed if e["stream_id"] == "order-1"]  # a type no --app module declares
    assert (order["decoded"], order["payload"]) == (False, {"order_no": "A-17"})
    assert "at version 4" in succeeded(done[3])
    assert "is reachable (3 streams)" in succeeded(done[4])
    through = json.loads(ok(*replay, "cart-1", "--snapshots", snapshots, "--json"))
    assert (through["snapshot_version"], through["state"]) == (4, latest["state"])


def test_events_follow_prints_new_events_and_ctrl_c_exits_0(shop: str) -> None:
    args = [sys.executable, "-m", "eventsourcing.cli", "events", "--store", shop, "--json", "--follow"]
    with subprocess.Popen(args, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as follower:
        try:
            assert follower.stdout is not None and follower.stderr is not None
            seen = [json.loads(follower.stdout.readline()) for _ in range(7)]
            assert {e["stream_id"] for e in seen} == {"cart-1", "cart-2", "order-1"}
            late = Cart.open("dave", f"late-{uuid.uuid4().hex[:6]}")
            asyncio.run(_save(shop, late))
            new = json.loads(follower.stdout.readline())
            assert (new["stream_id"], new["type"]) == (late.id, "e2e.cart.opened")
            follower.send_signal(signal.SIGINT)
            assert follower.wait(timeout=TIMEOUT) == 0
            assert follower.stderr.read() == ""
        finally:
            follower.kill()


async def _tallies(url: str) -> None:
    with freeze_time(at(0)) as clock:
        tallies = []
        for i, name in enumerate(("a", "b", "c")):
            tally = Tally.start(name, f"tally-{name}")
            for n in range(i + 2):
                clock.move_to(at(10 * n + i))
                tally.bump(n + 1)
            tallies.append(tally)
    async with open_store(url) as store:
        for tally in tallies:
            await Repository(Tally, store).save(tally)


def test_projections_run_status_and_rebuild(kafka_bootstrap: str, tmp_path: Path) -> None:
    store = kafka_url(kafka_bootstrap, f"t{uuid.uuid4().hex[:12]}", index=str(tmp_path / "index.db"))
    asyncio.run(_tallies(store))
    views = f"sqlite:///{tmp_path / 'views.db'}"
    common = ("--store", store, "--app", "projections_app", "--views", views)
    ran = ok("projections", "run", *common, "--until-caught-up", "counters")
    assert "counters: checkpoint" in ran and "(caught up)" in ran
    status, as_of = run_all(
        [
            ("projections", "status", *common, "counters", "--json"),
            ("projections", "rebuild", *common, "counters", "--until", "2024-05-01T10:05Z", "--json"),
        ]
    )
    (item,) = json_lines(succeeded(status))
    assert (item["lag_events"], item["state"]) == (0, "caught up")
    assert item["checkpoint"] == item["head"] and isinstance(item["checkpoint"], dict)
    tables = json.loads(succeeded(as_of))["tables"]
    assert tables == {
        "tally_counts": "tally_counts_asof_20240501_100500",
        "tally_audit": "tally_audit_asof_20240501_100500",
    }
    rebuilt = ok("projections", "rebuild", *common, "counters", "--json")
    assert json.loads(rebuilt)["events"] == 3 + 2 + 3 + 4


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"127.0.0.1:{server.getsockname()[1]}"


def test_failures_are_one_line_with_the_right_exit_codes(shop: str, silent_server: str) -> None:
    cases: list[tuple[int, tuple[str, ...], str]] = [
        (4, ("events", "--store", "kafka://127.0.0.1:1"), "Kafka at 127.0.0.1:1 is unreachable"),
        (4, ("events", "--store", f"kafka://{silent_server}"), "did not answer within 5s"),
        (2, ("events", "--store", f"{shop}&colour=blue"), "unknown parameter 'colour'"),
        (2, ("events", "--store", "kafka://"), "give the bootstrap servers"),
        (2, ("snapshots", "list", "--store", shop), "a Kafka store, which keeps no snapshots"),
        (2, ("projections", "status", "--store", shop, "--app", "projections_app"), "keeps no views: pass --views"),
        (3, ("replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "nope"), "e2e.Cart 'nope' has no events"),
    ]
    started = time.monotonic()
    for (code, args, message), done in zip(cases, run_all([args for _, args, _ in cases]), strict=True):
        assert message in failed(done, code), (args, done.stderr)
    assert time.monotonic() - started < 20
