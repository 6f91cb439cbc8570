"""What happens to a product of the catalog. Names (``product.*``) are pinned: they are the wire format."""

from __future__ import annotations

from decimal import Decimal

from eventsourcing import DomainEvent


class ProductListed(DomainEvent):
    event_type = "product.listed"
    name: str
    price: Decimal


class ProductPriceChanged(DomainEvent):
    event_type = "product.price_changed"
    old_price: Decimal
    new_price: Decimal


class ProductDiscontinued(DomainEvent):
    event_type = "product.discontinued"
