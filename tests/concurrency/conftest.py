"""Fixtures of the concurrency suite: a SQLite event store and a SQLite view database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing import SQLEventStore
from eventsourcing.projections import SQLCheckpointStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLEventStore]:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        yield store


@pytest.fixture
async def views(tmp_path: Path) -> AsyncIterator[SQLCheckpointStore]:
    async with SQLCheckpointStore(f"sqlite:///{tmp_path / 'views.db'}") as views:
        yield views
