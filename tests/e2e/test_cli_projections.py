"""End-to-end tests of ``eventsourcing projections {status,run,rebuild}``: the real command in subprocesses.

The events are written by the library in this process (timestamps set with freezegun); the CLI runs
with ``--app projections_app`` (the module next to this file) in a fresh interpreter, as a user runs
it, against SQLite files and a throwaway PostgreSQL. The views are read back with plain SQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
from freezegun import freeze_time

from eventsourcing import AggregateNotFound, Repository, open_store
from tests.e2e.projections_app import Tally

HERE = Path(__file__).resolve().parent
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
TIMEOUT = 60
TALLY_IDS = ("tally-a", "tally-b", "tally-c", "tally-d")


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def env() -> dict[str, str]:
    out = {**os.environ, "COLUMNS": "160"}
    out.pop("EVENTSOURCING_STORE", None)
    out.pop("EVENTSOURCING_DEBUG", None)
    return out


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventsourcing.cli", *args],
        capture_output=True, text=True, cwd=HERE, env=env(), timeout=TIMEOUT, check=False,
    )  # fmt: skip


def run_all(commands: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run(*args), commands))


def succeeded(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}: exit {done.returncode}\n{done.stderr}\n{done.stdout}"
    assert "Traceback" not in done.stderr and "error" not in done.stderr, done.stderr
    return done.stdout


def ok(*args: str) -> str:
    return succeeded(run(*args))


def failed(done: subprocess.CompletedProcess[str], code: int) -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == code, f"{done.args}: exit {done.returncode}, wanted {code}\n{done.stderr}"
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def by_name(text: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in json_lines(text)}


# -- the events and what a replay says --------------------------------------------------------------------


async def _save(url: str, *tallies: Tally) -> None:
    async with open_store(url) as store:
        for tally in tallies:
            await Repository(Tally, store).save(tally)


def write_tallies(url: str) -> None:
    asyncio.run(_save(url, *make_tallies()))


def make_tallies() -> list[Tally]:
    """9 events: tally-a 10:00-10:03 (one bump of 13), tally-b 10:10-10:12, tally-c 10:20-10:21."""
    with freeze_time(at(0)) as clock:
        a = Tally.start("apples", "tally-a")
        for minute, by in ((1, 1), (2, 2), (3, 13)):
            clock.move_to(at(minute))
            a.bump(by)
        clock.move_to(at(10))
        b = Tally.start("pears", "tally-b")
        for minute, by in ((11, 5), (12, 7)):
            clock.move_to(at(minute))
            b.bump(by)
        clock.move_to(at(20))
        c = Tally.start("kiwis", "tally-c")
        clock.move_to(at(21))
        c.bump(3)
    return [a, b, c]


def write_more(url: str) -> None:
    """4 more events: tally-a bumped at 10:31, tally-d 10:30-10:32."""

    async def load() -> Tally:
        async with open_store(url) as store:
            return await Repository(Tally, store).get("tally-a")

    a = asyncio.run(load())
    with freeze_time(at(30)) as clock:
        d = Tally.start("figs", "tally-d")
        clock.move_to(at(31))
        a.bump(4)
        clock.move_to(at(32))
        d.bump(2)
        d.bump(2)
    asyncio.run(_save(url, a, d))


Rows = dict[str, tuple[str, int, int]]


async def replayed(url: str, as_of: dt.datetime | None = None) -> Rows:
    """What the counters view must hold: each tally replayed (as of a time): label, events, total."""
    rows: Rows = {}
    async with open_store(url) as store:
        repository = Repository(Tally, store)
        for tally_id in TALLY_IDS:
            try:
                tally = await repository.get(tally_id, as_of=as_of)
            except AggregateNotFound:
                continue
            rows[tally_id] = (tally.label, tally.version, tally.total)
    return rows


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute(sql).fetchall())


def counters(path: Path, table: str = "tally_counts") -> Rows:
    return {row[0]: (row[1], row[2], row[3]) for row in sqlite_rows(path, f"SELECT * FROM {table}")}


# -- SQLite ------------------------------------------------------------------------------------------------


def test_status_run_and_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = url_of(path)
    write_tallies(store)
    base = ("--store", store, "--app", "projections_app")

    before, one, table = run_all(
        [
            ("projections", "status", *base, "--json"),
            ("projections", "status", *base, "counters", "--json"),
            ("projections", "status", *base),
        ]
    )
    status = by_name(succeeded(before))
    assert list(status) == ["counters", "event_types", "picky"]  # declaration order; the instance stands in
    assert status["counters"] | {"lag_seconds": 0} == {
        "name": "counters",
        "checkpoint": None,
        "head": 9,
        "lag_events": 9,
        "lag_exact": True,
        "lag_seconds": 0,
        "updated_at": None,
        "state": "never run",
        "error": None,
        "dead_letters": 0,
    }
    assert status["counters"]["lag_seconds"] > 3600  # the oldest event is from 2024
    assert list(by_name(succeeded(one))) == ["counters"]
    text = succeeded(table)
    assert "never run" in text and "counters" in text and "projector" in text
    # status only reads: no view tables
    assert sqlite_rows(path, "SELECT name FROM sqlite_master WHERE name LIKE 'tally%'") == []

    # run --until-caught-up applies every event exactly once (the audit table's key would refuse a second)
    done = run("projections", "run", *base, "--until-caught-up", "--progress", "--batch-size", "4")
    out = succeeded(done)
    assert "catching up" in done.stderr and "27 of 27 events" in done.stderr  # the progress, on stderr
    assert "counters: checkpoint 9 (caught up)" in out and "caught up: 27 events read by 3 projectors" in out
    expected = asyncio.run(replayed(store))
    assert (
        counters(path)
        == expected
        == {
            "tally-a": ("apples", 4, 16),
            "tally-b": ("pears", 3, 12),
            "tally-c": ("kiwis", 2, 3),
        }
    )
    assert len(sqlite_rows(path, "SELECT * FROM tally_audit")) == 9
    assert sqlite_rows(path, "SELECT * FROM event_type_counts") == [("e2e.tally.bumped", 6), ("e2e.tally.started", 3)]
    assert sqlite_rows(path, "SELECT * FROM picky_sums") == [("tally-a", 3), ("tally-b", 12), ("tally-c", 3)]
    status = by_name(ok("projections", "status", *base, "--json"))
    assert {name: (s["checkpoint"], s["lag_events"], s["state"]) for name, s in status.items()} == {
        "counters": (9, 0, "caught up"),
        "event_types": (9, 0, "caught up"),
        "picky": (9, 0, "caught up"),
    }
    assert status["picky"]["dead_letters"] == 1 and status["counters"]["lag_seconds"] == 0

    # new events: behind by 4; a second run applies only those
    write_more(store)
    status = by_name(ok("projections", "status", *base, "--json"))
    assert (status["counters"]["lag_events"], status["counters"]["state"]) == (4, "behind")
    out = ok("projections", "run", *base, "counters", "--until-caught-up")
    assert "counters: checkpoint 13 (caught up)" in out and "4 events read by 1 projector " in out
    live = counters(path)
    assert live == asyncio.run(replayed(store)) and len(sqlite_rows(path, "SELECT * FROM tally_audit")) == 13

    # rebuild equals run; rebuild as of T equals a replay as of T, in separate tables
    t = "2024-05-01T10:11:30Z"
    rebuilt, as_of, named = run_all(
        [
            ("projections", "rebuild", *base, "counters"),
            ("projections", "rebuild", *base, "counters", "event_types", "--until", t, "--json"),
            ("projections", "rebuild", *base, "counters", "--until", "2024-05-01T12:31:00+02:00", "--suffix", "_t1"),
        ]
    )
    assert succeeded(rebuilt) == "counters: rebuilt from 13 events, checkpoint 13\n"
    assert counters(path) == live
    results = by_name(succeeded(as_of))
    assert results["counters"] == {
        "name": "counters",
        "as_of": "2024-05-01T10:11:30.000000+00:00",
        "events": 13,
        "tables": {
            "tally_counts": "tally_counts_asof_20240501_101130",
            "tally_audit": "tally_audit_asof_20240501_101130",
        },
    }
    assert counters(path, "tally_counts_asof_20240501_101130") == asyncio.run(replayed(store, at(11.5)))
    assert counters(path, "tally_counts_asof_20240501_101130") == {
        "tally-a": ("apples", 4, 16),
        "tally-b": ("pears", 2, 5),
    }
    assert sqlite_rows(path, "SELECT * FROM event_type_counts_asof_20240501_101130") == [
        ("e2e.tally.bumped", 4),
        ("e2e.tally.started", 2),
    ]
    assert "tally_counts -> tally_counts_t1" in succeeded(named)
    assert counters(path, "tally_counts_t1") == asyncio.run(replayed(store, at(31)))
    assert counters(path) == live  # the live view is untouched by as-of rebuilds


def test_as_of_builds_are_listed_and_dropped_never_live_tables(tmp_path: Path) -> None:
    path, views = tmp_path / "events.db", tmp_path / "views.db"
    store = url_of(path)
    write_tallies(store)
    base = ("--store", store, "--app", "projections_app", "--views", url_of(views))
    ok("projections", "run", *base, "--until-caught-up")
    assert ok("projections", "as-of", "list", *base) == "no as-of builds\n"
    ok("projections", "rebuild", *base, "counters", "event_types", "--until", "2024-05-01T10:11:30Z")
    ok("projections", "rebuild", *base, "counters", "--until", "2024-05-01T12:31:00+02:00", "--suffix", "_t1")
    live = counters(views)

    listed = json_lines(ok("projections", "as-of", "list", *base, "--json"))
    assert [(b["projector"], b["suffix"], b["as_of"]) for b in listed] == [
        ("counters", "_asof_20240501_101130", "2024-05-01T10:11:30.000000+00:00"),
        ("counters", "_t1", None),
        ("event_types", "_asof_20240501_101130", "2024-05-01T10:11:30.000000+00:00"),
    ]
    assert listed[1]["tables"] == {"tally_counts": "tally_counts_t1", "tally_audit": "tally_audit_t1"}
    assert listed[1]["name"] == "counters_t1" and listed[1]["missing"] == [] and listed[1]["checkpoint"] == 9
    table, only = run_all(
        [("projections", "as-of", "list", *base), ("projections", "as-of", "list", *base, "event_types", "--json")]
    )
    assert "3 as-of builds" in succeeded(table) and "2024-05-01 10:11:30" in table.stdout
    assert [b["name"] for b in json_lines(succeeded(only))] == ["event_types_asof_20240501_101130"]

    drop = ("projections", "as-of", "drop", *base)
    refused = run_all(
        [
            (*drop, "counters", "--suffix", ""),
            (*drop, "counters", "--suffix", "_nope"),
            (*drop, "counters"),
            (*drop, "--suffix", "_t1", "--until", "2024-05-01T10:11:30Z"),
            (*drop, "counters", "--suffix", "x;y"),
            (*drop, "--until", "2024-05-01T10:11"),
        ]
    )
    expected = [
        (2, "error: 'counters' without a suffix is the live view: name an as-of build's suffix"),
        (3, "error: 'counters' has no as-of build with suffix '_nope'"),
        (2, "error: name the as-of build to drop: pass --suffix SUFFIX or --until T (one of them)"),
        (2, "error: name the as-of build to drop"),
        (2, "error: suffix 'x;y': use letters, digits and underscores"),
        (2, "error: --until: '2024-05-01T10:11' has no timezone"),
    ]
    for done, (code, message) in zip(refused, expected, strict=True):
        assert failed(done, code).startswith(message), done.args

    assert ok(*drop, "counters", "--suffix", "_t1") == (
        "dropped counters as-of build _t1: tally_counts_t1, tally_audit_t1\n"
    )
    assert ok(*drop, "--until", "2024-05-01T10:11:30Z") == (
        "dropped counters as-of build _asof_20240501_101130: tally_counts_asof_20240501_101130, "
        "tally_audit_asof_20240501_101130\n"
        "dropped event_types as-of build _asof_20240501_101130: event_type_counts_asof_20240501_101130\n"
    )
    assert "no as-of build with suffix '_t1'" in failed(run(*drop, "--suffix", "_t1"), 3)
    assert ok("projections", "as-of", "list", *base) == "no as-of builds\n"
    names = {row[0] for row in sqlite_rows(views, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {name for name in names if "_asof_" in name or name.endswith("_t1")}
    assert {"tally_counts", "tally_audit", "event_type_counts", "picky_sums"} <= names
    assert counters(views) == live  # the live views are untouched
    status = by_name(ok("projections", "status", *base, "--json"))
    assert {name: s["state"] for name, s in status.items()} == dict.fromkeys(status, "caught up")


def test_run_follows_live_into_separate_views_until_ctrl_c(tmp_path: Path) -> None:
    store, views = url_of(tmp_path / "events.db"), tmp_path / "views.db"
    write_tallies(store)
    args = ("projections", "run", "--store", store, "--app", "projections_app", "--views", url_of(views), "counters")
    follower = subprocess.Popen(
        [sys.executable, "-m", "eventsourcing.cli", *args],
        cwd=HERE, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: views.exists() and counters(views).get("tally-c") == ("kiwis", 2, 3))
        write_more(store)
        expected = asyncio.run(replayed(store))
        wait_for(lambda: counters(views) == expected)
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=TIMEOUT)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert "following the log (Ctrl-C to stop)" in err and "error" not in err
    assert "counters: checkpoint 13 (caught up)\nstopped: 13 events read" in out
    assert len(sqlite_rows(views, "SELECT * FROM tally_audit")) == 13
    events_db = tmp_path / "events.db"
    assert sqlite_rows(events_db, "SELECT name FROM sqlite_master WHERE name LIKE 'tally%'") == []


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except sqlite3.OperationalError:
            pass  # the table is not there yet
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_failures_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    store = url_of(tmp_path / "events.db")
    write_tallies(store)
    base = ("--store", store, "--app", "projections_app")
    poison = tmp_path / "poison_app.py"
    poison.write_text(
        "from eventsourcing.projections import Projector, on\n"
        "from projections_app import Tally\n\n\n"
        "class Strict(Projector):\n"
        "    name = 'strict'\n\n"
        "    @on(Tally.Bumped)\n"
        "    def bumped(self, event, view):\n"
        "        if event.event.by == 13:\n"
        "            raise ValueError('13 is unlucky')\n"
    )
    cases: list[tuple[int, tuple[str, ...], str]] = [
        (3, ("projections", "status", *base, "counters", "nope"), "no projector named 'nope' (known: counters, "),
        (3, ("projections", "run", "--store", store, "--app", "cli_app"), "no projector found in --app cli_app"),
        (2, ("projections", "status", "--store", store, "--app", "no_such_app"), "no module named 'no_such_app'"),
        (2, ("projections", "status", "--store", store), "Missing option '--app'"),
        (
            4,
            ("projections", "status", "--store", url_of(tmp_path / "absent.db"), "--app", "projections_app"),
            "no SQLite",
        ),
        (
            4,
            ("projections", "status", *base, "--views", url_of(tmp_path / "views.db")),
            f"no SQLite database at {tmp_path / 'views.db'}",
        ),
        (
            4,
            ("projections", "run", "--store", "postgresql://postgres@127.0.0.1:1/db", "--app", "projections_app"),
            "cannot open the PostgreSQL store",
        ),
        (
            2,
            ("projections", "rebuild", *base, "--until", "2024-05-01T10:11"),
            "--until: '2024-05-01T10:11' has no timezone",
        ),
        (2, ("projections", "rebuild", *base, "--suffix", "_x"), "pass --until T too"),
        (2, ("projections", "rebuild", *base, "--until", "2 days ago", "--suffix", "x;y"), "--suffix 'x;y': use"),
        (2, ("projections", "run", *base, "--views", "memory://"), "the views live in a SQL database"),
        (
            1,
            ("projections", "run", "--store", store, "--app", str(poison), "--until-caught-up"),
            "projection 'strict' stopped at a poison event: 'e2e.tally.bumped' at stream 'tally-a' version 4",
        ),
        (
            1,
            ("projections", "run", "--store", store, "--app", str(poison)),
            "ValueError: 13 is unlucky",
        ),
    ]
    for (code, args, message), done in zip(cases, run_all([args for _, args, _ in cases]), strict=True):
        line = failed(done, code)
        assert message in line, (args, line)
    # the poisoned projector stopped just before the event
    status = by_name(ok("projections", "status", "--store", store, "--app", str(poison), "--json"))
    assert (status["strict"]["checkpoint"], status["strict"]["lag_events"]) == (3, 6)
    # and another process sees why it stopped
    assert status["strict"]["state"] == "stopped"
    assert "13 is unlucky" in status["strict"]["error"]


def test_projections_are_loaded_only_for_projection_commands(tmp_path: Path) -> None:
    store = url_of(tmp_path / "events.db")
    write_tallies(store)
    code = (
        "import sys\nfrom eventsourcing.cli import main\n"
        f"try:\n    main(['events', '--store', {store!r}, '--json'])\n"
        "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "print('eventsourcing.projections' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE, env=env(), timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0 and done.stderr == "False\n", done.stderr


# -- PostgreSQL ----------------------------------------------------------------------------------------------


async def test_status_run_and_rebuild_on_postgresql(postgres_url: str) -> None:
    await _save(postgres_url, *make_tallies())

    async def cli(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eventsourcing.cli", "projections", *args,
            "--store", postgres_url, "--app", "projections_app",
            cwd=HERE, env=env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0 and not err, err.decode()
        return out.decode()

    async def rows(table: str) -> Rows:
        conn = await asyncpg.connect(postgres_url)
        try:
            found = await conn.fetch(f"SELECT tally_id, label, events, total FROM {table}")
        finally:
            await conn.close()
        return {r["tally_id"]: (r["label"], r["events"], r["total"]) for r in found}

    assert by_name(await cli("status", "counters", "--json"))["counters"]["lag_events"] == 9
    out = await cli("run", "counters", "--until-caught-up")
    assert "caught up: 9 events read by 1 projector" in out
    assert await rows("tally_counts") == await replayed(postgres_url)
    status = by_name(await cli("status", "counters", "--json"))["counters"]
    assert (status["lag_events"], status["state"]) == (0, "caught up")
    assert isinstance(status["checkpoint"], list)  # PostgreSQL's (xid, position) token
    live = await rows("tally_counts")
    assert "counters: rebuilt from 9 events" in await cli("rebuild", "counters")
    assert await rows("tally_counts") == live
    result = json.loads(await cli("rebuild", "counters", "--until", "2024-05-01T10:11:30Z", "--json"))
    assert result["tables"]["tally_counts"] == "tally_counts_asof_20240501_101130"
    assert await rows("tally_counts_asof_20240501_101130") == await replayed(postgres_url, at(11.5))
    (listed,) = json_lines(await cli("as-of", "list", "counters", "--json"))
    assert (listed["suffix"], listed["as_of"]) == ("_asof_20240501_101130", "2024-05-01T10:11:30.000000+00:00")
    assert await cli("as-of", "drop", "--until", "2024-05-01T12:11:30+02:00") == (
        "dropped counters as-of build _asof_20240501_101130: tally_counts_asof_20240501_101130, "
        "tally_audit_asof_20240501_101130\n"
    )
    assert await cli("as-of", "list") == "no as-of builds\n"
    assert await rows("tally_counts") == live
