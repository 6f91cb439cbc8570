"""Holes are detected (issue 14.2): a version deleted behind the library's back makes every read
path raise `CorruptStream` naming the stream and the missing version, on every store.

The hole is made directly in the storage: a row deleted from the SQLite file and the PostgreSQL
table, an entry removed from the memory store's internals, a row deleted from the Kafka store's
index. Then every read path is tried: ``read`` (whole, ranges, ``to_version`` ending on the hole,
``as_of`` before and after it), `Repository.get` (latest, ``version=``, ``as_of=``, from a snapshot
+ tail), the CLI's replay (library and command), and reads that do not reach the hole still work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from freezegun import freeze_time

from eventsourcing import CorruptStream, EventStore, MemoryEventStore, Repository, SQLEventStore
from eventsourcing.cli.replaying import replay
from eventsourcing.snapshots import MemorySnapshotStore
from eventsourcing.snapshotting import StateCodec
from eventsourcing.stores.kafka import KafkaEventStore
from tests.conftest import TEST_DATABASE
from tests.e2e.cli_app import Cart

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
HOLE = 5


def at(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


Delete = Callable[[str, int], Awaitable[None]]


@dataclass
class Damaged:
    store: EventStore
    delete: Delete


async def _memory() -> AsyncIterator[Damaged]:
    async with MemoryEventStore() as store:

        async def delete(stream_id: str, version: int) -> None:
            rows = store._streams[stream_id]
            (row,) = [r for r in rows if r.version == version]
            rows.remove(row)
            store._log.remove(row)
            del store._by_id[row.event_id]

        yield Damaged(store, delete)


@pytest.fixture(params=["memory", "sqlite", "postgres", "kafka"])
def backend(request: pytest.FixtureRequest) -> tuple[str, Any]:
    """The backend's name and its server (started outside any event loop)."""
    kind: str = request.param
    if kind == "postgres":
        return kind, request.getfixturevalue("postgres_server")
    if kind == "kafka":
        return kind, request.getfixturevalue("kafka_broker")
    return kind, None


@pytest.fixture
async def damaged(backend: tuple[str, Any], tmp_path: Path) -> AsyncIterator[Damaged]:
    kind, server = backend
    if kind == "memory":
        async for d in _memory():
            yield d
    elif kind == "sqlite":
        path = tmp_path / "events.db"
        async with SQLEventStore(f"sqlite:///{path}") as store:

            async def delete_sqlite(stream_id: str, version: int) -> None:
                with sqlite3.connect(path) as db:
                    db.execute("DELETE FROM events WHERE stream_id = ? AND version = ?", (stream_id, version))

            yield Damaged(store, delete_sqlite)
    elif kind == "postgres":
        url = server.url(TEST_DATABASE)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET lock_timeout = '10s'; DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
        async with SQLEventStore(url) as store:

            async def delete_postgres(stream_id: str, version: int) -> None:
                conn = await asyncpg.connect(url)
                try:
                    await conn.execute("DELETE FROM events WHERE stream_id = $1 AND version = $2", stream_id, version)
                finally:
                    await conn.close()

            yield Damaged(store, delete_postgres)
    else:
        async with KafkaEventStore(server.bootstrap_servers, prefix=f"t{uuid4().hex[:12]}", partitions=2) as kafka:

            async def delete_index_row(stream_id: str, version: int) -> None:
                kafka._index.db.execute("DELETE FROM events WHERE stream_id = ? AND version = ?", (stream_id, version))

            yield Damaged(kafka, delete_index_row)


async def write_cart(store: EventStore, events: int = 10) -> Cart:
    carts = Repository(Cart, store)
    with freeze_time(at(1)) as clock:
        cart = Cart.open("cust-1")
        for n in range(2, events + 1):
            clock.move_to(at(n))
            cart.add_item(f"sku-{n}", 1, Decimal("1.00"))
        await carts.save(cart)
    return cart


async def corrupt(load: Awaitable[Any], stream_id: str, missing: list[int] | None = None) -> None:
    with pytest.raises(CorruptStream) as raised:
        await load
    assert raised.value.stream_id == stream_id
    assert raised.value.missing == (missing or [HOLE])
    assert repr(stream_id) in str(raised.value) and str(HOLE) in str(raised.value)


