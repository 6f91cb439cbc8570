"""The PostgreSQL stores' connection pool (`pg_pool.ConnectionPool`) against a real server."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from eventsourcing.stores.sql.pg_pool import ConnectionPool


class Connector:
    """Opens connections to the test database, counting them; can be told to fail."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[asyncpg.Connection] = []
        self.fail: BaseException | None = None

    async def __call__(self) -> asyncpg.Connection:
        if self.fail is not None:
            raise self.fail
        conn = await asyncpg.connect(self.url)
        self.opened.append(conn)
        return conn


async def test_a_released_connection_is_reused(postgres_url: str) -> None:
    connect = Connector(postgres_url)
    pool = ConnectionPool(connect, max_size=2)
    try:
        first = await pool.acquire()
        pool.release(first)
        again = await pool.acquire()
        assert again is first and len(connect.opened) == 1
        assert await again.fetchval("SELECT 1") == 1
        pool.release(again)
    finally:
        await pool.close()
    assert first.is_closed()


async def test_callers_beyond_max_size_wait_their_turn_in_order(postgres_url: str) -> None:
    connect = Connector(postgres_url)
    pool = ConnectionPool(connect, max_size=2)
    try:
        held = [await pool.acquire(), await pool.acquire()]
        order: list[int] = []

        async def use(n: int) -> None:
            conn = await pool.acquire()
            order.append(n)
            await conn.fetchval("SELECT 1")
            pool.release(conn)

        waiting = [asyncio.ensure_future(use(n)) for n in range(3)]
        await asyncio.sleep(0.05)
        assert order == [] and pool.size == 2
        pool.release(held[0])
        await asyncio.gather(*waiting)
        assert order == [0, 1, 2]
        assert len(connect.opened) == 2  # never more than max_size
        pool.release(held[1])
    finally:
        await pool.close()


async def test_a_cancelled_waiter_does_not_lose_a_connection(postgres_url: str) -> None:
    pool = ConnectionPool(Connector(postgres_url), max_size=1)
    try:
        held = await pool.acquire()
        waiter = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(held)  # handed to the waiter ...
        waiter.cancel()  # ... which gives up before it runs: the connection goes back
        with pytest.raises(asyncio.CancelledError):
            await waiter
        conn = await asyncio.wait_for(pool.acquire(), 1.0)
        assert conn is held
        pool.release(conn)
    finally:
        await pool.close()


async def test_connections_that_cannot_be_reused_are_discarded_and_replaced(postgres_url: str) -> None:
    connect = Connector(postgres_url)
    pool = ConnectionPool(connect, max_size=1)
    try:
        conn = await pool.acquire()
        await conn.execute("BEGIN")
        pool.release(conn)  # left inside a transaction: closed, not reused
        assert conn.is_closed() and pool.size == 0
        fresh = await pool.acquire()
        assert fresh is not conn and not fresh.is_in_transaction()
        fresh.terminate()
        pool.release(fresh)  # closed while in use
        assert pool.size == 0
        again = await pool.acquire()
        assert again.is_closed() is False and len(connect.opened) == 3
        pool.release(again)
    finally:
        await pool.close()


async def test_expire_closes_idle_connections_now_and_busy_ones_on_release(postgres_url: str) -> None:
    connect = Connector(postgres_url)
    pool = ConnectionPool(connect, max_size=3)
    try:
        busy, idle = await pool.acquire(), await pool.acquire()
        pool.release(idle)
        pool.expire()
        assert idle.is_closed() and not busy.is_closed()
        pool.release(busy)
        assert busy.is_closed() and pool.size == 0
        conn = await pool.acquire()
        assert conn not in (busy, idle)
        pool.release(conn)
    finally:
        await pool.close()


async def test_idle_connections_past_their_lifetime_are_replaced(postgres_url: str) -> None:
    pool = ConnectionPool(Connector(postgres_url), max_size=1, max_idle=0.0)
    try:
        first = await pool.acquire()
        pool.release(first)
        await asyncio.sleep(0.01)
        second = await pool.acquire()
        assert second is not first and first.is_closed()
        pool.release(second)
    finally:
        await pool.close()


async def test_a_failed_connect_frees_its_slot_and_reaches_only_its_caller(postgres_url: str) -> None:
    connect = Connector(postgres_url)
    pool = ConnectionPool(connect, max_size=1)
    try:
        connect.fail = OSError("refused")
        with pytest.raises(OSError, match="refused"):
            await pool.acquire()
        assert pool.size == 0
        connect.fail = None
        conn = await pool.acquire()
        pool.release(conn)
    finally:
        await pool.close()


async def test_a_closed_pool_refuses_and_wakes_its_waiters(postgres_url: str) -> None:
    pool = ConnectionPool(Connector(postgres_url), max_size=1)
    held = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await waiter
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await pool.acquire()
    pool.release(held)  # a connection in use when the pool closed is closed when it comes back
    assert held.is_closed()


def test_max_size_must_be_positive() -> None:
    async def never() -> asyncpg.Connection:
        raise AssertionError

    with pytest.raises(ValueError, match="max_size"):
        ConnectionPool(never, max_size=0)


async def test_a_bounded_wait_for_a_slot_times_out_and_leaves_the_pool_whole(postgres_url: str) -> None:
    connect = Connector(postgres_url)
    pool = ConnectionPool(connect, max_size=1)
    try:
        held = await pool.acquire()
        with pytest.raises(TimeoutError):
            await pool.acquire(within=0.01)  # every slot busy: the wait is bounded
        assert pool.size == 1
        pool.release(held)
        again = await pool.acquire(within=0.01)  # a free connection is handed over without waiting
        assert again is held and len(connect.opened) == 1
        pool.release(again)
    finally:
        await pool.close()
