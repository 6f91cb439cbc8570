"""End-to-end example on an embedded SQLite file: model, save, update, time travel, read the log.

Run it with ``scripts/demo`` (or ``python docs/examples/quickstart.py [--store URL]``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from eventsourcing import Aggregate, ConcurrencyError, DomainEvent, Repository, on, open_store


class ShoppingCart(Aggregate):
    class Opened(DomainEvent):
        customer_id: str

    class ItemAdded(DomainEvent):
        sku: str
        quantity: int
        unit_price: Decimal

    class CheckedOut(DomainEvent):
        pass

    customer_id: str = ""
    lines: dict[str, int] = {}
    total: Decimal = Decimal("0")
    checked_out: bool = False

    @classmethod
    def open(cls, customer_id: str) -> ShoppingCart:
        cart = cls()
        cart.emit(cls.Opened(customer_id=customer_id))
        return cart

    def add_item(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        if self.checked_out:
            raise ValueError("the cart is checked out")
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.emit(self.ItemAdded(sku=sku, quantity=quantity, unit_price=unit_price))

    def check_out(self) -> None:
        if not self.lines:
            raise ValueError("an empty cart cannot be checked out")
        self.emit(self.CheckedOut())

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.customer_id = event.customer_id

    @on(ItemAdded)
    def _item_added(self, event: ItemAdded) -> None:
        self.lines[event.sku] = self.lines.get(event.sku, 0) + event.quantity
        self.total += event.quantity * event.unit_price

    @on(CheckedOut)
    def _checked_out(self, event: CheckedOut) -> None:
        self.checked_out = True


async def main(store_url: str) -> None:
    async with open_store(store_url) as store:
        carts = Repository(ShoppingCart, store)

        cart = ShoppingCart.open(customer_id="alice")
        cart.add_item("coffee-beans", 2, Decimal("8.50"))
        await carts.save(cart)
        print(f"opened cart {cart.id} with {cart.lines} (version {cart.version})")

        await asyncio.sleep(0.01)
        before_tea = dt.datetime.now(dt.UTC)
        await asyncio.sleep(0.01)
        await carts.update(cart.id, lambda c: c.add_item("green-tea", 1, Decimal("4.25")))
        # Two copies of the same cart decide concurrently: the second save is refused, nothing is lost.
        mine, theirs = await carts.get(cart.id), await carts.get(cart.id)
        mine.check_out()
        await carts.save(mine)
        theirs.add_item("late-item", 1, Decimal("1.00"))
        try:
            await carts.save(theirs)
        except ConcurrencyError as err:
            print(f"concurrent write refused: {err}")

        latest = await carts.get(cart.id)
        print(f"latest:          {latest.lines} total={latest.total} checked_out={latest.checked_out}")
        past = await carts.get(cart.id, as_of=before_tea)
        print(f"as of {before_tea:%H:%M:%S.%f}: {past.lines} total={past.total} (read-only: {past.read_only})")
        first = await carts.get(cart.id, version=1)
        print(f"at version 1:    {first.lines} customer={first.customer_id}")

        print("the global log:")
        for event in await store.read_all():
            print(f"  #{event.position} {event.event_type:<24} v{event.version} {event.event!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    default = f"sqlite:///{Path(tempfile.mkdtemp()) / 'quickstart.db'}"
    parser.add_argument("--store", default=default, help="store URL (default: a new SQLite file)")
    asyncio.run(main(parser.parse_args().store))
