"""Issue 14, item 11: money is bounded and exact end to end, and no view dies on what the write side accepts.

The largest price the shop accepts, times the largest quantity, in as many lines as a cart may
hold, checked out and abandoned, goes through every view on SQLite and on PostgreSQL views; each
view's figures equal the aggregates' to the cent. Amounts past the bound are refused before
anything is stored.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from eventsourcing.sample_shopping_cart.commands import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    CheckOut,
    ListProduct,
    OpenCart,
)
from eventsourcing.sample_shopping_cart.domain import MAX_PRICE, CartFull, InvalidPrice, ShoppingCart, cents
from eventsourcing.sample_shopping_cart.shop import Shop
from eventsourcing.sample_shopping_cart.views import abandoned_carts, cart_summaries, popular_products

Q = ShoppingCart.MAX_QUANTITY
LINES = ShoppingCart.MAX_LINES


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_the_largest_amounts_go_through_every_view(store_url: str) -> None:
    async with Shop(store_url) as shop:
        skus = [f"gold-{i}" for i in range(LINES)]
        for sku in skus:
            await shop.execute(ListProduct(sku=sku, name="Gold bar", price=MAX_PRICE))
        for cart_id in ("big-1", "big-2", "big-3"):
            await shop.execute(OpenCart(cart_id=cart_id, customer_id="rich"))
            for sku in skus:
                await shop.execute(AddItem(cart_id=cart_id, sku=sku, quantity=Q))
        await shop.execute(ListProduct(sku="one-more", name="Gold bar", price=MAX_PRICE))
        with pytest.raises(CartFull):
            await shop.execute(AddItem(cart_id="big-1", sku="one-more", quantity=1))
        await shop.execute(ApplyDiscount(cart_id="big-1", code="SPRING25"))
        await shop.execute(CheckOut(cart_id="big-1"))
        await shop.execute(CheckOut(cart_id="big-2"))
        await shop.execute(AbandonCart(cart_id="big-3"))
        carts = {cart_id: await shop.cart(cart_id) for cart_id in ("big-1", "big-2", "big-3")}

        views = await shop.views()
        summaries = {s.cart_id: s for s in await cart_summaries(views)}
        popular = {p.sku: p for p in await popular_products(views)}
        abandoned = {a.cart_id: a for a in await abandoned_carts(views)}
        statuses = await shop.views_status()

    assert all(s.error is None for s in statuses), statuses
    line = MAX_PRICE * Q
    for cart_id, cart in carts.items():
        summary = summaries[cart_id]
        assert cart.subtotal == line * LINES
        assert (summary.subtotal_cents, summary.total_cents) == (cents(cart.subtotal), cents(cart.total))
        assert summary.item_count == Q * LINES
    assert carts["big-1"].total < carts["big-2"].total  # the discount, to the cent in both
    assert abandoned["big-3"].total_cents == cents(carts["big-3"].total)
    for sku in skus:
        assert popular[sku].price_cents == cents(MAX_PRICE)
        assert (popular[sku].units_sold, popular[sku].units_abandoned) == (2 * Q, Q)
        assert popular[sku].revenue_cents == 2 * cents(line)


async def test_amounts_past_the_bound_are_refused_before_anything_is_stored(tmp_path: Path) -> None:
    async with Shop(f"sqlite:///{tmp_path / 'shop.db'}") as shop:
        for price in ("92233720368547758.07", "1E+30", "Infinity", "NaN", MAX_PRICE + Decimal("0.01"), "-1", "0"):
            with pytest.raises((InvalidPrice, ValidationError)):
                await shop.execute(ListProduct(sku="x", name="X", price=Decimal(price)))
        assert await shop.store.stream_info("x") is None
