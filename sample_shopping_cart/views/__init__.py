"""The query side (CQRS): projectors that keep SQL views from the global event log, and their queries.

Each projector owns its tables and its checkpoint, and can be rebuilt on its own
(``runner.rebuild("cart_summary")``). Views are eventually consistent with the events; the `Shop`
waits for them to catch up with its own writes before answering a query (read-your-writes).
"""

from eventsourcing.projections import Projector
from eventsourcing.sample_shopping_cart.views.abandoned_carts import AbandonedCart, AbandonedCarts, abandoned_carts
from eventsourcing.sample_shopping_cart.views.cart_summary import (
    CartSummary,
    CartSummaryLine,
    CartSummaryView,
    cart_summaries,
)
from eventsourcing.sample_shopping_cart.views.popular_products import (
    PopularProducts,
    ProductPopularity,
    popular_products,
)


def all_projectors() -> list[Projector]:
    """A fresh instance of every projector of the shop."""
    return [CartSummaryView(), PopularProducts(), AbandonedCarts()]


__all__ = [
    "AbandonedCart",
    "AbandonedCarts",
    "CartSummary",
    "CartSummaryLine",
    "CartSummaryView",
    "PopularProducts",
    "ProductPopularity",
    "abandoned_carts",
    "all_projectors",
    "cart_summaries",
    "popular_products",
]
