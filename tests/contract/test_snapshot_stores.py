"""The snapshot store contract bound to the memory and SQLite snapshot stores."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from snapshots import MemorySnapshotStore, SQLSnapshotStore
from snapshots.testing import SnapshotStoreContract


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
