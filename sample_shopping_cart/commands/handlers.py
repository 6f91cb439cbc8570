"""The command handlers: load, decide (the aggregate's rules), save — one aggregate per command.

Handlers return nothing: a duplicate delivery does not return the first run's value, and every
caller can read the state it wants afterwards (the cart's id is always in the command).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing import AggregateNotFound, CommandBus, ConcurrencyError, EventStore, Repository, StreamTypeMismatch
from eventsourcing.sample_shopping_cart.commands.messages import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    CartCommand,
    ChangePrice,
    ChangeQuantity,
    CheckOut,
    DiscontinueProduct,
    ListProduct,
    OpenCart,
    RemoveItem,
)
from eventsourcing.sample_shopping_cart.domain import (
    CartAlreadyExists,
    Product,
    ProductAlreadyListed,
    ShoppingCart,
    UnknownProduct,
    find_discount,
)


def build_bus(store: EventStore) -> CommandBus:
    """The shop's command bus on ``store``: every command type routed to its handler."""
    bus = CommandBus(store)
    carts = Repository(ShoppingCart, store)
    products = Repository(Product, store)

    async def change_cart(command: CartCommand, decide: Callable[[ShoppingCart], Any]) -> None:
        if command.expected_version is None:
            # Last writer wins on the decision, never on the data: `update` re-decides on a fresh
            # state when another writer got there first.
            await carts.update(command.cart_id, decide)
            return
        cart = await carts.get(command.cart_id)
        if cart.version != command.expected_version:
            raise ConcurrencyError(
                cart.id, command.expected_version, cart.version, "the cart changed since you read it: reload it"
            )
        decide(cart)
        await carts.save(cart)  # ConcurrencyError if another writer appended since the get

    async def product(sku: str) -> Product:
        info = await store.stream_info(sku)
        if info is None or info.stream_type != Product.type_name:  # a cart's id is no SKU
            raise UnknownProduct(f"no product is listed under SKU {sku!r}")
        try:
            return await products.get(sku)
        except (AggregateNotFound, StreamTypeMismatch):
            raise UnknownProduct(f"no product is listed under SKU {sku!r}") from None

    async def change_product(sku: str, decide: Callable[[Product], Any]) -> None:
        try:
            await products.update(sku, decide)
        except AggregateNotFound:
            raise UnknownProduct(f"no product is listed under SKU {sku!r}") from None

    @bus.handler(ListProduct)
    async def list_product(command: ListProduct) -> None:
        try:
            await products.save(Product.list(command.sku, command.name, command.price))
        except ConcurrencyError:
            raise ProductAlreadyListed(f"a product with SKU {command.sku!r} is listed already") from None

    @bus.handler(ChangePrice)
    async def change_price(command: ChangePrice) -> None:
        await change_product(command.sku, lambda p: p.change_price(command.price))

    @bus.handler(DiscontinueProduct)
    async def discontinue(command: DiscontinueProduct) -> None:
        await change_product(command.sku, lambda p: p.discontinue())

    @bus.handler(OpenCart)
    async def open_cart(command: OpenCart) -> None:
        try:
            await carts.save(ShoppingCart.open(command.cart_id, command.customer_id))
        except ConcurrencyError:
            raise CartAlreadyExists(f"a cart with id {command.cart_id!r} exists already") from None

    @bus.handler(AddItem)
    async def add_item(command: AddItem) -> None:
        name, unit_price = (await product(command.sku)).offer()
        await change_cart(command, lambda cart: cart.add_item(command.sku, name, command.quantity, unit_price))

    @bus.handler(RemoveItem)
    async def remove_item(command: RemoveItem) -> None:
        await change_cart(command, lambda cart: cart.remove_item(command.sku))

    @bus.handler(ChangeQuantity)
    async def change_quantity(command: ChangeQuantity) -> None:
        await change_cart(command, lambda cart: cart.change_quantity(command.sku, command.quantity))

    @bus.handler(ApplyDiscount)
    async def apply_discount(command: ApplyDiscount) -> None:
        discount = find_discount(command.code)
        await change_cart(command, lambda cart: cart.apply_discount(discount))

    @bus.handler(CheckOut)
    async def check_out(command: CheckOut) -> None:
        await change_cart(command, lambda cart: cart.check_out())

    @bus.handler(AbandonCart)
    async def abandon(command: AbandonCart) -> None:
        await change_cart(command, lambda cart: cart.abandon(command.reason))

    return bus
