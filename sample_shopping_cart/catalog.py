"""The products a fresh shop starts with, listed idempotently (re-seeding a store changes nothing)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from eventsourcing.sample_shopping_cart.commands import ListProduct

# Command ids derived from the SKU: seeding twice (every `serve` start) is a retried command, a no-op.
_SEED = uuid.UUID("5a3c2f1e-8b7d-4c6a-9e0f-1d2b3c4d5e6f")

STARTER_CATALOG: tuple[tuple[str, str, str], ...] = (
    ("coffee-beans", "Coffee beans, 1 kg", "18.50"),
    ("green-tea", "Green tea, 100 g", "6.90"),
    ("mug", "Stoneware mug", "9.00"),
    ("grinder", "Burr grinder", "64.00"),
    ("kettle", "Gooseneck kettle", "39.90"),
)


def starter_catalog() -> list[ListProduct]:
    return [
        ListProduct(sku=sku, name=name, price=Decimal(price), command_id=uuid.uuid5(_SEED, sku))
        for sku, name, price in STARTER_CATALOG
    ]
