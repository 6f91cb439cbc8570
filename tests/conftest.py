"""Shared fixtures: a throwaway PostgreSQL cluster and a Kafka broker for the whole run, an empty
database per test.

The cluster starts on first use only (a run that touches no PostgreSQL test never starts one) and
is stopped and removed at the end of the session. If it cannot start, every test that needs it
fails and says why; nothing is skipped.

The session cluster runs with ``fsync=off``: these tests are about semantics (conflicts, ordering,
idempotency), which fsync does not change, and a crash of the OS is not among them. The durability
tests start their own cluster with the default, durable settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from tests.kafka_server import KafkaBroker, KafkaBrokerError
from tests.postgres_server import PostgresServer, PostgresServerError

TEST_DATABASE = "eventsourcing_test"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 cluster on 127.0.0.1 (trust auth, superuser ``postgres``)."""
    server = PostgresServer(settings={"fsync": "off", "full_page_writes": "off"})
    try:
        server.start()
    except PostgresServerError as err:
        server.stop()
        pytest.fail(f"cannot start the throwaway PostgreSQL cluster the tests need: {err}", pytrace=False)
    try:
        _run_sync(f"CREATE DATABASE {TEST_DATABASE}", server.url())
        yield server
    finally:
        server.stop()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL (``postgresql://...``) of a database that is empty for this test.

    One database serves the session; its ``public`` schema is dropped and recreated before each
    test (much faster than a new database per test), so every store opened on it starts empty.
    """
    url = postgres_server.url(TEST_DATABASE)
    conn = await asyncpg.connect(url)
    try:
        # A store a previous test left open would make this wait: fail rather than hang.
        await conn.execute("SET lock_timeout = '10s'; DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A Kafka-protocol broker on 127.0.0.1 (Tansu, memory storage), or the cluster in EVENTSOURCING_KAFKA."""
    broker = KafkaBroker()
    try:
        broker.start()
    except KafkaBrokerError as err:
        pytest.fail(f"cannot start the Kafka broker the tests need: {err}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """The broker's bootstrap servers (tests isolate themselves with a topic prefix of their own)."""
    return kafka_broker.bootstrap_servers


def _run_sync(sql: str, url: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())
