"""Unit tier: the product's rules (prices in whole cents, discontinued products are not offered)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eventsourcing.sample_shopping_cart.domain import (
    InvalidPrice,
    Product,
    ProductDiscontinued,
    ProductListed,
    ProductPriceChanged,
    ProductUnavailable,
)
from eventsourcing.testing import AggregateScenario

LISTED = ProductListed(name="Mug", price=Decimal("9.00"))


async def test_list_and_offer() -> None:
    product = await AggregateScenario(Product).when(lambda _: Product.list("mug", "Mug", Decimal("9"))).then(LISTED)
    assert (product.sku, product.offer()) == ("mug", ("Mug", Decimal("9.00")))


@pytest.mark.parametrize("price", ["0", "-1", "1.001", "NaN"])
async def test_prices_are_positive_whole_cents(price: str) -> None:
    await (
        AggregateScenario(Product).when(lambda _: Product.list("mug", "Mug", Decimal(price))).then_raises(InvalidPrice)
    )


async def test_price_changes() -> None:
    changed = ProductPriceChanged(old_price=Decimal("9.00"), new_price=Decimal("11.50"))
    product = await (
        AggregateScenario(Product, "mug").given(LISTED).when(lambda p: p.change_price(Decimal("11.5"))).then(changed)
    )
    assert product.price == Decimal("11.50")
    await AggregateScenario(Product, "mug").given(LISTED).when(lambda p: p.change_price(Decimal("9.00"))).then()


async def test_a_discontinued_product_is_not_offered() -> None:
    product = await (
        AggregateScenario(Product, "mug").given(LISTED).when(lambda p: p.discontinue()).then(ProductDiscontinued())
    )
    with pytest.raises(ProductUnavailable, match="discontinued"):
        product.offer()
    await AggregateScenario(Product, "mug").given(LISTED, ProductDiscontinued()).when(lambda p: p.discontinue()).then()
