"""The event store contract with Avro payloads: SQLite and PostgreSQL (schemas in ``event_schemas``).

The Kafka store's default codec is Avro, so `test_kafka_event_store.py` covers Avro on Kafka.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing import MemoryEventStore, SQLEventStore
from eventsourcing.avro import AvroCodec
from eventsourcing.testing import EventStoreContract


class TestSQLiteAvroEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLEventStore]:
        async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}", codec="avro") as store:
            yield store


class TestPostgresAvroEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str) -> AsyncIterator[SQLEventStore]:
        async with SQLEventStore(postgres_url, codec="avro") as store:
            yield store


class TestMemoryAvroEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryEventStore]:
        async with MemoryEventStore(codec=AvroCodec()) as store:
            yield store
