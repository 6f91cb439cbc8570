"""`@event` aggregates on real stores: `created_on` survives every loading path (plain, version,
as_of, the repository's cache, a snapshot) on every backend; derived events upcast and the CLI
reads them (issue 15 item 11)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from freezegun import freeze_time

from eventsourcing import Aggregate, Repository, event, events_registry, open_store, upcaster
from eventsourcing.snapshots import EveryNEvents, MemorySnapshotStore, SQLSnapshotStore

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Loan(Aggregate):
    type_name = "stored.loan"

    borrower: str = ""
    renewals: int = 0

    @event("Opened")
    def open(self, borrower: str) -> None:
        self.borrower = borrower

    @event("Renewed")
    def renew(self) -> None:
        self.renewals += 1


@pytest.fixture(params=["memory", "sqlite", "postgresql", "kafka"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}?prefix=t{uuid4().hex[:12]}&partitions=2"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def stores(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """An event store and a snapshot store (for Kafka: snapshots in a SQLite file)."""
    if database_url == "memory://":
        async with open_store(database_url) as events:
            yield events, MemorySnapshotStore()
        return
    snapshots_url = f"sqlite:///{tmp_path / 'snapshots.db'}" if database_url.startswith("kafka:") else database_url
    async with open_store(database_url) as events, SQLSnapshotStore(snapshots_url) as snapshots:
        yield events, snapshots


async def test_created_on_survives_every_loading_path(stores: tuple[Any, Any]) -> None:
    events, snapshots = stores
    loans = Repository(Loan, events, snapshots=snapshots, snapshot_policy=EveryNEvents(3))
    loan = Loan("loan-1")
    for n in range(5):
        with freeze_time(T0 + dt.timedelta(hours=n)):
            loan.open("ann") if n == 0 else loan.renew()
    await loans.save(loan)  # 5 events: a snapshot at version 5
    assert [s.version for s in await snapshots.list(stream_id="loan-1")] == [5]
    last = T0 + dt.timedelta(hours=4)

    plain = Repository(Loan, events)
    for repo in (plain, loans):  # loans: from the snapshot
        latest = await repo.get("loan-1")
        assert (latest.created_on, latest.modified_on, latest.renewals) == (T0, last, 4)
    at_two = await plain.get("loan-1", version=2)
    assert (at_two.created_on, at_two.modified_on) == (T0, T0 + dt.timedelta(hours=1))
    as_of = await plain.get("loan-1", as_of=T0 + dt.timedelta(minutes=150))
    assert (as_of.version, as_of.created_on) == (3, T0)

    cached = Repository(Loan, events, cache_size=10)
    await cached.get("loan-1")
    await plain.update("loan-1", lambda loan: loan.renew())  # read through the cache: only the new event
    again = await cached.get("loan-1")
    assert (again.version, again.created_on) == (6, T0)


async def test_a_new_aggregate_has_created_on_before_it_is_saved() -> None:
    with freeze_time(T0):
        loan = Loan()
        loan.open("bob")
    assert loan.created_on == loan.modified_on == T0


async def test_derived_events_upcast_like_declared_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"

    class Fine(Aggregate):
        type_name = "stored.fine"
        amount: int = 0

        @event("Charged", event_type="fine.charged")
        def charge(self, amount: int) -> None:
            self.amount += amount

    async with open_store(url) as store:
        fine = Fine("fine-1")
        fine.charge(3)
        await Repository(Fine, store).save(fine)

    class Fine(Aggregate):  # type: ignore[no-redef]  # the next release: amounts in cents, schema version 2
        type_name = "stored.fine"
        cents: int = 0

        @event("Charged", event_type="fine.charged", schema_version=2)
        def charge(self, cents: int) -> None:
            self.cents += cents

    @upcaster(Fine.charge.event_class, from_version=1)
    def _to_cents(data: dict[str, Any]) -> dict[str, Any]:
        return {"cents": data["amount"] * 100}

    assert events_registry.resolve("fine.charged") is Fine.charge.event_class
    async with open_store(url) as store:
        (recorded,) = await store.read("fine-1")
        assert (recorded.schema_version, recorded.event) == (1, Fine.charge.event_class(cents=300))
        assert (await Repository(Fine, store).get("fine-1")).cents == 300


APP = """
from eventsourcing import Aggregate, event


class Book(Aggregate):
    type_name = "cli.book"
    borrower: str = ""

    @event("Lent", event_type="cli.book.lent")
    def lend(self, to: str, days: int = 14) -> None:
        self.borrower = to
"""


def cli(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSOURCING_")}
    done = subprocess.run(
        [sys.executable, "-m", "eventsourcing.cli", *args],
        cwd=tmp_path,
        env={**env, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_cli_reads_derived_events(tmp_path: Path) -> None:
    (tmp_path / "library_app.py").write_text(APP)
    sys.path.insert(0, str(tmp_path))
    try:
        import library_app  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    url = f"sqlite:///{tmp_path / 'events.db'}"
    async with open_store(url) as store:
        book = library_app.Book("book-1")
        book.lend("ann", days=7)
        await Repository(library_app.Book, store).save(book)

    replayed = json.loads(
        cli(tmp_path, "replay", "--store", url, "--app", "library_app", "cli.book", "book-1", "--json")
    )
    assert replayed["state"] == {"borrower": "ann"}
    assert [(e["type"], e["decoded"]) for e in replayed["events"]] == [("cli.book.lent", True)]
    listed = cli(tmp_path, "events", "--store", url, "--app", "library_app", "--json")
    (line,) = listed.splitlines()
    assert json.loads(line)["type"] == "cli.book.lent"
    assert json.loads(line)["payload"] == {"to": "ann", "days": 7}
