"""What happens to a cart, as stored facts. The names (``cart.*``) are pinned: they are the wire format.

Events carry what a reader of the log needs without asking anyone else: an added item has the
product's name and the unit price at that moment (prices change later; a cart keeps the price it
was offered), and the closing events (checked out, abandoned) carry the final lines and totals, so
downstream views (popular products, abandoned carts) need not rebuild every cart themselves.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from eventsourcing import DomainEvent


class CartLine(BaseModel):
    """One line of a cart: a product, how many, at what unit price."""

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price


class CartOpened(DomainEvent):
    event_type = "cart.opened"
    customer_id: str


class ItemAdded(DomainEvent):
    """``quantity`` more of ``sku``; the line is (re)priced at ``unit_price``, the price when added."""

    event_type = "cart.item_added"
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


class ItemRemoved(DomainEvent):
    event_type = "cart.item_removed"
    sku: str


class ItemQuantityChanged(DomainEvent):
    event_type = "cart.item_quantity_changed"
    sku: str
    quantity: int


class DiscountApplied(DomainEvent):
    event_type = "cart.discount_applied"
    code: str
    percent: int


class CartCheckedOut(DomainEvent):
    event_type = "cart.checked_out"
    lines: tuple[CartLine, ...]
    subtotal: Decimal
    discount: Decimal
    total: Decimal


class CartAbandoned(DomainEvent):
    event_type = "cart.abandoned"
    reason: str
    lines: tuple[CartLine, ...]
    total: Decimal
