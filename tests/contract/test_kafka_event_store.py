"""The event store contract against the Kafka store, on the broker the tests start (memory and file index)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest

from eventsourcing.stores.kafka import KafkaEventStore
from eventsourcing.testing import EventStoreContract


class TestKafkaEventStoreMemoryIndex(EventStoreContract):
    @pytest.fixture
    async def store(self, kafka_bootstrap: str) -> AsyncIterator[KafkaEventStore]:
        async with KafkaEventStore(kafka_bootstrap, prefix=f"t{uuid4().hex[:12]}", partitions=3) as store:
            yield store


class TestKafkaEventStoreFileIndex(EventStoreContract):
    @pytest.fixture
    async def store(self, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[KafkaEventStore]:
        prefix = f"t{uuid4().hex[:12]}"
        async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=2, index=str(tmp_path / "i.db")) as store:
            yield store


class TestKafkaEventStoreConfluentWireFormat(EventStoreContract):
    @pytest.fixture
    async def store(self, kafka_bootstrap: str) -> AsyncIterator[KafkaEventStore]:
        prefix = f"t{uuid4().hex[:12]}"
        async with KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=2, wire_format="confluent") as store:
            yield store


class TestKafkaEventStoreJSON(EventStoreContract):
    """The JSON codec on Kafka (the default is Avro): its payload rules hold here too."""

    @pytest.fixture
    async def store(self, kafka_bootstrap: str) -> AsyncIterator[KafkaEventStore]:
        async with KafkaEventStore(kafka_bootstrap, prefix=f"t{uuid4().hex[:12]}", partitions=2, codec="json") as store:
            yield store
