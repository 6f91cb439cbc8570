"""`ShoppingCart`: a customer's cart, from opening to check-out (or abandonment).

Command methods check the rules against the current state and emit events; `@on` handlers only
assign. Everything a rule needs from elsewhere (a product's name and price, a discount's percentage)
is passed in by the command handler, so the aggregate stays pure and testable without a store.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import ClassVar

from eventsourcing import Aggregate, on
from eventsourcing.sample_shopping_cart.domain.cart_events import (
    CartAbandoned,
    CartCheckedOut,
    CartLine,
    CartOpened,
    DiscountApplied,
    ItemAdded,
    ItemQuantityChanged,
    ItemRemoved,
)
from eventsourcing.sample_shopping_cart.domain.discounts import DiscountCode
from eventsourcing.sample_shopping_cart.domain.errors import (
    CartClosed,
    CartFull,
    DiscountAlreadyApplied,
    EmptyCart,
    InvalidQuantity,
    ItemNotInCart,
)
from eventsourcing.sample_shopping_cart.domain.money import percent_of


class CartStatus(enum.StrEnum):
    OPEN = "open"
    CHECKED_OUT = "checked_out"
    ABANDONED = "abandoned"


class ShoppingCart(Aggregate):
    type_name = "cart"

    MAX_QUANTITY: ClassVar[int] = 99
    MAX_LINES: ClassVar[int] = 50

    customer_id: str = ""
    status: CartStatus = CartStatus.OPEN
    lines: dict[str, CartLine] = {}
    discount_code: str | None = None
    discount_percent: int = 0

    # -- reading the state ------------------------------------------------------------------------

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines.values()), Decimal("0.00"))

    @property
    def discount(self) -> Decimal:
        return percent_of(self.subtotal, self.discount_percent)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines.values())

    # -- commands ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, cart_id: str, customer_id: str) -> ShoppingCart:
        cart = cls(cart_id)
        cart.emit(CartOpened(customer_id=customer_id))
        return cart

    def add_item(self, sku: str, name: str, quantity: int, unit_price: Decimal) -> None:
        self._require_open()
        self._require_quantity(quantity)
        if sku in self.lines:
            self._require_quantity(self.lines[sku].quantity + quantity)  # what the line would hold
        elif len(self.lines) >= self.MAX_LINES:
            raise CartFull(f"cart {self.id!r} has {len(self.lines)} lines, the most a cart may hold")
        self.emit(ItemAdded(sku=sku, name=name, quantity=quantity, unit_price=unit_price))

    def remove_item(self, sku: str) -> None:
        self._require_open()
        self._require_line(sku)
        self.emit(ItemRemoved(sku=sku))

    def change_quantity(self, sku: str, quantity: int) -> None:
        self._require_open()
        self._require_line(sku)
        self._require_quantity(quantity)
        if quantity != self.lines[sku].quantity:  # the same quantity again changes nothing: no event
            self.emit(ItemQuantityChanged(sku=sku, quantity=quantity))

    def apply_discount(self, discount: DiscountCode) -> None:
        self._require_open()
        if self.discount_code is not None:
            raise DiscountAlreadyApplied(f"cart {self.id!r} already has discount {self.discount_code}: one per cart")
        self.emit(DiscountApplied(code=discount.code, percent=discount.percent))

    def check_out(self) -> None:
        self._require_open()
        if not self.lines:
            raise EmptyCart(f"cart {self.id!r} is empty: add an item before checking out")
        self.emit(
            CartCheckedOut(
                lines=tuple(self.lines.values()), subtotal=self.subtotal, discount=self.discount, total=self.total
            )
        )

    def abandon(self, reason: str) -> None:
        self._require_open()
        self.emit(CartAbandoned(reason=reason, lines=tuple(self.lines.values()), total=self.total))

    def _require_open(self) -> None:
        if self.status is not CartStatus.OPEN:
            raise CartClosed(f"cart {self.id!r} is {self.status.value.replace('_', ' ')}: it cannot change any more")

    def _require_line(self, sku: str) -> None:
        if sku not in self.lines:
            raise ItemNotInCart(f"cart {self.id!r} has no line for {sku!r}")

    def _require_quantity(self, quantity: int) -> None:
        if not 1 <= quantity <= self.MAX_QUANTITY:
            raise InvalidQuantity(f"a line's quantity must be from 1 to {self.MAX_QUANTITY}, not {quantity}")

    # -- evolving the state -----------------------------------------------------------------------

    @on(CartOpened)
    def _opened(self, event: CartOpened) -> None:
        self.customer_id = event.customer_id

    @on(ItemAdded)
    def _item_added(self, event: ItemAdded) -> None:
        before = self.lines.get(event.sku)
        quantity = event.quantity + (before.quantity if before else 0)
        self.lines[event.sku] = CartLine(sku=event.sku, name=event.name, quantity=quantity, unit_price=event.unit_price)

    @on(ItemRemoved)
    def _item_removed(self, event: ItemRemoved) -> None:
        del self.lines[event.sku]

    @on(ItemQuantityChanged)
    def _quantity_changed(self, event: ItemQuantityChanged) -> None:
        self.lines[event.sku] = self.lines[event.sku].model_copy(update={"quantity": event.quantity})

    @on(DiscountApplied)
    def _discount_applied(self, event: DiscountApplied) -> None:
        self.discount_code, self.discount_percent = event.code, event.percent

    @on(CartCheckedOut)
    def _checked_out(self, event: CartCheckedOut) -> None:
        self.status = CartStatus.CHECKED_OUT

    @on(CartAbandoned)
    def _abandoned(self, event: CartAbandoned) -> None:
        self.status = CartStatus.ABANDONED
