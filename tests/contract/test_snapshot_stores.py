"""The snapshot store contract bound to the memory, SQLite and PostgreSQL snapshot stores."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing.snapshots import MemorySnapshotStore, SQLSnapshotStore
from eventsourcing.snapshots.testing import SnapshotStoreContract


class TestMemorySnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    async def snapshots(self) -> AsyncIterator[MemorySnapshotStore]:
        async with MemorySnapshotStore() as store:
            yield store


class TestSQLiteSnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    async def snapshots(self, tmp_path: Path) -> AsyncIterator[SQLSnapshotStore]:
        async with SQLSnapshotStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
            yield store


class TestPostgresSnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    async def snapshots(self, postgres_url: str) -> AsyncIterator[SQLSnapshotStore]:
        async with SQLSnapshotStore(postgres_url) as store:
            yield store
