"""Unit tier: the command handlers, given events already stored, when a command, then the events it stored."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from eventsourcing import AggregateNotFound, CommandError, ConcurrencyError, InvalidCommand
from eventsourcing.sample_shopping_cart.commands import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    ChangePrice,
    ChangeQuantity,
    CheckOut,
    DiscontinueProduct,
    ListProduct,
    OpenCart,
    RemoveItem,
    build_bus,
)
from eventsourcing.sample_shopping_cart.domain import (
    CartAlreadyExists,
    CartCheckedOut,
    CartClosed,
    CartLine,
    CartOpened,
    DiscountApplied,
    ItemAdded,
    ItemQuantityChanged,
    ItemRemoved,
    Product,
    ProductAlreadyListed,
    ProductDiscontinued,
    ProductListed,
    ProductPriceChanged,
    ProductUnavailable,
    ShoppingCart,
    UnknownDiscountCode,
    UnknownProduct,
)
from eventsourcing.testing import CommandScenario

MUG = ProductListed(name="Mug", price=Decimal("9.00"))
OPENED = CartOpened(customer_id="alice")
ADDED = ItemAdded(sku="mug", name="Mug", quantity=2, unit_price=Decimal("9.00"))


def shop() -> CommandScenario:
    return CommandScenario(build_bus).given(Product, "mug", MUG)


async def test_list_a_product() -> None:
    await CommandScenario(build_bus).when(ListProduct(sku="mug", name="Mug", price=Decimal("9"))).then(MUG)


async def test_a_sku_is_listed_once() -> None:
    await shop().when(ListProduct(sku="mug", name="Mug", price=Decimal("9"))).then_raises(ProductAlreadyListed)


async def test_change_a_price_and_discontinue() -> None:
    await (
        shop()
        .when(ChangePrice(sku="mug", price=Decimal("11")))
        .then(ProductPriceChanged(old_price=Decimal("9.00"), new_price=Decimal("11.00")))
    )
    await shop().when(DiscontinueProduct(sku="mug")).then(ProductDiscontinued())
    await shop().when(ChangePrice(sku="cup", price=Decimal("1"))).then_raises(UnknownProduct, match="'cup'")


async def test_open_a_cart_with_the_clients_id() -> None:
    await CommandScenario(build_bus).when(OpenCart(cart_id="cart-1", customer_id="alice")).then(OPENED)


async def test_a_cart_id_is_opened_once() -> None:
    await (
        shop()
        .given(ShoppingCart, "cart-1", OPENED)
        .when(OpenCart(cart_id="cart-1", customer_id="bob"))
        .then_raises(CartAlreadyExists)
    )


async def test_add_an_item_at_the_products_current_price() -> None:
    await (
        shop()
        .given(Product, "mug", ProductPriceChanged(old_price=Decimal("9.00"), new_price=Decimal("7.00")))
        .given(ShoppingCart, "cart-1", OPENED)
        .when(AddItem(cart_id="cart-1", sku="mug", quantity=2))
        .then(ItemAdded(sku="mug", name="Mug", quantity=2, unit_price=Decimal("7.00")))
    )


async def test_only_listed_and_active_products_go_in_a_cart() -> None:
    given = shop().given(ShoppingCart, "cart-1", OPENED)
    await given.when(AddItem(cart_id="cart-1", sku="teapot")).then_raises(UnknownProduct, match="teapot")
    discontinued = shop().given(Product, "mug", ProductDiscontinued()).given(ShoppingCart, "cart-1", OPENED)
    await discontinued.when(AddItem(cart_id="cart-1", sku="mug")).then_raises(ProductUnavailable)


async def test_commands_on_a_cart_that_does_not_exist() -> None:
    await shop().when(AddItem(cart_id="nope", sku="mug")).then_raises(AggregateNotFound, match="'nope'")


async def test_remove_change_discount_check_out_abandon() -> None:
    cart = (ShoppingCart, "cart-1", OPENED, ADDED)
    await shop().given(*cart).when(RemoveItem(cart_id="cart-1", sku="mug")).then(ItemRemoved(sku="mug"))
    await (
        shop()
        .given(*cart)
        .when(ChangeQuantity(cart_id="cart-1", sku="mug", quantity=3))
        .then(ItemQuantityChanged(sku="mug", quantity=3))
    )
    await (
        shop()
        .given(*cart)
        .when(ApplyDiscount(cart_id="cart-1", code="spring25"))
        .then(DiscountApplied(code="SPRING25", percent=25))
    )
    await shop().given(*cart).when(ApplyDiscount(cart_id="cart-1", code="FREE")).then_raises(UnknownDiscountCode)
    line = CartLine(sku="mug", name="Mug", quantity=2, unit_price=Decimal("9.00"))
    await (
        shop()
        .given(*cart)
        .when(CheckOut(cart_id="cart-1"))
        .then(
            CartCheckedOut(lines=(line,), subtotal=Decimal("18.00"), discount=Decimal("0.00"), total=Decimal("18.00"))
        )
    )
    checked_out = (
        shop()
        .given(*cart)
        .given(
            ShoppingCart,
            "cart-1",
            CartCheckedOut(lines=(line,), subtotal=Decimal(18), discount=Decimal(0), total=Decimal(18)),
        )
    )
    await checked_out.when(AbandonCart(cart_id="cart-1")).then_raises(CartClosed)


async def test_expected_version_refuses_a_stale_decision() -> None:
    given = shop().given(ShoppingCart, "cart-1", OPENED, ADDED)  # the cart is at version 2
    await given.when(CheckOut(cart_id="cart-1", expected_version=1)).then_raises(ConcurrencyError, match="changed")
    await (
        shop()
        .given(ShoppingCart, "cart-1", OPENED, ADDED)
        .when(RemoveItem(cart_id="cart-1", sku="mug", expected_version=2))
        .then(ItemRemoved(sku="mug"))
    )


async def test_a_retried_command_changes_nothing_twice() -> None:
    scenario = shop().given(ShoppingCart, "cart-1", OPENED)
    add = AddItem(cart_id="cart-1", sku="mug", quantity=2)
    await scenario.when(add).then(ADDED)
    assert (await scenario.bus.dispatch(add)).duplicate
    assert len(await scenario.store.read("cart-1")) == 2
    with pytest.raises(CommandError, match="different"):  # the same id for another request is refused
        await scenario.bus.dispatch(AddItem(cart_id="cart-1", sku="mug", quantity=5, command_id=add.command_id))


async def test_malformed_payloads_are_refused_before_any_handler_runs() -> None:
    bus = CommandScenario(build_bus).bus
    with pytest.raises(InvalidCommand) as caught:
        bus.parse("cart.add_item", {"cart_id": " ", "sku": "mug", "quantity": "two", "command_id": str(uuid.uuid4())})
    assert [e["loc"] for e in caught.value.errors] == [("cart_id",), ("quantity",)]
