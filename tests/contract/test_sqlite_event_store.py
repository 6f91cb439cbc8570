"""The event store contract bound to `SQLEventStore` on a SQLite file."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing import SQLEventStore
from eventsourcing.testing import EventStoreContract


class TestSQLiteEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLEventStore]:
        async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
            yield store
