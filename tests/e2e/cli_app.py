"""The application the CLI tests pass with ``--app``: a cart whose state has a dict, a list and a Decimal."""

from __future__ import annotations

from decimal import Decimal

from eventsourcing import Aggregate, DomainEvent, on


class Cart(Aggregate):
    type_name = "e2e.Cart"

    class Opened(DomainEvent):
        event_type = "e2e.cart.opened"
        customer_id: str

    class ItemAdded(DomainEvent):
        event_type = "e2e.cart.item_added"
        sku: str
        quantity: int
        unit_price: Decimal

    class CheckedOut(DomainEvent):
        event_type = "e2e.cart.checked_out"

    customer_id: str = ""
    lines: dict[str, int] = {}
    total: Decimal = Decimal("0")
    checked_out: bool = False

    @classmethod
    def open(cls, customer_id: str, cart_id: str | None = None) -> Cart:
        cart = cls(cart_id)
        cart.emit(cls.Opened(customer_id=customer_id))
        return cart

    def add_item(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        self.emit(self.ItemAdded(sku=sku, quantity=quantity, unit_price=unit_price))

    def check_out(self) -> None:
        self.emit(self.CheckedOut())

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.customer_id = event.customer_id

    @on(ItemAdded)
    def _added(self, event: ItemAdded) -> None:
        self.lines[event.sku] = self.lines.get(event.sku, 0) + event.quantity
        self.total += event.unit_price * event.quantity

    @on(CheckedOut)
    def _checked_out(self, event: CheckedOut) -> None:
        self.checked_out = True
