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

from eventsourcing.errors import InvalidArgument, InvalidTimestamp
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

    async def test_keep_newest_n_per_stream(self, snapshots: SnapshotStore) -> None:
        a, b, c = f"a-{uuid4()}", f"b-{uuid4()}", f"c-{uuid4()}"
        for version in (3, 1, 5, 2, 4):
            await snapshots.save(snap(a, version))
        await snapshots.save(snap(a, 5, "fp-0"))  # one version, two fingerprints: two snapshots
        for version in (1, 2):
            await snapshots.save(snap(b, version))
        await snapshots.save(snap(c, 7, stream_type="contract.Other"))
        await snapshots.save(snap(c, 8, stream_type="contract.Other"))

        async def kept(sid: str) -> list[tuple[int, str]]:
            return [(s.version, s.fingerprint) for s in await snapshots.list(stream_id=sid)]

        assert await snapshots.keep_newest(3, stream_id=a) == 3
        assert sorted(await kept(a)) == [(4, "fp-1"), (5, "fp-0"), (5, "fp-1")]
        assert len(await kept(b)) == 2  # another stream is untouched when one is named
        assert await snapshots.keep_newest(3, stream_id=a) == 0  # idempotent
        assert await snapshots.keep_newest(1, stream_type="contract.Agg", stream_id=a) == 2  # the fp-0 one too
        assert await snapshots.keep_newest(1, stream_type="contract.Agg") >= 1  # b: 1 (a shared database: more)
        assert await kept(a) == [(5, "fp-1")] and await kept(b) == [(2, "fp-1")]
        assert len(await kept(c)) == 2  # another type is untouched
        latest = await snapshots.latest(a, fingerprint="fp-1")
        assert latest is not None and latest.version == 5  # loads still find the newest

    async def test_keep_newest_over_every_stream(self, snapshots: SnapshotStore) -> None:
        streams = [f"s{i}-{uuid4()}" for i in range(3)]
        for i, sid in enumerate(streams):
            for version in range(1, 3 + i):
                await snapshots.save(snap(sid, version))  # 2, 3 and 4 snapshots
        before = {sid: [s.version for s in await snapshots.list(stream_id=sid)] for sid in streams}
        removed = await snapshots.keep_newest(2)
        assert removed >= 3  # 0 + 1 + 2; other tests' streams in a shared database may lose some too
        for sid in streams:
            assert [s.version for s in await snapshots.list(stream_id=sid)] == before[sid][-2:]
        assert await snapshots.keep_newest(2) == 0

    @pytest.mark.parametrize("n", [0, -1, 1.5, True, "2"])
    async def test_keep_newest_refuses_keeping_none(self, snapshots: SnapshotStore, n: Any) -> None:
        sid = f"s-{uuid4()}"
        await snapshots.save(snap(sid, 1))
        with pytest.raises(InvalidArgument, match="n >= 1"):
            await snapshots.keep_newest(n, stream_id=sid)
        assert len(await snapshots.list(stream_id=sid)) == 1
