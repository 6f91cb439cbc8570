"""The snapshot store contract, written once and bound to every backend (like `EventStoreContract`)::

class TestMySnapshots(SnapshotStoreContract):
    @pytest.fixture
    async def snapshots(self, tmp_path):
        async with MySnapshotStore(...) as store:
            yield store
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import uuid4

import pytest

from eventsourcing.errors import InvalidTimestamp
from eventsourcing.snapshotting import Snapshot, SnapshotStore

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def snap(stream_id: str, version: int, fingerprint: str = "fp-1", stream_type: str = "contract.Agg") -> Snapshot:
    return Snapshot(
        stream_id, stream_type, version, T0 + dt.timedelta(minutes=version), fingerprint, f'{{"v":{version}}}'.encode()
    )


class SnapshotStoreContract:
    @pytest.fixture
    async def snapshots(self) -> Any:  # pragma: no cover - bindings override it
        raise NotImplementedError("bind the contract: define a `snapshots` fixture in the subclass")

    async def test_latest_is_the_newest_with_the_fingerprint(self, snapshots: SnapshotStore) -> None:
        sid = f"s-{uuid4()}"
        assert await snapshots.latest(sid, fingerprint="fp-1") is None
        for version in (10, 30, 20):
            await snapshots.save(snap(sid, version))
        await snapshots.save(snap(sid, 40, fingerprint="fp-old"))
        latest = await snapshots.latest(sid, fingerprint="fp-1")
        assert latest == snap(sid, 30)
        assert await snapshots.latest(sid, fingerprint="fp-old") == snap(sid, 40, fingerprint="fp-old")
        assert await snapshots.latest(sid, fingerprint="fp-none") is None
        assert await snapshots.latest(f"other-{uuid4()}", fingerprint="fp-1") is None

    async def test_bounded_by_version_and_time(self, snapshots: SnapshotStore) -> None:
        sid = f"s-{uuid4()}"
        for version in (10, 20, 30):
            await snapshots.save(snap(sid, version))  # snapshot v at T0 + v minutes

        async def found_version(**kwargs: Any) -> int | None:
            found = await snapshots.latest(sid, fingerprint="fp-1", **kwargs)
            return None if found is None else found.version

        assert await found_version(max_version=25) == 20
        assert await found_version(max_version=20) == 20
        assert await found_version(max_version=9) is None
        assert await found_version(as_of=T0 + dt.timedelta(minutes=29)) == 20
        assert await found_version(as_of=T0 + dt.timedelta(minutes=30)) == 30
        assert await found_version(as_of=T0) is None
        plus_one = dt.timezone(dt.timedelta(hours=1))
        assert await found_version(as_of=(T0 + dt.timedelta(minutes=10)).astimezone(plus_one)) == 10
        with pytest.raises(InvalidTimestamp):
            await snapshots.latest(sid, fingerprint="fp-1", as_of=dt.datetime(2026, 1, 1))

    async def test_save_is_idempotent_and_round_trips(self, snapshots: SnapshotStore) -> None:
        sid = f"s-{uuid4()}"
        await snapshots.save(snap(sid, 5))
        await snapshots.save(snap(sid, 5))
        assert await snapshots.list(stream_id=sid) == [snap(sid, 5)]
        found = await snapshots.latest(sid, fingerprint="fp-1")
        assert found is not None
        assert found.timestamp.utcoffset() == dt.timedelta(0)

    async def test_list_and_prune_stale(self, snapshots: SnapshotStore) -> None:
        a, b = f"a-{uuid4()}", f"b-{uuid4()}"
        await snapshots.save(snap(a, 1, "fp-old"))
        await snapshots.save(snap(a, 2, "fp-new"))
        await snapshots.save(snap(b, 1, "fp-old", stream_type="contract.Other"))
        assert [s.version for s in await snapshots.list(stream_id=a)] == [1, 2]
        assert len(await snapshots.list(stream_type="contract.Other")) == 1
        assert await snapshots.prune(stream_type="contract.Agg", keep_fingerprint="fp-new") == 1
        assert [s.fingerprint for s in await snapshots.list(stream_id=a)] == ["fp-new"]
        assert len(await snapshots.list(stream_id=b)) == 1  # another type is untouched
