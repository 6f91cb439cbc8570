"""Contract: a stream is read only as the type it was written as.

`Repository(Account).get(id)` of a stream written by `Wallet` raises `StreamTypeMismatch` (with
``operation="read"``) on every read path (latest, ``version=``, ``as_of=``, ``update``), never an
`Account` folded from a `Wallet`'s events, and not `AggregateNotFound` either when the stream
exists but nothing of it is in range.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eventsourcing.aggregate import Aggregate, on
from eventsourcing.errors import AggregateNotFound, InvalidArgument, InvalidTimestamp, StreamTypeMismatch
from eventsourcing.events import DomainEvent
from eventsourcing.repository import Repository
from eventsourcing.stores.base import EventStore


class Wallet(Aggregate):
    type_name = "contract.Wallet"

    class Funded(DomainEvent):
        event_type = "contract.Wallet.Funded"
        amount: int

    balance: int = 0

    def fund(self, amount: int) -> None:
        self.emit(self.Funded(amount=amount))

    @on(Funded)
    def _funded(self, event: Funded) -> None:
        self.balance += event.amount


class Account(Aggregate):
    type_name = "contract.Account"

    class Opened(DomainEvent):
        event_type = "contract.Account.Opened"
        owner: str

    owner: str = ""

    def open(self, owner: str) -> None:
        self.emit(self.Opened(owner=owner))

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.owner = event.owner


class StreamTypeContract:
    """Mixed into `EventStoreContract`."""

    async def test_reads_refuse_a_stream_of_another_type(self, store: EventStore) -> None:
        wallet = Wallet()
        for amount in (5, 7, 9):
            wallet.fund(amount)
        await Repository(Wallet, store).save(wallet)
        accounts = Repository(Account, store)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        before = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        loads = [
            accounts.get(wallet.id),
            accounts.get(wallet.id, version=2),
            accounts.get(wallet.id, version=3),
            accounts.get(wallet.id, as_of=later),
            accounts.get(wallet.id, as_of=before),  # nothing in range: still not "not found"
            accounts.update(wallet.id, lambda account: account.open("mallory")),
        ]
        for load in loads:
            with pytest.raises(StreamTypeMismatch) as raised:
                await load
            assert raised.value.operation == "read"
            assert (raised.value.given, raised.value.stored) == ("contract.Account", "contract.Wallet")
        assert [e.version for e in await store.read(wallet.id)] == [1, 2, 3]  # nothing was appended
        assert (await Repository(Wallet, store).get(wallet.id)).balance == 21

    async def test_repository_arguments_are_refused_by_name(self, store: EventStore) -> None:
        wallet = Wallet()
        wallet.fund(1)
        wallets: Any = Repository(Wallet, store)  # called with arguments of the wrong types on purpose
        await wallets.save(wallet)
        for version in (0, 1.5, "1", True):
            with pytest.raises(InvalidArgument, match="version"):
                await wallets.get(wallet.id, version=version)
        edge = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))
        for as_of in (edge, "2026-01-01", dt.datetime(2026, 1, 1)):
            with pytest.raises(InvalidTimestamp, match="as_of"):
                await wallets.get(wallet.id, as_of=as_of)
        with pytest.raises(AggregateNotFound, match="does not exist"):
            await wallets.get(wallet.id, version=2**70)
        for stream_id in ("", "a\x00"):
            with pytest.raises(InvalidArgument, match="stream_id"):
                await wallets.get(stream_id)

    async def test_an_empty_append_under_another_type_is_refused(self, store: EventStore) -> None:
        """An empty batch stores nothing, but it still names a type: the stream's, or it is refused."""
        wallet = Wallet()
        wallet.fund(5)
        await Repository(Wallet, store).save(wallet)
        with pytest.raises(StreamTypeMismatch):
            await store.append(wallet.id, [], 1, stream_type=Account.type_name)
        assert (await store.append(wallet.id, [], 1, stream_type=Wallet.type_name)).version == 1
