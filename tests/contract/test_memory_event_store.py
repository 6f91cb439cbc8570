"""The event store contract bound to `MemoryEventStore`."""

from collections.abc import AsyncIterator

import pytest

from eventsourcing import MemoryEventStore
from eventsourcing.testing import EventStoreContract


class TestMemoryEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryEventStore]:
        async with MemoryEventStore() as store:
            yield store
