"""Commands and their handlers: what the outside world may ask the shop to do.

Every command is routed through one `CommandBus` (`build_bus`), idempotent on its ``command_id``:
a client that retries with the same id never changes anything twice.
"""

from eventsourcing.sample_shopping_cart.commands.handlers import build_bus
from eventsourcing.sample_shopping_cart.commands.messages import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    CartCommand,
    ChangePrice,
    ChangeQuantity,
    CheckOut,
    DiscontinueProduct,
    ListProduct,
    OpenCart,
    RemoveItem,
)

__all__ = [
    "AbandonCart",
    "AddItem",
    "ApplyDiscount",
    "CartCommand",
    "ChangePrice",
    "ChangeQuantity",
    "CheckOut",
    "DiscontinueProduct",
    "ListProduct",
    "OpenCart",
    "RemoveItem",
    "build_bus",
]
