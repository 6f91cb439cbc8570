"""The event store contract bound to `SQLEventStore` on PostgreSQL (a fresh database per test)."""

from collections.abc import AsyncIterator

import pytest

from eventsourcing import SQLEventStore
from eventsourcing.testing import EventStoreContract


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str) -> AsyncIterator[SQLEventStore]:
        async with SQLEventStore(postgres_url) as store:
            yield store
