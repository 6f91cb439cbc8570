"""End-to-end tests of the ``eventsourcing`` command: the real command in a subprocess, on real stores.

The stores are written by the library in this process (timestamps set with freezegun); the CLI runs
in a fresh interpreter with ``--app cli_app`` (the module next to this file), exactly as a user runs
it. Every failure must be one ``error: ...`` line on stderr with its documented exit code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from freezegun import freeze_time

from eventsourcing import Aggregate, DomainEvent, Repository, on, open_store
from eventsourcing.snapshotting import Snapshot
from tests.e2e.cli_app import Cart

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
CONSOLE_SCRIPT = Path(sys.executable).parent / "eventsourcing"
TIMEOUT = 60


class Order(Aggregate):
    """Declared here only: the CLI (which imports cli_app) does not know this type."""

    type_name = "e2e.Order"

    class Placed(DomainEvent):
        event_type = "e2e.order.placed"
        order_no: str

    order_no: str = ""

    @on(Placed)
    def _placed(self, event: Placed) -> None:
        self.order_no = event.order_no


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def run(*args: str, cwd: Path = HERE, command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("EVENTSOURCING_STORE", None)
    env.pop("EVENTSOURCING_DEBUG", None)
    prefix = command or [sys.executable, "-m", "eventsourcing.cli"]
    return subprocess.run(
        [*prefix, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=TIMEOUT, check=False
    )


def run_all(commands: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands side by side: each one is mostly interpreter start-up."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run(*args), commands))


def ok(*args: str, **kwargs: object) -> str:
    return succeeded(run(*args, **kwargs))  # type: ignore[arg-type]


def succeeded(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}: exit {done.returncode}\n{done.stderr}\n{done.stdout}"
    assert "Traceback" not in done.stderr
    return done.stdout


def fails(code: int, *args: str, cwd: Path = HERE) -> str:
    """Run a command that must fail: exit ``code``, one ``error:`` line on stderr, no traceback."""
    return failed(run(*args, cwd=cwd), code)


def failed(done: subprocess.CompletedProcess[str], code: int) -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == code, f"{done.args}: exit {done.returncode}, wanted {code}\n{done.stderr}"
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


# -- the stores ----------------------------------------------------------------------------------------


async def _save(url: str, *aggregates: Aggregate) -> None:
    async with open_store(url) as store:
        for aggregate in aggregates:
            await Repository(type(aggregate), store).save(aggregate)


def write_shop(path: Path) -> None:
    """cart-1: 4 events (10:00-10:30); order-1 (a type the CLI app lacks): 10:45; cart-2: 11:00, 11:05."""
    with freeze_time(at(0)) as clock:
        cart1 = Cart.open("alice", "cart-1")
        clock.move_to(at(10))
        cart1.add_item("apple", 2, Decimal("0.50"))
        clock.move_to(at(20))
        cart1.add_item("pear", 1, Decimal("1.25"))
        clock.move_to(at(30))
        cart1.check_out()
        clock.move_to(at(45))
        order = Order("order-1")
        order.emit(Order.Placed(order_no="A-17"))
        clock.move_to(at(60))
        cart2 = Cart.open("bob", "cart-2")
        clock.move_to(at(65))
        cart2.add_item("kiwi", 3, Decimal("0.20"))
    asyncio.run(_save(url_of(path), cart1, order, cart2))


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "events.db"
    write_shop(path)
    return path


@pytest.fixture
def shop(shop_file: Path) -> str:
    """The shop's URL (shared, read-only: tests that write use `shop_copy`)."""
    return url_of(shop_file)


