"""Group commit on SQLite: appends from concurrent tasks share a transaction, yet each keeps its own
expectation check and its own outcome — a conflicting append fails alone, an exact retry in the same
group is recognised, and a group whose appends all fail stores nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing import (
    ANY,
    AppendResult,
    ConcurrencyError,
    NewEvent,
    SQLEventStore,
    StreamAppend,
    StreamTypeMismatch,
    clock,
)
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


async def test_atomic_appends_in_a_group_are_all_or_nothing_each(store: SQLEventStore) -> None:
    """Atomic appends of several streams share a group's transaction with plain appends: a refused
    one rolls back all of its streams (and only its own), the others commit."""
    group = store._backend.appends  # type: ignore[attr-defined]
    await store.append("taken", ticks(1), 0, stream_type=STREAM_TYPE)
    ok = [StreamAppend(f"ok-{i}", ticks(2), 0, STREAM_TYPE) for i in range(3)]
    refused = [StreamAppend("half-1", ticks(2), 0, STREAM_TYPE), StreamAppend("taken", ticks(1), 0, STREAM_TYPE)]
    calls = [
        store.append_streams(ok),
        store.append_streams(refused),
        *(store.append(f"plain-{i}", ticks(1), 0, stream_type=STREAM_TYPE) for i in range(10)),
        store.append_streams(
            [StreamAppend("half-2", ticks(1), 0, STREAM_TYPE), StreamAppend("ok-0", [], 0, STREAM_TYPE)]
        ),
    ]
    before = group.groups
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert group.groups - before < len(calls) / 2, "the appends were not grouped"
    assert [r.version for r in outcomes[0]] == [2, 2, 2]  # type: ignore[union-attr]
    assert isinstance(outcomes[1], ConcurrencyError) and outcomes[1].stream_id == "taken"
    assert all(isinstance(r, AppendResult) for r in outcomes[2:12])
    # The guard on ok-0 ran after the first atomic append in the same transaction: it saw version 2.
    assert isinstance(outcomes[12], ConcurrencyError) and outcomes[12].stream_id == "ok-0"
    assert await store.read("half-1") == [] and await store.read("half-2") == []
    assert len(await store.read("taken")) == 1
    assert len(await store.read_all(limit=1000)) == 1 + 6 + 10
