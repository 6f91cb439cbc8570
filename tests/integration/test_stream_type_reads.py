"""Reads check the stream type with snapshots too (issue 14.3): a repository of another type never
builds its aggregate from a stream that has snapshots, whether it shares the snapshot store or not.
(Without snapshots, every store is held to it by the contract suite, `StreamTypeContract`.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from eventsourcing import Repository, StreamTypeMismatch, open_store
from eventsourcing.snapshots import EveryNEvents, SQLSnapshotStore
from eventsourcing.testing.stream_types import Account, Wallet


@pytest.mark.parametrize("events_url", ["memory://", "sqlite"])
async def test_snapshotted_stream_read_as_another_type(tmp_path: Path, events_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}" if events_url == "sqlite" else events_url
    async with open_store(url) as store, SQLSnapshotStore(f"sqlite:///{tmp_path / 'snaps.db'}") as snaps:
        wallets = Repository(Wallet, store, snapshots=snaps, snapshot_policy=EveryNEvents(2))
        wallet = Wallet()
        for amount in range(1, 6):
            wallet.fund(amount)
            await wallets.save(wallet)
            wallet = await wallets.get(wallet.id)
        assert [s.version for s in await snaps.list(stream_id=wallet.id)]  # snapshots exist
        accounts = Repository(Account, store, snapshots=snaps, snapshot_policy=EveryNEvents(2))
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        for load in (
            accounts.get(wallet.id),
            accounts.get(wallet.id, version=4),
            accounts.get(wallet.id, as_of=later),
            accounts.take_snapshot(wallet.id),
        ):
            with pytest.raises(StreamTypeMismatch, match="cannot be read as"):
                await load
        assert all(s.stream_type == Wallet.type_name for s in await snaps.list(stream_id=wallet.id))
        assert (await wallets.get(wallet.id)).balance == 15
