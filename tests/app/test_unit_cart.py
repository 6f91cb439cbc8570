"""Unit tier: the cart's rules as given / when / then, no store."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eventsourcing.sample_shopping_cart.domain import (
    CartAbandoned,
    CartCheckedOut,
    CartClosed,
    CartLine,
    CartOpened,
    CartStatus,
    DiscountAlreadyApplied,
    DiscountApplied,
    EmptyCart,
    InvalidQuantity,
    ItemAdded,
    ItemNotInCart,
    ItemQuantityChanged,
    ItemRemoved,
    ShoppingCart,
    find_discount,
)
from eventsourcing.testing import AggregateScenario

OPENED = CartOpened(customer_id="alice")
TEA = ItemAdded(sku="tea", name="Green tea", quantity=2, unit_price=Decimal("6.90"))
MUG = ItemAdded(sku="mug", name="Mug", quantity=1, unit_price=Decimal("9.00"))
TEA_LINE = CartLine(sku="tea", name="Green tea", quantity=2, unit_price=Decimal("6.90"))
MUG_LINE = CartLine(sku="mug", name="Mug", quantity=1, unit_price=Decimal("9.00"))
CHECKED_OUT = CartCheckedOut(
    lines=(TEA_LINE,), subtotal=Decimal("13.80"), discount=Decimal("0.00"), total=Decimal("13.80")
)


def scenario(*given: object) -> AggregateScenario[ShoppingCart]:
    return AggregateScenario(ShoppingCart, "cart-1").given(*given)


async def test_open() -> None:
    cart = await AggregateScenario(ShoppingCart).when(lambda _: ShoppingCart.open("cart-1", "alice")).then(OPENED)
    assert (cart.id, cart.customer_id, cart.status, cart.lines) == ("cart-1", "alice", CartStatus.OPEN, {})


async def test_add_items_and_totals() -> None:
    cart = await scenario(OPENED, TEA).when(lambda c: c.add_item("mug", "Mug", 1, Decimal("9.00"))).then(MUG)
    assert cart.lines == {"tea": TEA_LINE, "mug": MUG_LINE}
    assert (cart.item_count, cart.subtotal, cart.total) == (3, Decimal("22.80"), Decimal("22.80"))


async def test_adding_more_of_a_line_adds_up_and_reprices_it() -> None:
    more = ItemAdded(sku="tea", name="Green tea", quantity=1, unit_price=Decimal("7.50"))
    cart = await scenario(OPENED, TEA).when(lambda c: c.add_item("tea", "Green tea", 1, Decimal("7.50"))).then(more)
    assert cart.lines["tea"].quantity == 3 and cart.lines["tea"].unit_price == Decimal("7.50")


@pytest.mark.parametrize("quantity", [0, -1, 100])
async def test_quantities_are_from_1_to_99(quantity: int) -> None:
    await (
        scenario(OPENED)
        .when(lambda c: c.add_item("tea", "Tea", quantity, Decimal("1.00")))
        .then_raises(InvalidQuantity, match="from 1 to 99")
    )


async def test_a_line_cannot_grow_beyond_99() -> None:
    await (
        scenario(OPENED, TEA).when(lambda c: c.add_item("tea", "Tea", 98, Decimal("1.00"))).then_raises(InvalidQuantity)
    )


async def test_remove_item() -> None:
    cart = await scenario(OPENED, TEA, MUG).when(lambda c: c.remove_item("tea")).then(ItemRemoved(sku="tea"))
    assert list(cart.lines) == ["mug"]


async def test_remove_or_change_a_line_the_cart_does_not_have() -> None:
    await scenario(OPENED).when(lambda c: c.remove_item("tea")).then_raises(ItemNotInCart, match="'tea'")
    await scenario(OPENED).when(lambda c: c.change_quantity("tea", 2)).then_raises(ItemNotInCart)


async def test_change_quantity() -> None:
    cart = await (
        scenario(OPENED, TEA)
        .when(lambda c: c.change_quantity("tea", 5))
        .then(ItemQuantityChanged(sku="tea", quantity=5))
    )
    assert cart.subtotal == Decimal("34.50")
    await scenario(OPENED, TEA).when(lambda c: c.change_quantity("tea", 0)).then_raises(InvalidQuantity)
    await scenario(OPENED, TEA).when(lambda c: c.change_quantity("tea", 2)).then()  # unchanged: nothing to record


async def test_one_discount_per_cart() -> None:
    welcome = DiscountApplied(code="WELCOME10", percent=10)
    cart = await scenario(OPENED, TEA).when(lambda c: c.apply_discount(find_discount("welcome10"))).then(welcome)
    assert (cart.discount, cart.total) == (Decimal("1.38"), Decimal("12.42"))
    await (
        scenario(OPENED, welcome)
        .when(lambda c: c.apply_discount(find_discount("SPRING25")))
        .then_raises(DiscountAlreadyApplied, match="WELCOME10")
    )


async def test_discounts_round_half_up_to_the_cent() -> None:
    penny = ItemAdded(sku="x", name="X", quantity=1, unit_price=Decimal("0.05"))
    cart = await scenario(OPENED, penny, DiscountApplied(code="WELCOME10", percent=10)).when(lambda c: None).then()
    assert (cart.discount, cart.total) == (Decimal("0.01"), Decimal("0.04"))


async def test_check_out_records_lines_and_totals() -> None:
    cart = await scenario(OPENED, TEA).when(lambda c: c.check_out()).then(CHECKED_OUT)
    assert cart.status is CartStatus.CHECKED_OUT


async def test_an_empty_cart_cannot_be_checked_out() -> None:
    await scenario(OPENED).when(lambda c: c.check_out()).then_raises(EmptyCart)


async def test_abandon() -> None:
    abandoned = CartAbandoned(reason="timeout", lines=(TEA_LINE,), total=Decimal("13.80"))
    cart = await scenario(OPENED, TEA).when(lambda c: c.abandon("timeout")).then(abandoned)
    assert cart.status is CartStatus.ABANDONED


@pytest.mark.parametrize(
    "closing",
    [CHECKED_OUT, CartAbandoned(reason="gone", lines=(), total=Decimal("0.00"))],
    ids=["checked_out", "abandoned"],
)
@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.add_item("mug", "Mug", 1, Decimal("9.00")),
        lambda c: c.remove_item("tea"),
        lambda c: c.change_quantity("tea", 3),
        lambda c: c.apply_discount(find_discount("WELCOME10")),
        lambda c: c.check_out(),
        lambda c: c.abandon("again"),
    ],
    ids=["add", "remove", "change_quantity", "discount", "check_out", "abandon"],
)
async def test_no_change_after_the_cart_is_closed(closing: object, change: object) -> None:
    await scenario(OPENED, TEA, closing).when(change).then_raises(CartClosed, match="cannot change")


async def test_adding_zero_to_an_existing_line_is_refused() -> None:
    await (
        scenario(OPENED, TEA)
        .when(lambda c: c.add_item("tea", "Green tea", 0, Decimal("6.90")))
        .then_raises(InvalidQuantity, match="not 0")
    )
