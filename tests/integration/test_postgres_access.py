"""The PostgreSQL access layer shared by every component (`pg_runner`, `pg_url`, `pg_errors`).

Against the session's throwaway cluster: what does not need to stop or freeze the server. The
faults (terminated sessions, restarts, a frozen server, the command timeout) are in
test_postgres_faults.py, on a cluster of their own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from freezegun import freeze_time

from eventsourcing import (
    AppendOutcomeUnknown,
    ConfigurationError,
    DomainEvent,
    NewEvent,
    SQLEventStore,
    StoreUnavailable,
)
from eventsourcing.avro.sql import SQLiteSchemaStore
from eventsourcing.projections import SQLCheckpointStore
from eventsourcing.snapshots import SQLSnapshotStore
from eventsourcing.snapshotting import Snapshot
from eventsourcing.stores.sql.pg_url import parse_postgres_url

STREAM_TYPE = "access.Stream"
PASSWORD = "s3cr3t-Pa55"


class Noted(DomainEvent):
    event_type = "access.Noted"
    n: int


def noted(*ns: int) -> list[NewEvent]:
    now = dt.datetime.now(dt.UTC)
    return [NewEvent(Noted(n=n), uuid.uuid4(), now) for n in ns]


def with_params(url: str, **params: str) -> str:
    return url + "?" + "&".join(f"{k}={v}" for k, v in params.items())


Component = Callable[[str], Any]
COMPONENTS: dict[str, Component] = {
    "events": SQLEventStore,
    "snapshots": SQLSnapshotStore,
    "views": SQLCheckpointStore,
}


async def sessions(url: str, application_name: str) -> set[int]:
    """Backend pids of the server sessions with this application name."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name)
    finally:
        await conn.close()
    return {row[0] for row in rows}


# -- freezegun ----------------------------------------------------------------------------------


async def test_a_frozen_clock_moved_minutes_between_commands_keeps_the_pools_connections(postgres_url: str) -> None:
    """Issue 13 item 4: the pool aged connections with time.monotonic, which freezegun moves; every
    command then found its connection "idle for minutes" and reconnected (a new server session)."""
    name = f"frozen-{uuid.uuid4().hex[:8]}"
    url = with_params(postgres_url, application_name=name)
    async with SQLEventStore(url, pool_size=1) as store:
        await store.append("s", noted(0), 0, stream_type=STREAM_TYPE)
        before = await sessions(postgres_url, name)
        assert len(before) == 1
        with freeze_time("2026-05-01 12:00:00") as frozen:
            for n in range(1, 21):
                frozen.tick(dt.timedelta(minutes=7))  # more than the pool's idle limit (5 min) every time
                await store.append("s", noted(n), n, stream_type=STREAM_TYPE)
                assert await store.stream_version("s") == n + 1
        assert await sessions(postgres_url, name) == before  # the same session served all 40 commands


async def test_a_clock_moved_by_freezegun_during_a_command_does_not_time_it_out(
    postgres_url: str, holder: asyncpg.Connection
) -> None:
    """freezegun moves the event loop's clock too: the command timeout must still count real time."""
    name = f"moved-{uuid.uuid4().hex[:8]}"
    async with SQLEventStore(with_params(postgres_url, application_name=name, command_timeout="5")) as store:
        with freeze_time("2026-05-01 12:00:00") as frozen:
            async with holder.transaction():
                await holder.execute("LOCK TABLE events IN EXCLUSIVE MODE")
                appending = asyncio.ensure_future(store.append("s", noted(1), 0, stream_type=STREAM_TYPE))

                async def waiting() -> bool:
                    rows = await holder.fetch(
                        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                        name,
                    )
                    return bool(rows)

                await wait_for(waiting)  # the append is in flight, waiting for the lock
                frozen.tick(dt.timedelta(hours=1))  # the loop's timers think an hour went by
                for _ in range(10):
                    await asyncio.sleep(0)
                assert not appending.done()
            assert (await appending).version == 1


# -- URLs: libpq parameters, ports, passwords ---------------------------------------------------


