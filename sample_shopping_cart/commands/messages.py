"""The commands, as validated messages. Their ``command_type`` names are pinned (clients use them).

Shape checks (types, non-empty strings) live here, so a malformed request is refused before any
handler runs (`InvalidCommand`); rules that depend on state (a closed cart, a discontinued product)
live in the aggregates.

Commands that create an aggregate take its id from the client (``cart_id``, ``sku``), so a retried
creation can never create a second aggregate. Commands on an existing cart may name the version the
client last saw (``expected_version``): if the cart has changed since, the command is refused with
`ConcurrencyError` instead of being applied to a state the client never saw.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from eventsourcing import Command
from eventsourcing.sample_shopping_cart.commands.fields import MAX_VERSION, Id, Price, Text
from eventsourcing.sample_shopping_cart.domain import Product, ShoppingCart

# Every command names the one aggregate it changes (`aggregate_id`) and its type (`aggregate_type`):
# one aggregate per command.


class ProductCommand(Command):
    """A command on one product of the catalog (its SKU is the product's id)."""

    aggregate_type: ClassVar[str] = Product.type_name
    sku: Id

    @property
    def aggregate_id(self) -> str:
        return self.sku


class ListProduct(ProductCommand):
    command_type = "product.list"
    name: Text
    price: Price


class ChangePrice(ProductCommand):
    command_type = "product.change_price"
    price: Price


class DiscontinueProduct(ProductCommand):
    command_type = "product.discontinue"


class OpenCart(Command):
    command_type = "cart.open"
    aggregate_type: ClassVar[str] = ShoppingCart.type_name
    cart_id: Id
    customer_id: Text

    @property
    def aggregate_id(self) -> str:
        return self.cart_id


class CartCommand(Command):
    """A command on an existing cart."""

    aggregate_type: ClassVar[str] = ShoppingCart.type_name
    cart_id: Id
    expected_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)

    @property
    def aggregate_id(self) -> str:
        return self.cart_id


class AddItem(CartCommand):
    command_type = "cart.add_item"
    sku: Id
    quantity: int = 1


class RemoveItem(CartCommand):
    command_type = "cart.remove_item"
    sku: Id


class ChangeQuantity(CartCommand):
    command_type = "cart.change_quantity"
    sku: Id
    quantity: int


class ApplyDiscount(CartCommand):
    command_type = "cart.apply_discount"
    code: Id


class CheckOut(CartCommand):
    command_type = "cart.check_out"


class AbandonCart(CartCommand):
    command_type = "cart.abandon"
    reason: Text = "abandoned by the customer"
