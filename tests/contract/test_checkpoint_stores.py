"""The checkpoint store contract bound to memory, SQLite and PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing.projections import MemoryCheckpointStore, SQLCheckpointStore
from eventsourcing.projections.testing import CheckpointStoreContract


class TestMemoryCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    async def checkpoints(self) -> AsyncIterator[MemoryCheckpointStore]:
        async with MemoryCheckpointStore() as store:
            yield store


class TestSQLiteCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    async def checkpoints(self, tmp_path: Path) -> AsyncIterator[SQLCheckpointStore]:
        async with SQLCheckpointStore(f"sqlite:///{tmp_path / 'views.db'}") as store:
            yield store


class TestPostgresCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    async def checkpoints(self, postgres_url: str) -> AsyncIterator[SQLCheckpointStore]:
        async with SQLCheckpointStore(postgres_url) as store:
            yield store