@pytest.fixture
def shop_copy(shop_file: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "events.db"
    shutil.copy(shop_file, copy)
    return copy


# -- replay --------------------------------------------------------------------------------------------


def test_replay_latest_prints_state_and_events(shop: str) -> None:
    out = ok("replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "cart-1")
    assert "e2e.Cart 'cart-1': version 4 of 4" in out
    for text in ("alice", '{"apple": 2, "pear": 1}', "2.25", "e2e.cart.checked_out", '"unit_price": "1.25"'):
        assert text in out


def test_replay_json(shop: str) -> None:
    done = run("replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "cart-1", "--json")
    assert done.stderr == ""  # stderr is not a terminal here: no progress bar unless --progress
    doc = json.loads(succeeded(done))
    assert doc["type"] == "e2e.Cart" and doc["id"] == "cart-1"
    assert doc["version"] == 4 and doc["as_of"] is None and doc["snapshot_version"] is None
    assert doc["state"] == {
        "customer_id": "alice",
        "lines": {"apple": 2, "pear": 1},
        "total": "2.25",
        "checked_out": True,
    }
    assert doc["events_applied"] == 4
    assert [(e["version"], e["type"]) for e in doc["events"]] == [
        (1, "e2e.cart.opened"),
        (2, "e2e.cart.item_added"),
        (3, "e2e.cart.item_added"),
        (4, "e2e.cart.checked_out"),
    ]
    assert doc["events"][1]["payload"] == {"sku": "apple", "quantity": 2, "unit_price": "0.50"}
    assert doc["events"][1]["timestamp"] == "2024-05-01T10:10:00.000000+00:00"


def test_replay_version(shop: str) -> None:
    doc = json.loads(
        ok("replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "cart-1", "--version", "2", "--json")
    )
    assert doc["version"] == 2 and doc["requested_version"] == 2 and doc["stream_version"] == 4
    assert doc["state"]["lines"] == {"apple": 2} and doc["events_applied"] == 2


def test_replay_at(shop: str) -> None:
    cases = [
        ("2024-05-01T12:15:00+02:00", "2024-05-01T10:15:00.000000+00:00", 2),  # with an offset
        ("2024-05-01 10:25:00Z", "2024-05-01T10:25:00.000000+00:00", 3),  # a space for the T
        ("2024-05-01T10:20:00Z", "2024-05-01T10:20:00.000000+00:00", 3),  # Z, exactly at event 3
        ("2024-05-01T10:19:59.999999Z", "2024-05-01T10:19:59.999999+00:00", 2),  # just before it
        ("2024-05-02T00:00Z", "2024-05-02T00:00:00.000000+00:00", 4),
        ("2024-05-01T09:59Z", None, None),  # before the first event: not found
    ]
    replay = ("replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "cart-1", "--json", "--at")
    for (when, as_of, version), done in zip(cases, run_all([(*replay, when) for when, _, _ in cases]), strict=True):
        if version is None:
            assert "no events at or before 2024-05-01T09:59:00+00:00" in failed(done, 3)
            continue
        doc = json.loads(succeeded(done))
        assert (doc["as_of"], doc["version"], doc["events_applied"]) == (as_of, version, version), when


def test_replay_diff_between_versions_or_moments(shop: str) -> None:
    replay = ("replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "cart-1", "--diff")
    by_version, by_time, backwards, same, as_json = run_all(
        [
            (*replay, "1", "4"),
            (*replay, "2024-05-01T10:05Z", "2024-05-01T12:25+02:00"),
            (*replay, "4", "2"),
            (*replay, "3", "3"),
            (*replay, "2", "2024-05-01T10:30Z", "--json"),
        ]
    )
    assert succeeded(by_version) == (
        "e2e.Cart 'cart-1': version 1 -> version 4 (of 4): 4 changes\n"
        "  + lines.apple: 2\n"
        "  + lines.pear: 1\n"
        '  ~ total: "0" -> "2.25"\n'
        "  ~ checked_out: false -> true\n"
    )
    assert succeeded(by_time).splitlines() == [
        "e2e.Cart 'cart-1': version 1 (as of 2024-05-01T10:05:00.000000+00:00) -> "
        "version 3 (as of 2024-05-01T10:25:00.000000+00:00) (of 4): 3 changes",
        "  + lines.apple: 2",
        "  + lines.pear: 1",
        '  ~ total: "0" -> "2.25"',
    ]
    assert succeeded(backwards).splitlines()[1:] == [
        "  - lines.pear: 1",
        '  ~ total: "2.25" -> "1.00"',
        "  ~ checked_out: true -> false",
    ]
    assert succeeded(same) == "e2e.Cart 'cart-1': version 3 -> version 3 (of 4): 0 changes\n"
    doc = json.loads(succeeded(as_json))
    assert (doc["from"]["version"], doc["to"]["version"], doc["to"]["as_of"]) == (
        2,
        4,
        "2024-05-01T10:30:00.000000+00:00",
    )
    assert doc["changes"] == [
        {"path": ["lines", "pear"], "field": "lines.pear", "change": "added", "new": 1},
        {"path": ["total"], "field": "total", "change": "changed", "old": "1.00", "new": "2.25"},
        {"path": ["checked_out"], "field": "checked_out", "change": "changed", "old": False, "new": True},
    ]
    failures = run_all(
        [
            (*replay, "1", "9"),
            (*replay, "2024-05-01T09:00Z", "4"),
            (*replay, "0", "2"),
            (*replay, "1", "2024-05-01T10:30"),
            (*replay, "1", "2", "--version", "3"),
        ]
    )
    expected = [
        (3, "has 4 events; version 9 does not exist"),
        (3, "no events at or before 2024-05-01T09:00:00+00:00"),
        (2, "--diff: versions start at 1, got '0'"),
        (2, "--diff: '2024-05-01T10:30' has no timezone"),
        (2, "--diff A B names both states: pass it without --at, --version and --events"),
    ]
    for done, (code, message) in zip(failures, expected, strict=True):
        assert message in failed(done, code), done.args


def test_console_script_and_app_as_a_file(shop: str, tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.is_file(), "run scripts/setup: the console script is missing"
    out = ok(
        "replay", "--store", shop, "--app", str(HERE / "cli_app.py"), "e2e.Cart", "cart-2", "--json",
        cwd=tmp_path, command=[str(CONSOLE_SCRIPT)],
    )  # fmt: skip
    assert json.loads(out)["state"]["lines"] == {"kiwi": 3}


def test_long_replay_reads_pages_and_shows_progress(tmp_path: Path) -> None:
    path = tmp_path / "long.db"
    cart = Cart.open("carol", "long")
    for i in range(12_000):
        cart.add_item(f"sku-{i % 7}", 1, Decimal("0.01"))
    asyncio.run(_save(url_of(path), cart))
    args = ("replay", "--store", url_of(path), "--app", "cli_app", "e2e.Cart", "long", "--json", "--events", "3")
    done = run(*args, "--progress")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["version"], doc["events_applied"], len(doc["events"])) == (12_001, 12_001, 3)
    assert doc["state"]["total"] == "120.00" and sum(doc["state"]["lines"].values()) == 12_000
    assert "replaying e2e.Cart long" in done.stderr


def test_replay_through_snapshots(shop_copy: Path) -> None:
    url = url_of(shop_copy)
    out = ok("snapshots", "take", "--store", url, "--app", "cli_app", "e2e.Cart", "cart-1")
    assert "at version 4" in out
    base = ("replay", "--store", url, "--app", "cli_app", "e2e.Cart", "cart-1", "--json", "--snapshots", url)
    latest = json.loads(ok(*base))
    assert (latest["version"], latest["snapshot_version"], latest["events_applied"]) == (4, 4, 0)
    assert latest["state"]["lines"] == {"apple": 2, "pear": 1}
    earlier = json.loads(ok(*base, "--version", "2"))  # the snapshot is after version 2: not used
    assert (earlier["version"], earlier["snapshot_version"], earlier["events_applied"]) == (2, None, 2)


# -- events --------------------------------------------------------------------------------------------


def test_events_without_app_lists_undecoded_events(shop: str) -> None:
    lines = ok("events", "--store", shop).splitlines()
    assert len(lines) == 7
    assert lines[0].startswith("1  2024-05-01T10:00:00.000000+00:00  cart-1 v1  e2e.cart.opened  ")
    assert all("payload not decoded" in line for line in lines)


def test_events_json(shop: str) -> None:
    events = json_lines(ok("events", "--store", shop, "--app", "cli_app", "--json"))
    assert [(e["stream_id"], e["version"]) for e in events] == [
        ("cart-1", 1), ("cart-1", 2), ("cart-1", 3), ("cart-1", 4), ("order-1", 1), ("cart-2", 1), ("cart-2", 2),
    ]  # fmt: skip
    assert [e["position"] for e in events] == list(range(1, 8))
    order = events[4]
    assert order["type"] == "e2e.order.placed" and order["decoded"] is False
    assert order["payload"] == {"order_no": "A-17"}  # the stored fields, not validated
    assert events[0]["decoded"] is True and events[0]["payload"] == {"customer_id": "alice"}


def test_events_filters(shop: str) -> None:
    cases: list[tuple[tuple[str, ...], list[tuple[str, int]]]] = [
        (("--stream", "cart-2"), [("cart-2", 1), ("cart-2", 2)]),
        (
            ("--since", "2024-05-01T10:15Z", "--until", "2024-05-01T13:00+02:00"),
            [("cart-1", 3), ("cart-1", 4), ("order-1", 1), ("cart-2", 1)],
        ),
        (
            ("--stream", "cart-1", "--since", "2024-05-01T10:10:00Z", "--until", "2024-05-01T10:20:00Z"),
            [("cart-1", 2), ("cart-1", 3)],
        ),
        (("--type", "e2e.Order"), [("order-1", 1)]),
        (
            ("--type", "e2e.Cart", "--limit", "5"),
            [("cart-1", 1), ("cart-1", 2), ("cart-1", 3), ("cart-1", 4), ("cart-2", 1)],
        ),
    ]
    base = ("events", "--store", shop, "--app", "cli_app", "--json")
    for (args, expected), done in zip(cases, run_all([(*base, *args) for args, _ in cases]), strict=True):
        assert [(e["stream_id"], e["version"]) for e in json_lines(succeeded(done))] == expected, args


def test_events_follow_prints_new_events_and_ctrl_c_exits_0(shop_copy: Path) -> None:
    url = url_of(shop_copy)
    args = [
        sys.executable,
        "-m",
        "eventsourcing.cli",
        "events",
        "--store",
        url,
        "--json",
        "--follow",
        "--interval",
        "0.05",
    ]
    with subprocess.Popen(args, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as follower:
        try:
            assert follower.stdout is not None and follower.stderr is not None
            seen = [json.loads(follower.stdout.readline()) for _ in range(7)]
            assert seen[-1]["stream_id"] == "cart-2"
            late = Cart.open("dave", "cart-3")
            asyncio.run(_save(url, late))
            new = json.loads(follower.stdout.readline())
            assert (new["stream_id"], new["position"], new["type"]) == ("cart-3", 8, "e2e.cart.opened")
            follower.send_signal(signal.SIGINT)
            assert follower.wait(timeout=TIMEOUT) == 0
            assert follower.stderr.read() == ""
        finally:
            follower.kill()


# -- snapshots -----------------------------------------------------------------------------------------


def test_snapshots_take_list_and_prune_stale(shop_copy: Path) -> None:
    url = url_of(shop_copy)
    ok("snapshots", "take", "--store", url, "--app", "cli_app", "e2e.Cart", "cart-1")
    # A snapshot written by an older version of the class: same type, another fingerprint.
    old = Snapshot("cart-2", "e2e.Cart", 2, at(65), "0" * 32, b'{"customer_id": "bob"}')
    asyncio.run(_save_snapshot(url, old))

    def listed(*args: str) -> list[tuple[object, ...]]:
        rows = json_lines(ok("snapshots", "list", "--store", url, "--json", *args))
        return [(r["stream_id"], r["version"], r["status"]) for r in rows]

    listing = ("snapshots", "list", "--store", url)
    everything, one_stream, table = run_all(
        [
            (*listing, "--json"),
            (*listing, "--json", "--stream", "cart-2", "--type", "e2e.Cart"),
            (*listing, "--app", "cli_app"),
        ]
    )
    rows = [[(r["stream_id"], r["version"], r["status"]) for r in json_lines(succeeded(done))] for done in (
        everything, one_stream
    )]  # fmt: skip
    assert rows[0] == [("cart-1", 4, "unknown type"), ("cart-2", 2, "unknown type")]  # no --app: cannot tell
    assert rows[1] == [("cart-2", 2, "unknown type")]
    assert "2 snapshots" in succeeded(table) and "stale" in table.stdout and "current" in table.stdout
    assert ok("snapshots", "prune", "--stale", "--store", url, "--app", "cli_app") == (
        "removed 1 stale snapshot (e2e.Cart: 1)\n"
    )
    assert listed("--app", "cli_app") == [("cart-1", 4, "current")]
    fails(2, "snapshots", "prune", "--store", url, "--app", "cli_app")  # --stale is required


def test_snapshots_prune_keep_n_per_stream(shop_copy: Path) -> None:
    url = url_of(shop_copy)
    for stream_id, stream_type, versions in (
        ("cart-1", "e2e.Cart", (1, 2, 3, 4)),
        ("cart-2", "e2e.Cart", (1, 2)),
        ("order-1", "e2e.Order", (1,)),
    ):
        for version in versions:
            snapshot = Snapshot(stream_id, stream_type, version, at(version), "f" * 32, b"{}")
            asyncio.run(_save_snapshot(url, snapshot))

    def kept() -> list[tuple[object, ...]]:
        rows = json_lines(ok("snapshots", "list", "--store", url, "--json"))
        return [(r["stream_id"], r["version"]) for r in rows]

    prune = ("snapshots", "prune", "--store", url)
    assert ok(*prune, "--keep", "3", "--stream", "cart-1") == (
        "removed 1 older snapshot, keeping the newest 3 of each stream\n"
    )
    assert ok(*prune, "--keep", "1", "--type", "e2e.Order") == (
        "removed 0 older snapshots, keeping the newest 1 of each stream\n"
    )
    assert ok(*prune, "--keep", "2") == "removed 1 older snapshot, keeping the newest 2 of each stream\n"
    assert kept() == [("cart-1", 3), ("cart-1", 4), ("cart-2", 1), ("cart-2", 2), ("order-1", 1)]
    assert ok(*prune, "--keep", "1", "--stale", "--app", "cli_app") == (
        "removed 4 stale snapshots (e2e.Cart: 4)\nremoved 0 older snapshots, keeping the newest 1 of each stream\n"
    )
    assert kept() == [("order-1", 1)]  # e2e.Order is no --app module's type: not stale, not current
    for args, message in (
        ((*prune, "--keep", "0"), "Invalid value for '--keep'"),
        ((*prune, "--stream", "cart-1"), "--stream and --type choose what --keep N trims: pass --keep N too"),
        ((*prune, "--stale"), "snapshots prune --stale needs --app"),
        (prune, "snapshots prune needs --stale"),
    ):
        assert message in fails(2, *args), args


async def _save_snapshot(url: str, snapshot: Snapshot) -> None:
    from eventsourcing.snapshots import SQLSnapshotStore

    async with SQLSnapshotStore(url) as store:
        await store.save(snapshot)


def test_separate_snapshot_store(shop_copy: Path, tmp_path: Path) -> None:
    url, elsewhere = url_of(shop_copy), url_of(tmp_path / "snapshots.db")
    ok("snapshots", "take", "--store", url, "--snapshots", elsewhere, "--app", "cli_app", "e2e.Cart", "cart-2")
    rows = json_lines(ok("snapshots", "list", "--store", url, "--snapshots", elsewhere, "--json"))
    assert [(r["stream_id"], r["version"]) for r in rows] == [("cart-2", 2)]
    assert json_lines(ok("snapshots", "list", "--store", url, "--json")) == []


# -- init ----------------------------------------------------------------------------------------------


def test_init_creates_the_schema_idempotently(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    url = url_of(path)
    assert ok("init", "--store", url) == f"events: created SQLite database {path}; events table ready in {url}\n"
    assert _tables(path) >= {"events"} and "snapshots" not in _tables(path)
    out = ok("init", "--store", url, "--snapshots", url)
    assert out == f"events: events table ready in {url}\nsnapshots: snapshots table ready in {url}\n"
    assert _tables(path) >= {"events", "snapshots"}
    assert ok("events", "--store", url) == ""


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# -- failures ------------------------------------------------------------------------------------------


def test_failures_are_one_line_with_distinct_exit_codes(shop: str, shop_copy: Path, tmp_path: Path) -> None:
    replay = ("replay", "--store", shop, "--app", "cli_app")
    cases: list[tuple[int, tuple[str, ...], str]] = [
        (3, (*replay, "e2e.Nope", "cart-1"), "unknown aggregate type 'e2e.Nope' (known: e2e.Cart)"),
        (3, (*replay, "e2e.Cart", "nope"), "e2e.Cart 'nope' has no events"),
        (3, (*replay, "e2e.Cart", "cart-1", "--version", "9"), "has 4 events; version 9 does not exist"),
        (3, ("events", "--store", shop, "--stream", "nope"), "stream 'nope' has no events"),
        (2, (*replay, "e2e.Cart", "cart-1", "--at", "tomorrow"), "--at: 'tomorrow' is not a time; accepted: ISO 8601"),
        (2, (*replay, "e2e.Cart", "cart-1", "--at", "2024-05-01T10:25"), "--at: '2024-05-01T10:25' has no timezone"),
        (2, ("events", "--store", shop, "--since", "2024-05-01"), "write it with its offset: 2024-05-01T00:00Z"),
        (2, (*replay, "e2e.Cart", "cart-1", "--at", "now", "--version", "1"), "either --at or --version"),
        (2, ("replay", "--store", shop, "e2e.Cart", "cart-1"), "Missing option '--app'"),
        (
            2,
            ("replay", "--store", shop, "--app", "no_such_module", "e2e.Cart", "x"),
            "no module named 'no_such_module'",
        ),
        (2, ("events", "--store", "mysql://localhost/db"), "is not a store URL"),
        (4, ("events", "--store", url_of(tmp_path / "absent.db")), "no SQLite database at"),
        (4, ("init", "--store", url_of(tmp_path / "no" / "dir.db")), "unable to open database file"),
        (4, ("events", "--store", "postgresql://postgres@127.0.0.1:1/db"), "cannot open the PostgreSQL store"),
        (3, (*replay, "e2e.Cart", "order-1"), "stream 'order-1' holds a e2e.Order aggregate, not a e2e.Cart"),
    ]
    with sqlite3.connect(shop_copy) as db:
        db.execute("UPDATE events SET payload = ? WHERE stream_id = 'cart-1' AND version = 2", (b'{"sku": 1',))
    corrupt = ("replay", "--store", url_of(shop_copy), "--app", "cli_app", "e2e.Cart", "cart-1")
    cases.append((5, corrupt, "'e2e.cart.item_added' v1 at 'cart-1' version 2 does not decode"))
    broken = tmp_path / "broken_app.py"
    broken.write_text("raise RuntimeError('the app cannot start')\n")
    cases.append(
        (1, ("replay", "--store", shop, "--app", str(broken), "e2e.Cart", "x"), "RuntimeError: the app cannot start")
    )
    for (code, args, message), done in zip(cases, run_all([args for _, args, _ in cases]), strict=True):
        line = failed(done, code)
        assert message in line, (args, line)


def test_debug_shows_the_traceback(shop: str) -> None:
    done = run("--debug", "replay", "--store", shop, "--app", "cli_app", "e2e.Cart", "nope")
    assert done.returncode == 3
    assert "Traceback" in done.stderr and done.stderr.splitlines()[-1] == "error: e2e.Cart 'nope' has no events"


def test_cli_is_loaded_lazily(shop: str) -> None:
    """``import eventsourcing`` loads no CLI; the CLI loads ``snapshots`` only for snapshot work."""
    heavy = ("typer", "rich", "eventsourcing.cli", "eventsourcing.snapshots", "eventsourcing.projections")
    code = f"import sys, eventsourcing; print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    assert ok("-c", code, command=[sys.executable]).strip() == "[]"
    code = (
        "import sys\nfrom eventsourcing.cli import main\n"
        f"try:\n    main(['replay', '--store', {shop!r}, '--app', 'cli_app', 'e2e.Cart', 'cart-1', '--json'])\n"
        "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "print('eventsourcing.snapshots' in sys.modules, 'typer' in sys.modules, file=sys.stderr)\n"
    )
    done = run("-c", code, command=[sys.executable])
    assert done.returncode == 0 and done.stderr == "False True\n", done.stderr


# -- docs ----------------------------------------------------------------------------------------------


def test_reference_page_matches_the_help() -> None:
    """docs/cli.md embeds each command's --help; `scripts/cli-docs` regenerates it."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli-docs"), "--check"],
        capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# -- PostgreSQL ----------------------------------------------------------------------------------------


async def test_replay_and_events_on_postgresql(postgres_url: str) -> None:
    with freeze_time(at(0)) as clock:
        cart = Cart.open("erin", "pg-cart")
        clock.move_to(at(10))
        cart.add_item("fig", 4, Decimal("0.75"))
    await _save(postgres_url, cart)

    async def cli(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eventsourcing.cli", *args,
            cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    replay = ("replay", "--store", postgres_url, "--app", "cli_app", "e2e.Cart", "pg-cart", "--json")
    code, out, err = await cli(*replay)
    assert code == 0, err
    assert json.loads(out)["state"] == {
        "customer_id": "erin",
        "lines": {"fig": 4},
        "total": "3.00",
        "checked_out": False,
    }
    code, out, err = await cli(*replay, "--at", "2024-05-01T10:05:00Z")
    assert code == 0, err
    assert (json.loads(out)["version"], json.loads(out)["state"]["lines"]) == (1, {})
    code, out, err = await cli(*replay[:-2], "missing", "--json")
    assert (code, err.count("\n"), "Traceback" in err) == (3, 1, False)
    code, out, err = await cli("events", "--store", postgres_url, "--app", "cli_app", "--json")
    assert code == 0, err
    assert [(e["version"], e["type"]) for e in json_lines(out)] == [(1, "e2e.cart.opened"), (2, "e2e.cart.item_added")]
