"""Group commit on SQLite: appends from concurrent tasks share a transaction, yet each keeps its own
expectation check and its own outcome — a conflicting append fails alone, an exact retry in the same
group is recognised, and a group whose appends all fail stores nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing import ANY, AppendResult, ConcurrencyError, NewEvent, SQLEventStore, StreamTypeMismatch, clock
from tests.integration.projections_worker import STREAM_TYPE, Ticked


def ticks(count: int) -> list[NewEvent]:
    return [NewEvent(Ticked(n=i), uuid.uuid4(), clock.now()) for i in range(count)]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLEventStore]:
    async with SQLEventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        yield store


async def test_concurrent_appends_share_commits_and_keep_their_own_outcomes(store: SQLEventStore) -> None:
    group = store._backend.appends  # type: ignore[attr-defined]
    # 40 new streams, 10 racers on one stream (one wins), a retry racing its original, a wrong type.
    batches = {f"new-{i}": ticks(2) for i in range(40)}
    racers = [ticks(1) for _ in range(10)]
    twice = ticks(3)
    await store.append("typed", ticks(1), 0, stream_type=STREAM_TYPE)
    calls = [
        *(store.append(s, events, 0, stream_type=STREAM_TYPE) for s, events in batches.items()),
        *(store.append("contested", events, 0, stream_type=STREAM_TYPE) for events in racers),
        store.append("retried", twice, 0, stream_type=STREAM_TYPE),
        store.append("retried", twice, 0, stream_type=STREAM_TYPE),
        store.append("typed", ticks(1), ANY, stream_type="other.Type"),
    ]
    before = group.groups
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert group.groups - before < len(calls) / 4, "the appends were not grouped"

    new, contested, retried, typed = outcomes[:40], outcomes[40:50], outcomes[50:52], outcomes[52]
    assert all(isinstance(r, AppendResult) and r.version == 2 for r in new)
    winners = [r for r in contested if isinstance(r, AppendResult)]
    assert len(winners) == 1 and all(isinstance(r, ConcurrencyError) for r in contested if r not in winners)
    assert retried[0] == retried[1] and isinstance(retried[0], AppendResult)
    assert isinstance(typed, StreamTypeMismatch)

    log = await store.read_all(limit=1000)
    assert len(log) == 1 + 80 + 1 + 3  # typed, new streams, the contest's winner, the retried batch once
    assert [e.position for e in log] == sorted(e.position for e in log)
    assert len(await store.read("contested")) == 1


async def test_a_group_whose_appends_all_fail_stores_nothing(store: SQLEventStore) -> None:
    await store.append("s", ticks(1), 0, stream_type=STREAM_TYPE)
    outcomes = await asyncio.gather(
        *(store.append("s", ticks(1), 0, stream_type=STREAM_TYPE) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, ConcurrencyError) for o in outcomes)
    assert await store.stream_version("s") == 1