@pytest.mark.parametrize("component", list(COMPONENTS))
async def test_libpq_parameters_in_the_url_reach_the_session(postgres_url: str, component: str) -> None:
    """Issue 14 item 10: standard libpq parameters work for every PostgreSQL component."""
    name = f"libpq-{component}-{uuid.uuid4().hex[:6]}"
    url = with_params(
        postgres_url,
        sslmode="disable",
        connect_timeout="5",
        application_name=name,
        options="-c%20lock_timeout%3D1234ms",
        target_session_attrs="any",
    )
    async with COMPONENTS[component](url) as store:
        runner = store._backend.runner
        lock_timeout = await runner.call(_fetchval, "SHOW lock_timeout")
        assert lock_timeout == "1234ms"
        assert await runner.call(_fetchval, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
        assert len(await sessions(postgres_url, name)) >= 1


async def _fetchval(conn: asyncpg.Connection, sql: str) -> Any:
    return await conn.fetchval(sql)


@pytest.mark.parametrize("component", list(COMPONENTS))
async def test_sslmode_require_against_a_server_without_tls_is_unavailable(postgres_url: str, component: str) -> None:
    store = COMPONENTS[component](with_params(postgres_url, sslmode="require"))
    with pytest.raises(StoreUnavailable, match="cannot open"):
        await store.open()


@pytest.mark.parametrize("component", list(COMPONENTS))
@pytest.mark.parametrize(
    ("netloc", "port"), [("127.0.0.1:abc", "abc"), ("127.0.0.1:70000", "70000"), ("127.0.0.1:0", "0")]
)
def test_a_port_that_is_not_a_tcp_port_is_a_configuration_error(component: str, netloc: str, port: str) -> None:
    url = f"postgresql://app:{PASSWORD}@{netloc}/db"
    with pytest.raises(ConfigurationError, match=f"port '{port}'") as raised:
        COMPONENTS[component](url)
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("command_timeout=soon", "command_timeout"),
        ("command_timeout=-1", "command_timeout"),
        ("connect_timeout=x", "connect_timeout"),
        ("channel_binding=require", "channel_binding"),
        ("options=--nope", "options"),
        ("port=99999", "port"),
    ],
)
def test_bad_url_parameters_are_named(query: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        parse_postgres_url(f"postgresql://app:{PASSWORD}@127.0.0.1:5432/db?{query}")
    assert PASSWORD not in str(raised.value)


def test_url_parameters_are_split_between_the_library_asyncpg_and_the_server() -> None:
    parsed = parse_postgres_url(
        f"postgresql://app:{PASSWORD}@h1:5432,h2:5433/db?command_timeout=2.5&connect_timeout=1"
        "&sslmode=verify-full&sslrootcert=/ca.pem&fallback_application_name=fb&options=-c%20search_path%3Dapp"
    )
    assert parsed.command_timeout == 2.5
    assert parsed.connect_timeout == 2.0  # libpq: under 2 s counts as 2 s
    assert parsed.server_settings == {"search_path": "app", "application_name": "fb"}
    assert "sslmode=verify-full" in parsed.dsn and "sslrootcert=%2Fca.pem" in parsed.dsn
    assert "command_timeout" not in parsed.dsn and PASSWORD in parsed.dsn
    assert PASSWORD not in parsed.shown
    assert parse_postgres_url("postgresql://h/db?command_timeout=none").command_timeout is None
    assert parse_postgres_url("postgresql://h/db", command_timeout=None).connect_timeout is None


@pytest.mark.parametrize("component", list(COMPONENTS))
async def test_passwords_never_appear_in_repr_or_errors(postgres_server: Any, component: str) -> None:
    """Issue 14 item 9, for the PostgreSQL components: repr and a failed open hide the password."""
    from tests.postgres_server import free_port

    url = f"postgresql://app:{PASSWORD}@127.0.0.1:{free_port()}/db?connect_timeout=2"
    store = COMPONENTS[component](url)
    assert PASSWORD not in repr(store) and "***" in repr(store)
    with pytest.raises(StoreUnavailable) as raised:
        await store.open()
    assert PASSWORD not in str(raised.value)
    cause: BaseException | None = raised.value
    while cause is not None:  # nothing the library wrote in the chain shows it either
        if isinstance(cause, StoreUnavailable):
            assert PASSWORD not in str(cause)
        cause = cause.__cause__


@pytest.mark.parametrize("component", list(COMPONENTS))
@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql+psycopg2", "postgres+asyncpgx"])
def test_an_unsupported_driver_scheme_is_refused_without_showing_the_password(component: str, scheme: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        COMPONENTS[component](f"{scheme}://app:{PASSWORD}@127.0.0.1:5432/db")
    assert PASSWORD not in str(raised.value) and "***" in str(raised.value)


# -- one translator: lock timeouts are StoreUnavailable everywhere ------------------------------


@pytest.fixture
async def holder(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_url)
    try:
        yield conn
    finally:
        await conn.close()


async def test_a_lock_timeout_is_store_unavailable_in_the_checkpoint_store(
    postgres_url: str, holder: asyncpg.Connection
) -> None:
    """Issue 13 item 2: it was StoreError from the projection store, StoreUnavailable from the event store."""
    url = with_params(postgres_url, options="-c%20lock_timeout%3D100ms")
    async with SQLCheckpointStore(url) as views:
        checkpoint = await views.load("locked")
        async with holder.transaction():
            await holder.execute("SELECT * FROM projection_checkpoints WHERE name = 'locked' FOR UPDATE")
            with pytest.raises(StoreUnavailable, match="lock timeout"):
                await views.commit(checkpoint, [1, 1])
        assert (await views.commit(checkpoint, [1, 1])).seq == checkpoint.seq + 1  # usable at once


async def test_a_lock_timeout_is_store_unavailable_in_the_snapshot_store(
    postgres_url: str, holder: asyncpg.Connection
) -> None:
    url = with_params(postgres_url, options="-c%20lock_timeout%3D100ms")
    snapshot = Snapshot("s", "access.Stream", 1, dt.datetime.now(dt.UTC), "fp", b"{}")
    async with SQLSnapshotStore(url) as snapshots:
        async with holder.transaction():
            await holder.execute("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreUnavailable, match="lock timeout"):
                await snapshots.save(snapshot)
        await snapshots.save(snapshot)
        assert await snapshots.latest("s", fingerprint="fp") == snapshot


# -- an append whose outcome is unknown ----------------------------------------------------------


async def wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``condition`` until it holds (the tests synchronise on what the server reports)."""
    while not await condition():  # noqa: ASYNC110 - the server's state has no event to wait on
        await asyncio.sleep(0.005)


async def test_an_append_lost_after_it_was_sent_is_outcome_unknown_and_a_resend_settles_it(
    postgres_url: str, holder: asyncpg.Connection
) -> None:
    name = f"unknown-{uuid.uuid4().hex[:6]}"
    async with SQLEventStore(with_params(postgres_url, application_name=name)) as store:
        await store.append("s", noted(0), 0, stream_type=STREAM_TYPE)
        events = noted(1, 2)
        async with holder.transaction():
            await holder.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # the append waits for it, sent
            appending = asyncio.ensure_future(store.append("s", events, 1, stream_type=STREAM_TYPE))

            async def waiting() -> bool:
                rows = await holder.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    name,
                )
                return bool(rows)

            await wait_for(waiting)
            await holder.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", name
            )
            with pytest.raises(AppendOutcomeUnknown, match="re-send the same events") as raised:
                await appending
            assert raised.value.stream_id == "s"
        # Not stored (the server rolled it back); the same events, re-sent, are stored now, once.
        result = await store.append("s", events, 1, stream_type=STREAM_TYPE)
        assert result.version == 3
        again = await store.append("s", events, 1, stream_type=STREAM_TYPE)  # and a second re-send is a retry
        assert again == result
        assert [e.event_id for e in await store.read("s")][1:] == [e.event_id for e in events]


# -- SQLite's schema store does not block the loop -------------------------------------------------


async def test_the_sqlite_schema_store_waits_for_a_lock_without_blocking_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "schemas.db"
    schemas = SQLiteSchemaStore(f"sqlite:///{path}", busy_timeout=30.0)
    await schemas.save_schemas([(1, {"type": "record", "name": "A", "fields": []})])
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    saving = asyncio.ensure_future(schemas.save_schemas([(2, {"type": "record", "name": "B", "fields": []})]))
    for _ in range(20):  # the loop keeps turning while the save waits for the lock (it would not if it blocked)
        await asyncio.sleep(0)
    assert not saving.done()
    locker.execute("COMMIT")
    locker.close()
    await saving
    assert [s["name"] for s in await schemas.load_schemas()] == ["A", "B"]


# -- reconnecting: sessions ended by the server -----------------------------------------------------


async def terminate(url: str, application_name: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 "
            "AND datname = current_database() AND pid <> pg_backend_pid()",
            application_name,
        )
    finally:
        await conn.close()
    return len(rows)


async def test_the_checkpoint_store_serves_again_after_its_sessions_are_terminated(postgres_url: str) -> None:
    """Issue 13 item 2: dead connections went back to its SQLAlchemy pool, and every later call
    failed with `connection is closed` until the store was reopened."""
    async with SQLCheckpointStore(postgres_url) as views:
        checkpoint = await views.load("p")
        for round_ in range(3):
            assert await terminate(postgres_url, "eventsourcing-projections") >= 1
            # Reads and idempotent writes run again on a fresh connection: no error at all.
            checkpoint = await views.load("p")
            assert await views.fetch("SELECT count(*) FROM projection_checkpoints") == [(1,)]
            checkpoint = await views.commit(checkpoint, [1, round_ + 1])
        assert (await views.load("p")).position == [1, 3]


@pytest.mark.parametrize("component", ["events", "snapshots"])
async def test_the_other_components_serve_again_after_their_sessions_are_terminated(
    postgres_url: str, component: str
) -> None:
    name = f"terminated-{component}-{uuid.uuid4().hex[:6]}"
    async with COMPONENTS[component](with_params(postgres_url, application_name=name)) as store:
        for round_ in range(3):
            assert await terminate(postgres_url, name) >= 1
            if component == "events":
                assert await store.stream_version("s") == round_  # a read: run again at once
                await store.append("s", noted(round_), round_, stream_type=STREAM_TYPE)
            else:
                snapshot = Snapshot("s", STREAM_TYPE, round_ + 1, dt.datetime.now(dt.UTC), "fp", b"x")
                await store.save(snapshot)
                assert await store.latest("s", fingerprint="fp") == snapshot
