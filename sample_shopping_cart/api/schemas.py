"""What the API reads and writes: request bodies and response documents (amounts as decimal strings)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from eventsourcing import DomainEvent, RecordedEvent
from eventsourcing.sample_shopping_cart.commands.fields import MAX_VERSION, Id, Price, Text
from eventsourcing.sample_shopping_cart.domain import Product, ShoppingCart

# -- requests -----------------------------------------------------------------------------------------


class CommandBody(BaseModel):
    command_id: UUID | None = Field(
        default=None, description="Idempotency key: resend the same id when retrying (or use the Command-Id header)"
    )


class CartChangeBody(CommandBody):
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="Refuse the change (409) unless the cart is still at this version (or If-Match)",
    )


class OpenCartBody(CommandBody):
    customer_id: Text
    cart_id: Id | None = Field(
        default=None, description="Chosen by the client; derived from the command id when omitted (retry-safe)"
    )


class AddItemBody(CartChangeBody):
    sku: Id
    quantity: int = 1


class ChangeQuantityBody(CartChangeBody):
    quantity: int


class DiscountBody(CartChangeBody):
    code: Id


class AbandonBody(CartChangeBody):
    reason: Text = "abandoned by the customer"


class ListProductBody(CommandBody):
    sku: Id
    name: Text
    price: Price


class PriceBody(CommandBody):
    price: Price


# -- responses ----------------------------------------------------------------------------------------


class LineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal


class CartOut(BaseModel):
    cart_id: str
    customer_id: str
    status: str
    version: int
    lines: list[LineOut]
    item_count: int
    subtotal: Decimal
    discount_code: str | None
    discount_percent: int
    discount: Decimal
    total: Decimal
    last_event_at: dt.datetime | None
    as_of: dt.datetime | None = Field(default=None, description="Set when this is the cart as it was at a moment")

    @classmethod
    def of(cls, cart: ShoppingCart, as_of: dt.datetime | None = None) -> CartOut:
        return cls(
            cart_id=cart.id,
            customer_id=cart.customer_id,
            status=cart.status.value,
            version=cart.version,
            lines=[
                LineOut(sku=ln.sku, name=ln.name, quantity=ln.quantity, unit_price=ln.unit_price, total=ln.total)
                for ln in cart.lines.values()
            ],
            item_count=cart.item_count,
            subtotal=cart.subtotal,
            discount_code=cart.discount_code,
            discount_percent=cart.discount_percent,
            discount=cart.discount,
            total=cart.total,
            last_event_at=cart.last_event_at,
            as_of=as_of,
        )


class ProductOut(BaseModel):
    sku: str
    name: str
    price: Decimal
    active: bool
    version: int
    last_event_at: dt.datetime | None
    as_of: dt.datetime | None = None

    @classmethod
    def of(cls, product: Product, as_of: dt.datetime | None = None) -> ProductOut:
        return cls(
            sku=product.sku,
            name=product.name,
            price=product.price,
            active=product.active,
            version=product.version,
            last_event_at=product.last_event_at,
            as_of=as_of,
        )


class EventOut(BaseModel):
    version: int
    event_type: str
    timestamp: dt.datetime
    data: dict[str, Any]
    event_id: UUID
    causation_id: str | None
    correlation_id: str | None

    @classmethod
    def of(cls, recorded: RecordedEvent[DomainEvent]) -> EventOut:
        return cls(
            version=recorded.version,
            event_type=recorded.event_type,
            timestamp=recorded.timestamp,
            data=recorded.event.model_dump(mode="json"),
            event_id=recorded.event_id,
            causation_id=recorded.metadata.get("causation_id"),
            correlation_id=recorded.metadata.get("correlation_id"),
        )


class ErrorOut(BaseModel):
    error: str = Field(description="A stable code: cart_closed, invalid_quantity, concurrency_conflict, ...")
    detail: Any = Field(description="What happened and what to do, for people (a list for invalid requests)")
