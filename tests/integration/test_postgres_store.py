"""PostgreSQL specifics beyond the contract: schema creation races, position tokens, errors, options."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from uuid import uuid4

import asyncpg
import pytest

from eventsourcing import (
    ConfigurationError,
    DomainEvent,
    NewEvent,
    SQLEventStore,
    StoreError,
    StoreUnavailable,
    open_store,
)
from tests.postgres_server import PostgresServer, free_port

STREAM_TYPE = "pgstore.Stream"


class Said(DomainEvent):
    event_type = "pgstore.Said"
    text: str


def said(text: str) -> NewEvent:
    return NewEvent(Said(text=text), uuid4(), dt.datetime.now(dt.UTC))


async def test_schema_creation_is_safe_when_many_open_at_once(postgres_url: str) -> None:
    stores = [SQLEventStore(postgres_url, pool_size=1) for _ in range(8)]
    await asyncio.gather(*(store.open() for store in stores))  # separate engines: separate sessions
    try:
        await stores[0].append("s", [said("hello")], 0, stream_type=STREAM_TYPE)
        assert [e.event.text for e in await stores[-1].read("s")] == ["hello"]  # type: ignore[attr-defined]
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    async with SQLEventStore(postgres_url) as again:  # and reopening changes nothing
        assert await again.stream_version("s") == 1


async def test_schema(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url):
        pass
    conn = await asyncpg.connect(postgres_url)
    try:
        types = dict(
            await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'events'"
            )
        )
    finally:
        await conn.close()
    assert types["xid"] == "xid8"
    assert types["event_id"] == "uuid"
    assert types["timestamp"] == "timestamp with time zone"
    assert types["payload"] == types["metadata"] == "bytea"
    assert types["stream_type"] == "text"


async def test_position_tokens_round_trip_through_json(postgres_url: str) -> None:
    async with open_store(postgres_url.replace("postgresql://", "postgres://")) as store:
        await store.append("a", [said("1"), said("2")], 0, stream_type=STREAM_TYPE)
        await store.append("b", [said("3")], 0, stream_type=STREAM_TYPE)
        first, second, third = await store.read_all()
        assert isinstance(first.position, list) and len(first.position) == 2
        token = json.loads(json.dumps(first.position))
        assert [e.event_id for e in await store.read_all(after=token)] == [second.event_id, third.event_id]
        assert [e.event_id for e in await store.read_all(after=tuple(second.position))] == [third.event_id]
        for bad in (5, "1:2", [1], [1, 2, 3], [1, -2], [True, 1], {"xid": 1}):
            with pytest.raises(ValueError, match="position"):
                await store.read_all(after=bad)


async def test_unreachable_server_is_store_unavailable() -> None:
    store = SQLEventStore(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    with pytest.raises(StoreUnavailable, match="cannot open") as raised:
        await store.open()
    assert isinstance(raised.value.__cause__, OSError)


async def test_missing_database_is_store_unavailable(postgres_server: PostgresServer) -> None:
    with pytest.raises(StoreUnavailable, match="does not exist"):
        async with SQLEventStore(postgres_server.url("no_such_database")):
            pass


async def test_connections_dropped_by_the_server_are_replaced(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    """Pooled connections the server closed (a restart, a terminated backend) are not handed out again."""
    async with SQLEventStore(postgres_url, pool_size=3) as store:
        await asyncio.gather(*(store.stream_version(f"s{i}") for i in range(3)))  # fill the pool
        admin = await asyncpg.connect(postgres_server.url())
        try:
            terminated = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'eventsourcing'"
            )
        finally:
            await admin.close()
        assert terminated >= 1
        await asyncio.sleep(0.2)  # the client notices the closed sockets
        assert await asyncio.gather(*(store.stream_version(f"s{i}") for i in range(3))) == [0, 0, 0]


async def test_other_server_errors_are_store_errors_with_the_cause(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url) as store:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute("ALTER TABLE events ADD CONSTRAINT short_ids CHECK (length(stream_id) < 5)")
        finally:
            await conn.close()
        with pytest.raises(StoreError, match="short_ids") as raised:
            await store.append("much-too-long", [said("x")], 0, stream_type=STREAM_TYPE)
        assert isinstance(raised.value.__cause__, asyncpg.CheckViolationError)
        assert not isinstance(raised.value, StoreUnavailable)


async def test_closed_store_says_so(postgres_url: str) -> None:
    store = SQLEventStore(postgres_url)
    with pytest.raises(StoreError, match="not open"):
        await store.stream_version("s")


async def test_strict_order_waits_for_the_lock_at_most_the_busy_timeout(postgres_url: str) -> None:
    from eventsourcing.stores.sql.postgres import append_rows
    from tests.integration.test_postgres_followers import columns, new_events

    async with SQLEventStore(postgres_url, strict_order=True, busy_timeout=0.2) as store:
        holder = await asyncpg.connect(postgres_url)
        try:
            transaction = holder.transaction()
            await transaction.start()
            await append_rows(holder, "held", STREAM_TYPE, 0, columns(new_events(1, 1)), 10.0)
            with pytest.raises(StoreUnavailable, match="busy timeout") as raised:
                await store.append("other", [said("x")], 0, stream_type=STREAM_TYPE)
            assert isinstance(raised.value.__cause__, asyncpg.LockNotAvailableError)
            waiting = asyncio.ensure_future(store.append("other", [said("y")], 0, stream_type=STREAM_TYPE))
            await asyncio.sleep(0.05)
            await transaction.commit()
            assert (await waiting).position == 2  # dense: right after the held event
        finally:
            await holder.close()


def test_isolation_level_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="isolation_level"):
        SQLEventStore("postgresql://u@127.0.0.1/db", isolation_level="CHAOS")
    with pytest.raises(ConfigurationError, match="isolation_level"):
        SQLEventStore("sqlite:///x.db", isolation_level="READ COMMITTED")
    assert SQLEventStore("postgresql://u@127.0.0.1/db", isolation_level="serializable") is not None
    with pytest.raises(ConfigurationError, match="strict_order"):
        SQLEventStore("postgresql://u@127.0.0.1/db", isolation_level="SERIALIZABLE", strict_order=True)
