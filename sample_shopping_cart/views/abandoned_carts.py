"""Abandoned carts: who left what behind, for follow-up. Carts enter at opening and leave at check-out.

The closing event carries the cart's last lines and total, so this view does not rebuild carts: it
only remembers who opened each unfinished cart and when.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text

from eventsourcing import RecordedEvent, on
from eventsourcing.projections import CheckpointStore, Projector, ViewBatch
from eventsourcing.sample_shopping_cart.domain import CartAbandoned, CartCheckedOut, CartOpened, ShoppingCart, cents

metadata = MetaData()
unfinished = Table(
    "unfinished_carts",
    metadata,
    Column("cart_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("opened_at", Text, nullable=False),
    Column("abandoned_at", Text),
    Column("reason", Text),
    Column("item_count", Integer),
    Column("total_cents", BigInteger),
)

_OPENED = "INSERT INTO {unfinished_carts} (cart_id, customer_id, opened_at) VALUES (?, ?, ?)"
_ABANDONED = (
    "UPDATE {unfinished_carts} SET abandoned_at = ?, reason = ?, item_count = ?, total_cents = ? WHERE cart_id = ?"
)
_CHECKED_OUT = "DELETE FROM {unfinished_carts} WHERE cart_id = ?"


class AbandonedCarts(Projector):
    name = "abandoned_carts"
    tables = (unfinished,)
    stream_types = (ShoppingCart.type_name,)

    @on(CartOpened)
    def opened(self, e: RecordedEvent[CartOpened], view: ViewBatch) -> None:
        view.execute(_OPENED, (e.stream_id, e.event.customer_id, e.timestamp.isoformat()))

    @on(CartAbandoned)
    def abandoned(self, e: RecordedEvent[CartAbandoned], view: ViewBatch) -> None:
        items = sum(line.quantity for line in e.event.lines)
        view.execute(_ABANDONED, (e.timestamp.isoformat(), e.event.reason, items, cents(e.event.total), e.stream_id))

    @on(CartCheckedOut)
    def checked_out(self, e: RecordedEvent[CartCheckedOut], view: ViewBatch) -> None:
        view.execute(_CHECKED_OUT, (e.stream_id,))


class AbandonedCart(BaseModel):
    cart_id: str
    customer_id: str
    opened_at: str
    abandoned_at: str
    reason: str
    item_count: int
    total_cents: int


async def abandoned_carts(views: CheckpointStore, *, limit: int = 100) -> list[AbandonedCart]:
    """Carts abandoned, the most recent first."""
    rows = await views.fetch(
        "SELECT cart_id, customer_id, opened_at, abandoned_at, reason, item_count, total_cents FROM unfinished_carts "
        "WHERE abandoned_at IS NOT NULL ORDER BY abandoned_at DESC, cart_id LIMIT ?",
        (limit,),
    )
    return [AbandonedCart(**dict(zip(AbandonedCart.model_fields, row, strict=True))) for row in rows]