async def test_every_read_path_detects_a_hole(damaged: Damaged) -> None:
    store = damaged.store
    cart = await write_cart(store)
    snapshots = MemorySnapshotStore()
    await Repository(Cart, store, snapshots=snapshots).take_snapshot(cart.id)  # at version 10
    await damaged.delete(cart.id, HOLE)
    sid = cart.id

    await corrupt(store.read(sid), sid)
    await corrupt(store.read(sid, from_version=4, to_version=6), sid)
    await corrupt(store.read(sid, to_version=HOLE), sid)  # the range ends on the hole
    await corrupt(store.read(sid, from_version=HOLE, to_version=HOLE), sid)
    await corrupt(store.read(sid, from_version=HOLE), sid)
    await corrupt(store.read(sid, as_of=at(HOLE)), sid)  # cut by time exactly at the hole
    await corrupt(store.read(sid, as_of=at(7)), sid)
    await corrupt(store.read(sid, as_of=at(7), to_version=8), sid)
    # Reads that do not reach the hole are whole.
    assert [e.version for e in await store.read(sid, to_version=4)] == [1, 2, 3, 4]
    assert [e.version for e in await store.read(sid, from_version=6)] == [6, 7, 8, 9, 10]
    assert [e.version for e in await store.read(sid, as_of=at(3))] == [1, 2, 3]  # (at 4, version 5 might be in range)

    carts = Repository(Cart, store)
    await corrupt(carts.get(sid), sid)
    await corrupt(carts.get(sid, version=HOLE), sid)
    await corrupt(carts.get(sid, version=8), sid)
    await corrupt(carts.get(sid, as_of=at(8)), sid)
    await corrupt(carts.get(sid, as_of=at(HOLE)), sid)
    await corrupt(carts.update(sid, lambda c: c.add_item("x", 1, Decimal("1"))), sid)
    assert (await carts.get(sid, version=4)).version == 4

    # From a snapshot before the hole (at 3) the tail has the hole; from the one at 10 no event is read.
    early = MemorySnapshotStore()
    await early.save(StateCodec.of(Cart).take(await carts.get(sid, version=3)))
    from_early = Repository(Cart, store, snapshots=early)
    await corrupt(from_early.get(sid), sid)
    await corrupt(from_early.get(sid, version=7), sid)
    await corrupt(from_early.get(sid, as_of=at(9)), sid)
    assert (await Repository(Cart, store, snapshots=snapshots).get(sid)).version == 10

    # The CLI's replay (paged reads, with and without a snapshot).
    await corrupt(replay(Cart, store, sid), sid)
    await corrupt(replay(Cart, store, sid, page_size=3), sid)
    await corrupt(replay(Cart, store, sid, as_of=at(7)), sid)
    await corrupt(replay(Cart, store, sid, version=6, snapshots=early), sid)


async def test_a_hole_in_a_long_stream_names_every_missing_version(damaged: Damaged) -> None:
    cart = await write_cart(damaged.store, events=40)
    for version in (5, 6, 30):
        await damaged.delete(cart.id, version)
    await corrupt(damaged.store.read(cart.id), cart.id, [5, 6, 30])
    await corrupt(Repository(Cart, damaged.store).get(cart.id), cart.id, [5, 6, 30])


def test_cli_replay_of_a_stream_with_a_hole_fails_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"

    async def prepare() -> str:
        async with SQLEventStore(url) as store:
            cart = await write_cart(store)
        with sqlite3.connect(tmp_path / "events.db") as db:
            db.execute("DELETE FROM events WHERE stream_id = ? AND version = ?", (cart.id, HOLE))
        return cart.id

    cart_id = asyncio.run(prepare())
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("EVENTSOURCING_STORE", None)
    done = subprocess.run(
        [sys.executable, "-m", "eventsourcing.cli", "replay", "--store", url, "--app", "cli_app", "e2e.Cart", cart_id],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1] / "e2e",
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "corrupt" in done.stderr and f"version(s) {HOLE} missing" in done.stderr
    assert "Traceback" not in done.stderr
