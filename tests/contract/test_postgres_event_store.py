"""The event store contract bound to `SQLEventStore` on PostgreSQL, in both ordering modes."""

from collections.abc import AsyncIterator

import pytest

from eventsourcing import SQLEventStore
from eventsourcing.testing import EventStoreContract


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str) -> AsyncIterator[SQLEventStore]:
        async with SQLEventStore(postgres_url) as store:
            yield store


class TestPostgresStrictOrderEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, postgres_url: str) -> AsyncIterator[SQLEventStore]:
        async with SQLEventStore(postgres_url, strict_order=True) as store:
            yield store
