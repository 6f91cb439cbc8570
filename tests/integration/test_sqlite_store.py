"""SQLite-specific behaviour: durability settings, bad stored data, unreachable files, error translation."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import uuid4

import pytest

from eventsourcing import (
    ConfigurationError,
    CorruptEvent,
    EventSourcingError,
    Repository,
    SQLEventStore,
    StoreUnavailable,
    UnknownEventType,
    open_store,
)
from tests.model import Cart


def url(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_pragmas_and_schema(tmp_path: Path) -> None:
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        await Repository(Cart, store).save(Cart.open("alice"))
    db = sqlite3.connect(tmp_path / "e.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[1] for row in db.execute("PRAGMA index_list(events)")}
    assert "ix_events_stream_type_position" in indexes
    unique = [row for row in db.execute("PRAGMA index_list(events)") if row[2] == 1]
    columns = {tuple(c[2] for c in db.execute(f"PRAGMA index_info('{row[1]}')")) for row in unique}
    assert ("stream_id", "version") in columns and ("event_id",) in columns


async def test_reopening_keeps_events_and_schema_creation_is_idempotent(tmp_path: Path) -> None:
    cart = Cart.open("alice")
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        await Repository(Cart, store).save(cart)
    async with SQLEventStore(url(tmp_path / "e.db")) as store, SQLEventStore(url(tmp_path / "e.db")) as other:
        assert (await Repository(Cart, store).get(cart.id)).customer_id == "alice"
        assert await other.stream_version(cart.id) == 1


async def test_database_constraints_back_up_the_checks(tmp_path: Path) -> None:
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        await Repository(Cart, store).save(Cart.open("alice", "cart-1"))
    db = sqlite3.connect(tmp_path / "e.db")
    columns = "stream_id, stream_type, version, event_type, schema_version, timestamp, payload"
    row = db.execute(f"SELECT {columns} FROM events")
    stream_id, stream_type, version, event_type, schema_version, ts, payload = row.fetchone()
    insert = (
        "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, timestamp, payload)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    with pytest.raises(sqlite3.IntegrityError):  # the same version twice
        db.execute(insert, (stream_id, stream_type, version, uuid4().bytes, event_type, schema_version, ts, payload))


async def test_corrupt_payload_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    cart = Cart.open("alice", "cart-1")
    cart.add_item("sku-1", 1)
    cart.add_item("sku-2", 1)
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        await Repository(Cart, store).save(cart)
        other = Cart.open("bob", "cart-2")
        await Repository(Cart, store).save(other)
    db = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
    original = db.execute("SELECT payload FROM events WHERE stream_id = 'cart-1' AND version = 2").fetchone()[0]
    db.execute("UPDATE events SET payload = ? WHERE stream_id = 'cart-1' AND version = 2", (b"\x00garbage",))
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        carts = Repository(Cart, store)
        with pytest.raises(CorruptEvent, match=r"tests.cart.item_added.*'cart-1' version 2"):
            await carts.get("cart-1")
        assert (await carts.get("cart-1", version=1)).customer_id == "alice"  # before the bad event: fine
        assert (await carts.get("cart-2")).customer_id == "bob"  # other streams unaffected
        with pytest.raises(CorruptEvent):
            await carts.update("cart-1", lambda c: c.add_item("sku-3", 1))
        assert await store.stream_version("cart-1") == 3  # nothing was appended or changed
    db.execute("UPDATE events SET payload = ? WHERE stream_id = 'cart-1' AND version = 2", (original,))
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        assert (await Repository(Cart, store).get("cart-1")).lines == {"sku-1": 1, "sku-2": 1}


async def test_unknown_stored_type_and_corrupt_metadata(tmp_path: Path) -> None:
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        await Repository(Cart, store).save(Cart.open("alice", "cart-1"))
    db = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
    db.execute("UPDATE events SET event_type = 'builtins.eval'")
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        with pytest.raises(UnknownEventType, match=r"builtins\.eval"):
            await store.read("cart-1")
    db.execute("UPDATE events SET event_type = 'tests.cart.opened', metadata = x'7b7b'")
    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        with pytest.raises(CorruptEvent, match="metadata"):
            await store.read("cart-1")


async def test_unreachable_file_is_store_unavailable_with_cause(tmp_path: Path) -> None:
    store = SQLEventStore(url(tmp_path / "no" / "such" / "dir" / "e.db"))
    with pytest.raises(StoreUnavailable, match="unable to open") as raised:
        await store.open()
    assert raised.value.__cause__ is not None
    assert isinstance(raised.value, EventSourcingError)


async def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    path.write_bytes(b"this is not a sqlite file" * 100)
    with pytest.raises(EventSourcingError, match="not a database") as raised:
        await SQLEventStore(url(path)).open()
    assert raised.value.__cause__ is not None


async def test_operations_on_a_closed_store_fail_clearly(tmp_path: Path) -> None:
    store = SQLEventStore(url(tmp_path / "e.db"))
    with pytest.raises(EventSourcingError, match="not open"):
        await store.read("x")


def test_in_memory_sqlite_and_unknown_urls_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="memory://"):
        SQLEventStore("sqlite:///:memory:")
    with pytest.raises(ConfigurationError, match="mysql"):
        SQLEventStore("mysql://localhost/db")
    with pytest.raises(ConfigurationError, match="cannot open a store"):
        open_store("ftp://example")


async def test_aiosqlite_still_exposes_the_stdlib_connection(tmp_path: Path) -> None:
    """The SQLite backend reaches the sqlite3 connection beneath aiosqlite; fail loudly if that changes."""
    import aiosqlite

    async with aiosqlite.connect(tmp_path / "x.db") as conn:
        assert isinstance(conn._conn, sqlite3.Connection)


async def test_a_batch_larger_than_one_statement_is_still_atomic(tmp_path: Path) -> None:
    from eventsourcing import DuplicateEventId
    from eventsourcing.testing.contract import STREAM_TYPE, batch

    async with SQLEventStore(url(tmp_path / "e.db")) as store:
        big = batch(1, 9_000)  # three INSERT statements in one transaction
        result = await store.append("big", big, 0, stream_type=STREAM_TYPE)
        assert result.version == 9_000
        assert [e.version for e in await store.read("big")] == list(range(1, 9_001))
        poisoned = [*batch(1, 8_500), big[0]]  # the last chunk reuses a stored id
        with pytest.raises(DuplicateEventId):
            await store.append("other", poisoned, 0, stream_type=STREAM_TYPE)
        assert await store.stream_version("other") == 0  # the first chunks were rolled back too


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import asyncio, sys\n"
        "from eventsourcing import SQLEventStore\n"
        "from eventsourcing.snapshots import SQLSnapshotStore\n"
        "async def main(url):\n"
        "    async with SQLEventStore(url) as events, SQLSnapshotStore(url):\n"
        "        await events.stream_version('x')\n"
        "asyncio.run(main(sys.argv[1]))\n"
    )
    for attempt in range(3):
        target = url(tmp_path / f"race-{attempt}.db")
        workers = [subprocess.Popen([sys.executable, "-c", script, target], stderr=subprocess.PIPE) for _ in range(4)]
        for worker in workers:
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err.decode()
