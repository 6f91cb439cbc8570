"""Test helpers shipped for users: the checkpoint store contract and `ProjectionScenario`.

`ProjectionScenario` (see `eventsourcing.projections.scenarios`): given events, then these view rows.

The checkpoint store contract, written once and bound to every backend (like `EventStoreContract`)::

    class TestMyCheckpoints(CheckpointStoreContract):
        @pytest.fixture
        async def checkpoints(self, tmp_path):
            async with MyCheckpointStore(...) as store:
                yield store

SQL stores (``dialect`` set) are also checked for what a batch writes; in-process stores for
`ViewBatch.call` effects. Importing this module imports pytest; the package itself never does.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import StoreError
from eventsourcing.projections.checkpoints import Checkpoint, CheckpointStore, DeadLetter
from eventsourcing.projections.errors import CheckpointConflict
from eventsourcing.projections.scenarios import ProjectionScenario, ScenarioFailed
from eventsourcing.projections.view import ViewBatch, ViewTables, table_copies

__all__ = ["CheckpointStoreContract", "ProjectionScenario", "ScenarioFailed"]

_metadata = MetaData()
tallies = Table(
    "contract_tallies",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("n", Integer, nullable=False),
)
TOKENS: list[Any] = [7, [812, 4], {"orders-0": 10, "orders-1": 3}]


class CheckpointStoreContract:
    @pytest.fixture
    async def checkpoints(self) -> Any:  # pragma: no cover - bindings override it
        raise NotImplementedError("bind the contract: define a `checkpoints` fixture in the subclass")

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    async def _view(store: CheckpointStore, expected: Checkpoint) -> ViewBatch:
        if store.dialect is not None:
            await store.create_tables([tallies])
        return ViewBatch(ViewTables.of([tallies], store.dialect), store, expected)

    @staticmethod
    def _bump(store: CheckpointStore, view: ViewBatch, key: str, seen: dict[str, int]) -> None:
        if store.dialect is None:
            view.call(lambda: seen.__setitem__(key, seen.get(key, 0) + 1))
        else:
            view.execute(
                "INSERT INTO {contract_tallies} (id, n) VALUES (?, 1) "
                "ON CONFLICT (id) DO UPDATE SET n = {contract_tallies}.n + 1",
                (key,),
            )

    @staticmethod
    async def _tally(store: CheckpointStore, seen: dict[str, int]) -> dict[str, int]:
        if store.dialect is None:
            return dict(seen)
        rows = await store.fetch("SELECT id, n FROM contract_tallies ORDER BY id")
        return dict(rows)

    # -- the contract ---------------------------------------------------------------------------

    async def test_a_new_checkpoint_is_at_the_start(self, checkpoints: CheckpointStore) -> None:
        name = f"p-{uuid.uuid4()}"
        first = await checkpoints.load(name)
        assert (first.name, first.position, first.seq) == (name, None, 0)
        assert await checkpoints.load(name) == first
        assert await checkpoints.dead_letters(name) == []

    @pytest.mark.parametrize("token", TOKENS, ids=["int", "pair", "map"])
    async def test_commit_moves_forward_and_tokens_round_trip(self, checkpoints: CheckpointStore, token: Any) -> None:
        name = f"p-{uuid.uuid4()}"
        start = await checkpoints.load(name)
        done = await checkpoints.commit(start, token)
        assert (done.position, done.seq) == (token, 1)
        assert done.updated_at is not None
        loaded = await checkpoints.load(name)
        assert (loaded.position, loaded.seq) == (token, 1)
        again = await checkpoints.commit(loaded, token)  # an empty page still counts as a commit
        assert again.seq == 2

    async def test_a_stale_checkpoint_cannot_commit_and_applies_nothing(self, checkpoints: CheckpointStore) -> None:
        name, seen = f"p-{uuid.uuid4()}", dict[str, int]()
        start = await checkpoints.load(name)
        view = await self._view(checkpoints, start)
        self._bump(checkpoints, view, "a", seen)
        await checkpoints.commit(start, 1, view)
        stale = await self._view(checkpoints, start)
        self._bump(checkpoints, stale, "a", seen)
        with pytest.raises(CheckpointConflict):
            await checkpoints.commit(start, 2, stale)
        assert (await checkpoints.load(name)).position == 1
        assert (await self._tally(checkpoints, seen)).get("a") == 1

    async def test_of_two_commits_from_one_checkpoint_exactly_one_wins(self, checkpoints: CheckpointStore) -> None:
        name, seen = f"p-{uuid.uuid4()}", dict[str, int]()
        start = await checkpoints.load(name)
        views = [await self._view(checkpoints, start) for _ in range(2)]
        for view in views:
            self._bump(checkpoints, view, "race", seen)
        outcomes = await asyncio.gather(*(checkpoints.commit(start, 5, view) for view in views), return_exceptions=True)
        assert sorted(type(o).__name__ for o in outcomes) == ["Checkpoint", "CheckpointConflict"]
        assert (await self._tally(checkpoints, seen)).get("race") == 1
        assert (await checkpoints.load(name)).seq == 1

    async def test_batch_writes_apply_in_order(self, checkpoints: CheckpointStore) -> None:
        if checkpoints.dialect is None:
            pytest.skip("SQL views only (capability: dialect)")
        name = f"p-{uuid.uuid4()}"
        start = await checkpoints.load(name)
        view = await self._view(checkpoints, start)
        key = f"k-{uuid.uuid4()}"
        view.execute("INSERT INTO {contract_tallies} (id, n) VALUES (?, ?)", (key, 5))
        view.add("contract_tallies", key, n=2)
        view.add("contract_tallies", key, n=3)
        view.execute("UPDATE {contract_tallies} SET n = n * 10 WHERE id = ?", (key,))
        view.add("contract_tallies", key, n=1)
        await checkpoints.commit(start, 1, view)
        assert await checkpoints.fetch("SELECT n FROM contract_tallies WHERE id = ?", (key,)) == [(101,)]

    async def test_a_failed_batch_leaves_no_trace(self, checkpoints: CheckpointStore) -> None:
        if checkpoints.dialect is None:
            pytest.skip("SQL views only (capability: dialect)")
        name, key = f"p-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
        start = await checkpoints.load(name)
        view = await self._view(checkpoints, start)
        view.execute("INSERT INTO {contract_tallies} (id, n) VALUES (?, 1)", (key,))
        view.execute("INSERT INTO {contract_tallies} (id, n) VALUES (?, 1)", (key,))  # primary key violated
        with pytest.raises(StoreError, match=r"(?i)unique|duplicate"):
            await checkpoints.commit(start, 1, view)
        assert await checkpoints.load(name) == start
        assert await checkpoints.fetch("SELECT n FROM contract_tallies WHERE id = ?", (key,)) == []

    async def test_reads_inside_a_batch_see_its_writes(self, checkpoints: CheckpointStore) -> None:
        if checkpoints.dialect is None:
            pytest.skip("SQL views only (capability: dialect)")
        name, key = f"p-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
        start = await checkpoints.load(name)
        view = await self._view(checkpoints, start)
        view.execute("INSERT INTO {contract_tallies} (id, n) VALUES (?, 41)", (key,))
        assert await view.fetchval("SELECT n + 1 FROM {contract_tallies} WHERE id = ?", (key,)) == 42
        view.add("contract_tallies", key, n=1)
        await checkpoints.commit(start, 1, view)
        assert await checkpoints.fetch("SELECT n FROM contract_tallies WHERE id = ?", (key,)) == [(42,)]
        # A read that finds the checkpoint moved on fails before anything is applied.
        stale = await self._view(checkpoints, start)
        with pytest.raises(CheckpointConflict):
            await stale.fetch("SELECT 1")
        # A discarded batch rolls back what its reads flushed.
        current = await checkpoints.load(name)
        dropped = await self._view(checkpoints, current)
        dropped.execute("DELETE FROM {contract_tallies} WHERE id = ?", (key,))
        assert await dropped.fetch("SELECT n FROM {contract_tallies} WHERE id = ?", (key,)) == []
        await checkpoints.discard(dropped)
        assert await checkpoints.fetch("SELECT n FROM contract_tallies WHERE id = ?", (key,)) == [(42,)]
        assert await checkpoints.load(name) == current

    async def test_dead_letters_are_recorded_with_the_checkpoint(self, checkpoints: CheckpointStore) -> None:
        name = f"p-{uuid.uuid4()}"
        start = await checkpoints.load(name)
        letter = DeadLetter(name, uuid.uuid4(), "stream-1", 3, "contract.Bad", [9, 3], "ValueError: bad")
        done = await checkpoints.commit(start, [9, 3], None, letter)
        assert done.position == [9, 3]
        (stored,) = await checkpoints.dead_letters(name)
        assert (stored.event_id, stored.stream_id, stored.version, stored.event_type) == (
            letter.event_id,
            "stream-1",
            3,
            "contract.Bad",
        )
        assert (stored.position, stored.error, stored.recorded_at is not None) == ([9, 3], "ValueError: bad", True)
        with pytest.raises(CheckpointConflict):  # a stale commit records no dead letter either
            await checkpoints.commit(start, [9, 4], None, DeadLetter(name, uuid.uuid4(), "s", 1, "t", [9, 4], "e"))
        assert len(await checkpoints.dead_letters(name)) == 1
        assert await checkpoints.dead_letters(f"other-{uuid.uuid4()}") == []

    async def test_reset_starts_again_and_fences_off_old_runners(self, checkpoints: CheckpointStore) -> None:
        name = f"p-{uuid.uuid4()}"
        start = await checkpoints.load(name)
        at_three = await checkpoints.commit(start, 3)
        await checkpoints.commit(at_three, 4, None, DeadLetter(name, uuid.uuid4(), "s", 1, "t", 4, "boom"))
        tables = table_copies([tallies], f"_r{uuid.uuid4().hex[:8]}") if checkpoints.dialect else []
        reset = await checkpoints.reset(name, drop=tables, create=tables)
        assert (reset.position, reset.seq) == (None, 3)
        assert await checkpoints.dead_letters(name) == []
        # Replayed back to the same token, the old runner's checkpoint still cannot commit (ABA).
        again = await checkpoints.commit(reset, 3)
        with pytest.raises(CheckpointConflict):
            await checkpoints.commit(at_three, 4)
        assert (await checkpoints.load(name)) == again
        if tables:
            assert await checkpoints.fetch(f"SELECT count(*) FROM {tables[0].name}") == [(0,)]

    async def test_a_recorded_error_lasts_until_the_checkpoint_moves(self, checkpoints: CheckpointStore) -> None:
        name = f"p-{uuid.uuid4()}"
        at_two = await checkpoints.commit(await checkpoints.load(name), 2)
        await checkpoints.record_error(at_two, "stopped at a poison event")
        loaded = await checkpoints.load(name)
        assert (loaded.position, loaded.seq, loaded.error) == (2, 1, "stopped at a poison event")
        await checkpoints.record_error(at_two, "stopped again")  # a second run, stopped at the same event
        assert (await checkpoints.load(name)).error == "stopped again"
        moved = await checkpoints.commit(loaded, 3)  # the error takes no part in the compare-and-set
        assert moved.error is None and (await checkpoints.load(name)).error is None
        await checkpoints.record_error(at_two, "stale")  # recorded at a checkpoint that has moved on
        assert (await checkpoints.load(name)).error is None
        await checkpoints.record_error(moved, "boom")
        assert (await checkpoints.reset(name)).error is None
        assert (await checkpoints.load(name)).error is None

    async def test_names_are_independent(self, checkpoints: CheckpointStore) -> None:
        a, b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
        await checkpoints.commit(await checkpoints.load(a), 10)
        assert (await checkpoints.load(b)).position is None
        assert (await checkpoints.load(a)).position == 10
