"""Popular products: the catalog joined with what carts did with each product.

This projector follows two kinds of streams: products (name, current price, still sold?) and carts
(how often a product was put in a cart, how many units were sold at check-out and for how much, how
many were left in abandoned carts). Revenue uses the price each cart paid, not today's price.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, text

from eventsourcing import RecordedEvent, on
from eventsourcing.projections import CheckpointStore, Projector, ViewBatch
from eventsourcing.sample_shopping_cart.domain import (
    CartAbandoned,
    CartCheckedOut,
    ItemAdded,
    Product,
    ProductDiscontinued,
    ProductListed,
    ProductPriceChanged,
    ShoppingCart,
    cents,
)

metadata = MetaData()
prices = Table(
    "popular_product_prices",
    metadata,
    Column("sku", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("active", Integer, nullable=False),
)
sales = Table(
    "popular_product_sales",
    metadata,
    Column("sku", Text, primary_key=True),
    Column("times_added", BigInteger, nullable=False, server_default=text("0")),
    Column("units_sold", BigInteger, nullable=False, server_default=text("0")),
    Column("revenue_cents", BigInteger, nullable=False, server_default=text("0")),
    Column("units_abandoned", BigInteger, nullable=False, server_default=text("0")),
)

_LISTED = "INSERT INTO {popular_product_prices} (sku, name, price_cents, active) VALUES (?, ?, ?, 1)"
_PRICE = "UPDATE {popular_product_prices} SET price_cents = ? WHERE sku = ?"
_DISCONTINUED = "UPDATE {popular_product_prices} SET active = 0 WHERE sku = ?"


class PopularProducts(Projector):
    name = "popular_products"
    tables = (prices, sales)
    stream_types = (Product.type_name, ShoppingCart.type_name)

    @on(ProductListed)
    def listed(self, e: RecordedEvent[ProductListed], view: ViewBatch) -> None:
        view.execute(_LISTED, (e.stream_id, e.event.name, cents(e.event.price)))

    @on(ProductPriceChanged)
    def price_changed(self, e: RecordedEvent[ProductPriceChanged], view: ViewBatch) -> None:
        view.execute(_PRICE, (cents(e.event.new_price), e.stream_id))

    @on(ProductDiscontinued)
    def discontinued(self, e: RecordedEvent[ProductDiscontinued], view: ViewBatch) -> None:
        view.execute(_DISCONTINUED, (e.stream_id,))

    @on(ItemAdded)
    def item_added(self, e: RecordedEvent[ItemAdded], view: ViewBatch) -> None:
        view.add("popular_product_sales", e.event.sku, times_added=1)

    @on(CartCheckedOut)
    def checked_out(self, e: RecordedEvent[CartCheckedOut], view: ViewBatch) -> None:
        for line in e.event.lines:
            view.add("popular_product_sales", line.sku, units_sold=line.quantity, revenue_cents=cents(line.total))

    @on(CartAbandoned)
    def abandoned(self, e: RecordedEvent[CartAbandoned], view: ViewBatch) -> None:
        for line in e.event.lines:
            view.add("popular_product_sales", line.sku, units_abandoned=line.quantity)


class ProductPopularity(BaseModel):
    sku: str
    name: str
    price_cents: int
    active: bool
    times_added: int
    units_sold: int
    revenue_cents: int
    units_abandoned: int


_SELECT = (
    "SELECT p.sku, p.name, p.price_cents, p.active, COALESCE(s.times_added, 0), COALESCE(s.units_sold, 0), "
    "COALESCE(s.revenue_cents, 0), COALESCE(s.units_abandoned, 0) "
    "FROM popular_product_prices p LEFT JOIN popular_product_sales s ON s.sku = p.sku "
    "ORDER BY COALESCE(s.units_sold, 0) DESC, COALESCE(s.times_added, 0) DESC, p.sku LIMIT ?"
)


async def popular_products(views: CheckpointStore, *, limit: int = 100) -> list[ProductPopularity]:
    """Every listed product with its numbers, the best sellers first (then the most added to carts)."""
    rows = await views.fetch(_SELECT, (limit,))
    return [ProductPopularity(**dict(zip(ProductPopularity.model_fields, row, strict=True))) for row in rows]
