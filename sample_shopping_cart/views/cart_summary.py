"""Cart summaries: every cart with its lines and totals, for listing carts without loading each one.

Totals are kept in integer cents, in 64-bit columns: with the shop's bounds (see
`eventsourcing.sample_shopping_cart.domain.money`) no total can overflow them. The discount is computed when
reading, with the same rounding as the aggregate (half up, to the cent), so the view and the cart
always agree on a total.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, text

from eventsourcing import RecordedEvent, on
from eventsourcing.projections import CheckpointStore, Projector, ViewBatch
from eventsourcing.sample_shopping_cart.domain import (
    CartAbandoned,
    CartCheckedOut,
    CartOpened,
    DiscountApplied,
    ItemAdded,
    ItemQuantityChanged,
    ItemRemoved,
    ShoppingCart,
    cents,
)

metadata = MetaData()
summaries = Table(
    "cart_summaries",
    metadata,
    Column("cart_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("item_count", Integer, nullable=False, server_default=text("0")),
    Column("subtotal_cents", BigInteger, nullable=False, server_default=text("0")),
    Column("discount_code", Text),
    Column("discount_percent", Integer, nullable=False, server_default=text("0")),
    Column("version", Integer, nullable=False),
    Column("opened_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)
lines = Table(
    "cart_summary_lines",
    metadata,
    Column("cart_id", Text, primary_key=True),
    Column("sku", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
)

_OPEN = (
    "INSERT INTO {cart_summaries} (cart_id, customer_id, status, version, opened_at, updated_at) "
    "VALUES (?, ?, 'open', ?, ?, ?)"
)
_ADD_LINE = (
    "INSERT INTO {cart_summary_lines} (cart_id, sku, name, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = {cart_summary_lines}.quantity + excluded.quantity, "
    "unit_price_cents = excluded.unit_price_cents, name = excluded.name"
)
_REMOVE_LINE = "DELETE FROM {cart_summary_lines} WHERE cart_id = ? AND sku = ?"
_SET_QUANTITY = "UPDATE {cart_summary_lines} SET quantity = ? WHERE cart_id = ? AND sku = ?"
_RETOTAL = (
    "UPDATE {cart_summaries} SET "
    "item_count = (SELECT COALESCE(SUM(quantity), 0) FROM {cart_summary_lines} l "
    "WHERE l.cart_id = {cart_summaries}.cart_id), "
    "subtotal_cents = (SELECT COALESCE(SUM(quantity * unit_price_cents), 0) FROM {cart_summary_lines} l "
    "WHERE l.cart_id = {cart_summaries}.cart_id), "
    "version = ?, updated_at = ? WHERE cart_id = ?"
)
_DISCOUNT = (
    "UPDATE {cart_summaries} SET discount_code = ?, discount_percent = ?, version = ?, updated_at = ? WHERE cart_id = ?"
)
_STATUS = "UPDATE {cart_summaries} SET status = ?, version = ?, updated_at = ? WHERE cart_id = ?"


class CartSummaryView(Projector):
    name = "cart_summary"
    tables = (summaries, lines)
    stream_types = (ShoppingCart.type_name,)

    @on(CartOpened)
    def opened(self, e: RecordedEvent[CartOpened], view: ViewBatch) -> None:
        at = e.timestamp.isoformat()
        view.execute(_OPEN, (e.stream_id, e.event.customer_id, e.version, at, at))

    @on(ItemAdded)
    def item_added(self, e: RecordedEvent[ItemAdded], view: ViewBatch) -> None:
        item = e.event
        view.execute(_ADD_LINE, (e.stream_id, item.sku, item.name, item.quantity, cents(item.unit_price)))
        view.execute(_RETOTAL, (e.version, e.timestamp.isoformat(), e.stream_id))

    @on(ItemRemoved)
    def item_removed(self, e: RecordedEvent[ItemRemoved], view: ViewBatch) -> None:
        view.execute(_REMOVE_LINE, (e.stream_id, e.event.sku))
        view.execute(_RETOTAL, (e.version, e.timestamp.isoformat(), e.stream_id))

    @on(ItemQuantityChanged)
    def quantity_changed(self, e: RecordedEvent[ItemQuantityChanged], view: ViewBatch) -> None:
        view.execute(_SET_QUANTITY, (e.event.quantity, e.stream_id, e.event.sku))
        view.execute(_RETOTAL, (e.version, e.timestamp.isoformat(), e.stream_id))

    @on(DiscountApplied)
    def discount_applied(self, e: RecordedEvent[DiscountApplied], view: ViewBatch) -> None:
        params = (e.event.code, e.event.percent, e.version, e.timestamp.isoformat(), e.stream_id)
        view.execute(_DISCOUNT, params)

    @on(CartCheckedOut, CartAbandoned)
    def closed(self, e: RecordedEvent[CartCheckedOut | CartAbandoned], view: ViewBatch) -> None:
        status = "checked_out" if isinstance(e.event, CartCheckedOut) else "abandoned"
        view.execute(_STATUS, (status, e.version, e.timestamp.isoformat(), e.stream_id))


# -- queries ------------------------------------------------------------------------------------------


class CartSummaryLine(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


class CartSummary(BaseModel):
    cart_id: str
    customer_id: str
    status: str
    item_count: int
    subtotal_cents: int
    discount_code: str | None
    discount_percent: int
    total_cents: int
    version: int
    opened_at: str
    updated_at: str
    lines: list[CartSummaryLine] = []


_SELECT = (
    "SELECT cart_id, customer_id, status, item_count, subtotal_cents, discount_code, discount_percent, "
    "subtotal_cents - (subtotal_cents * discount_percent + 50) / 100, version, opened_at, updated_at "
    "FROM cart_summaries"
)
_FIELDS = tuple(f for f in CartSummary.model_fields if f != "lines")


async def cart_summaries(
    views: CheckpointStore, *, cart_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[CartSummary]:
    """Summaries, the most recently changed first (one cart with ``cart_id``), each with its lines."""
    where, params = _filters(cart_id=cart_id, status=status)
    rows = await views.fetch(f"{_SELECT}{where} ORDER BY updated_at DESC, cart_id LIMIT ?", (*params, limit))
    found = [CartSummary(**dict(zip(_FIELDS, row, strict=True))) for row in rows]
    if found:
        marks = ", ".join("?" * len(found))
        line_rows = await views.fetch(
            "SELECT cart_id, sku, name, quantity, unit_price_cents FROM cart_summary_lines "
            f"WHERE cart_id IN ({marks}) ORDER BY cart_id, sku",
            [s.cart_id for s in found],
        )
        by_cart = {s.cart_id: s for s in found}
        for cid, sku, name, quantity, unit_price_cents in line_rows:
            by_cart[cid].lines.append(
                CartSummaryLine(sku=sku, name=name, quantity=quantity, unit_price_cents=unit_price_cents)
            )
    return found


def _filters(**equal: Any) -> tuple[str, list[Any]]:
    given = {k: v for k, v in equal.items() if v is not None}
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{k} = ?" for k in given), list(given.values())
