"""Issue 14, item 9: a password planted in a store URL is never shown.

Every CLI command is run (in a subprocess, as a user runs it) with a password in each kind of URL:
PostgreSQL (the test cluster trusts every password, so the commands succeed and their success
output is checked), a PostgreSQL URL with a driver suffix, mistyped and unsupported schemes, a
SQLite URL with a secret query parameter, a Kafka URL with user info or a secret parameter, an
unreachable PostgreSQL server. Output and errors are grepped for the password. The reference app's
``serve`` start line and ``demo`` story, the stores' ``repr`` and the library's own errors too.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from eventsourcing import EventSourcingError, Repository, SQLEventStore, open_store
from eventsourcing.projections.sql import SQLCheckpointStore
from eventsourcing.snapshots import SQLSnapshotStore
from eventsourcing.urls import redact
from tests.app.conftest import free_port
from tests.e2e.cli_app import Cart
from tests.postgres_server import PostgresServer

SECRET = "Pl4nted-s3cret"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "PYTHONPATH": str(ROOT)}
    env.pop("EVENTSOURCING_STORE", None)
    env.pop("EVENTSOURCING_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "eventsourcing.cli", *args],
        capture_output=True,
        text=True,
        cwd=HERE,
        env=env,
        timeout=120,
        check=False,
    )


def commands(store: str, views: str) -> list[list[str]]:
    """Every command of the CLI, each naming ``store`` (and ``views`` where it takes a view database)."""
    app = ["--app", "cli_app"]
    projections = ["--app", "projections_app", "--views", views]
    return [
        ["init", "--store", store, "--snapshots", store],
        ["events", "--store", store],
        ["events", "--store", store, "--json"],
        ["events", "--store", store, "--stream", "cart-1"],
        ["replay", "--store", store, *app, "e2e.Cart", "cart-1"],
        ["replay", "--store", store, *app, "e2e.Cart", "cart-1", "--json"],
        ["replay", "--store", store, *app, "e2e.Cart", "cart-1", "--snapshots", store],
        ["snapshots", "take", "--store", store, *app, "e2e.Cart", "cart-1"],
        ["snapshots", "list", "--store", store],
        ["snapshots", "list", "--store", store, "--json"],
        ["snapshots", "prune", "--store", store, *app, "--stale"],
        ["projections", "run", "--store", store, *projections, "--until-caught-up"],
        ["projections", "status", "--store", store, *projections],
        ["projections", "status", "--store", store, *projections, "--json"],
        ["projections", "rebuild", "--store", store, *projections],
        ["schemas", "list", "--store", store],
        ["schemas", "check", "--store", store, *app],
    ]


def assert_hidden(result: subprocess.CompletedProcess[str]) -> None:
    shown = result.stdout + result.stderr
    assert SECRET not in shown, f"{result.args}: exit {result.returncode}\n{shown}"
    assert "Traceback" not in shown, shown


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


@pytest.fixture
def pg_store(postgres_url: str) -> str:
    """A PostgreSQL store with a cart in it, named by a URL that carries a password."""

    async def write() -> None:
        async with open_store(postgres_url) as store:
            cart = Cart.open("alice", "cart-1")
            cart.add_item("mug", 1, Decimal("9.00"))
            await Repository(Cart, store).save(cart)

    asyncio.run(write())
    url = with_password(postgres_url)
    assert SECRET in url
    return url


def test_no_command_shows_a_password_of_a_working_store(pg_store: str) -> None:
    results = run_all(commands(pg_store, pg_store))
    for result in results:
        assert_hidden(result)
    init, events = results[0], results[1]
    assert init.returncode == 0 and "postgresql://postgres:***@" in init.stdout, init.stdout + init.stderr
    assert events.returncode == 0 and "cart-1" in events.stdout, events.stderr


BAD_URLS = [
    f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:5432/db",
    f"postgresq://postgres:{SECRET}@127.0.0.1:5432/db",
    f"kafka://user:{SECRET}@127.0.0.1:9",
    f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:5432/db",
    f"mysql://root:{SECRET}@127.0.0.1/db",
    f"postgres:/postgres:{SECRET}@127.0.0.1/db",
    f"sqlite:///nowhere/events.db?password={SECRET}",
    f"kafka://127.0.0.1:9?password={SECRET}",
    f"kafka://127.0.0.1:9?prefix=x&sasl_password={SECRET}",
]


def run_all(runs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda args: cli(*args), runs))


def test_no_command_shows_the_password_of_a_bad_url(tmp_path: Path) -> None:
    views = f"sqlite:///{tmp_path / 'views.db'}"
    events = f"sqlite:///{tmp_path / 'events.db'}"
    runs: list[list[str]] = []
    for i, url in enumerate(BAD_URLS):
        as_store = commands(url, views)
        # Every command with the first three; the ones that open a store differently with the others.
        runs += as_store if i < 3 else [as_store[0], as_store[1], as_store[4], as_store[8], as_store[12]]
        runs += [args for args in commands(events, url) if "--views" in args or "--snapshots" in args][:4]
    for result in run_all(runs):
        assert_hidden(result)
        if any(arg.startswith(("postgresq:", "mysql:", "kafka://user")) for arg in result.args):
            assert result.returncode != 0, result.args


def test_an_unreachable_postgresql_server_is_reported_without_the_password() -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/db"
    for args in (["events", "--store", url], ["init", "--store", url]):
        result = cli(*args)
        assert result.returncode == 4, result.stderr
        assert_hidden(result)


def test_reprs_and_errors_of_the_library_hide_the_password() -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/db"
    for obj in (SQLEventStore(url), SQLSnapshotStore(url), SQLCheckpointStore(url)):
        assert SECRET not in repr(obj) and "postgres:***@127.0.0.1" in repr(obj)
    for bad in (
        f"postgresq://u:{SECRET}@h/db",
        f"postgresql+psycopg://u:{SECRET}@h/db",
        f"kafka://u:{SECRET}@127.0.0.1:9",
        f"kafka://127.0.0.1:9?nope={SECRET}&password={SECRET}",
    ):
        with pytest.raises(EventSourcingError) as caught:
            open_store(bad)
        assert SECRET not in str(caught.value) and SECRET not in repr(caught.value), caught.value
    for cls in (SQLEventStore, SQLSnapshotStore, SQLCheckpointStore):
        with pytest.raises(EventSourcingError) as caught:
            cls(f"mysql://u:{SECRET}@h/db")  # type: ignore[operator]
        assert SECRET not in str(caught.value)


def test_redact_hides_user_info_and_secret_parameters() -> None:
    assert redact(f"postgresql://u:{SECRET}@h:5/db?sslmode=require") == "postgresql://u:***@h:5/db?sslmode=require"
    assert SECRET not in redact(f"kafka://h:9?sasl_password={SECRET}")
    assert SECRET not in redact(f"weird://u:{SECRET}@h")


def test_the_reference_app_hides_the_password(postgres_server: PostgresServer, postgres_url: str) -> None:
    url = with_password(postgres_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    demo = subprocess.run(
        [sys.executable, "-m", "eventsourcing.sample_shopping_cart", "demo", "--store", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert_hidden(demo)
    assert "postgres:***@" in demo.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "eventsourcing.sample_shopping_cart", "demo", "--store", f"postgresq://u:{SECRET}@h/db"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode != 0
    assert_hidden(bad)


def test_serve_start_line_hides_the_password(postgres_url: str, tmp_path: Path) -> None:
    from tests.app.conftest import start_server, stop_server

    server = start_server(with_password(postgres_url), tmp_path / "server.log")
    stop_server(server)
    log = server.log.read_text()
    assert "shop: events in postgresql://postgres:***@" in log, log
    assert SECRET not in log
