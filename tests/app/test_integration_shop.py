"""Integration tier: commands, aggregates and projections together on real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from eventsourcing import ConcurrencyError
from eventsourcing.sample_shopping_cart.commands import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    ChangePrice,
    ChangeQuantity,
    CheckOut,
    OpenCart,
    RemoveItem,
)
from eventsourcing.sample_shopping_cart.shop import Shop
from eventsourcing.sample_shopping_cart.views import abandoned_carts, cart_summaries, popular_products


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def a_morning(shop: Shop) -> None:
    await shop.seed_catalog()
    for command in [
        OpenCart(cart_id="alice-1", customer_id="alice"),
        AddItem(cart_id="alice-1", sku="coffee-beans", quantity=2),
        AddItem(cart_id="alice-1", sku="mug"),
        ChangePrice(sku="green-tea", price=Decimal("7.50")),
        AddItem(cart_id="alice-1", sku="green-tea", quantity=2),
        ChangeQuantity(cart_id="alice-1", sku="coffee-beans", quantity=3),
        RemoveItem(cart_id="alice-1", sku="mug"),
        ApplyDiscount(cart_id="alice-1", code="SPRING25"),
        CheckOut(cart_id="alice-1"),
        OpenCart(cart_id="bob-1", customer_id="bob"),
        AddItem(cart_id="bob-1", sku="green-tea", quantity=1),
        AbandonCart(cart_id="bob-1", reason="timeout"),
        OpenCart(cart_id="carol-1", customer_id="carol"),
    ]:
        await shop.execute(command)


async def test_commands_and_views_agree(store_url: str) -> None:
    async with Shop(store_url) as shop:
        await a_morning(shop)
        alice = await shop.cart("alice-1")
        assert (alice.subtotal, alice.discount, alice.total) == (Decimal("70.50"), Decimal("17.63"), Decimal("52.87"))

        views = await shop.views()
        by_id = {s.cart_id: s for s in await cart_summaries(views)}
        assert set(by_id) == {"alice-1", "bob-1", "carol-1"}
        summary = by_id["alice-1"]
        assert (summary.status, summary.item_count, summary.subtotal_cents, summary.total_cents) == (
            "checked_out",
            5,
            7050,
            5287,  # the view rounds the discount as the aggregate does
        )
        assert [(line.sku, line.quantity, line.unit_price_cents) for line in summary.lines] == [
            ("coffee-beans", 3, 1850),
            ("green-tea", 2, 750),
        ]
        assert [s.cart_id for s in await cart_summaries(views, status="open")] == ["carol-1"]

        popular = {p.sku: p for p in await popular_products(views)}
        assert list(popular)[:2] == ["coffee-beans", "green-tea"]
        assert (popular["green-tea"].price_cents, popular["green-tea"].units_sold) == (750, 2)
        assert (popular["green-tea"].units_abandoned, popular["mug"].times_added) == (1, 1)
        assert popular["coffee-beans"].revenue_cents == 5550
        (abandoned,) = await abandoned_carts(views)
        assert (abandoned.cart_id, abandoned.total_cents, abandoned.reason) == ("bob-1", 750, "timeout")

        before = await cart_summaries(views)
        await shop.rebuild_views()
        assert await cart_summaries(shop.runner.views) == before


async def test_views_resume_from_their_checkpoint_after_a_restart(store_url: str) -> None:
    async with Shop(store_url) as shop:
        await a_morning(shop)
        await shop.views()
    async with Shop(store_url) as shop:  # a new process: the views are where they were
        assert await shop.catch_up() == 0
        await shop.execute(AddItem(cart_id="carol-1", sku="kettle"))
        (carol,) = await cart_summaries(await shop.views(), cart_id="carol-1")
        assert (carol.item_count, carol.total_cents) == (1, 3990)


async def test_time_travel_on_carts_and_prices(store_url: str) -> None:
    async with Shop(store_url) as shop:
        await a_morning(shop)
        history = await shop.history("alice-1")
        at_mug = await shop.cart("alice-1", as_of=history[2].timestamp)
        assert sorted(at_mug.lines) == ["coffee-beans", "mug"] and at_mug.read_only
        tea_then = await shop.products.get("green-tea", as_of=history[0].timestamp)
        assert (tea_then.price, (await shop.products.get("green-tea")).price) == (Decimal("6.90"), Decimal("7.50"))


async def test_a_stale_decision_loses_and_racing_retries_store_once(store_url: str) -> None:
    async with Shop(store_url) as shop:
        await shop.seed_catalog()
        await shop.execute(OpenCart(cart_id="dave-1", customer_id="dave"))
        mine = AddItem(cart_id="dave-1", sku="mug", expected_version=1)
        theirs = AddItem(cart_id="dave-1", sku="kettle", expected_version=1)
        results = await asyncio.gather(shop.execute(mine), shop.execute(theirs), return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["CommandResult", "ConcurrencyError"]
        assert (await shop.cart("dave-1")).version == 2

        retried = AddItem(cart_id="dave-1", sku="grinder")
        await asyncio.gather(*(shop.execute(retried) for _ in range(4)))
        assert (await shop.cart("dave-1")).lines["grinder"].quantity == 1

        # Without expected_version, concurrent changes are all applied (re-decided on a fresh state).
        await asyncio.gather(*(shop.execute(AddItem(cart_id="dave-1", sku="green-tea")) for _ in range(5)))
        assert (await shop.cart("dave-1")).lines["green-tea"].quantity == 5
        with pytest.raises(ConcurrencyError):
            await shop.execute(CheckOut(cart_id="dave-1", expected_version=2))
