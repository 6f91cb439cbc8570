"""The benchmark's domain: the peer's `Account` workload shape, written with our API.

``Opened(owner)`` and ``Deposited(amount, note)`` with a 100-character note, as in
../shared/bench/peer/peer_model.py, so every measure compares the same events.
"""

from __future__ import annotations

from eventsourcing import Aggregate, DomainEvent, on

NOTE = "n" * 100
"""The peer's note: ~200-byte stored events in the peer, ~115-byte JSON payloads here."""


class Account(Aggregate):
    type_name = "bench.account"

    class Opened(DomainEvent):
        event_type = "bench.account.opened"
        owner: str

    class Deposited(DomainEvent):
        event_type = "bench.account.deposited"
        amount: int
        note: str

    owner: str = ""
    balance: int = 0
    count: int = 0

    @classmethod
    def open(cls, owner: str) -> Account:
        account = cls()
        account.emit(cls.Opened(owner=owner))
        return account

    def deposit(self, amount: int, note: str = NOTE) -> None:
        self.emit(self.Deposited(amount=amount, note=note))

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.owner = event.owner

    @on(Deposited)
    def _deposited(self, event: Deposited) -> None:
        self.balance += event.amount
        self.count += 1
