"""Query routes: the projections' views (eventually consistent; this server's own writes are always seen)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from eventsourcing import AggregateNotFound
from eventsourcing.sample_shopping_cart.api.dependencies import CartIdPath, ShopDep
from eventsourcing.sample_shopping_cart.api.schemas import ErrorOut
from eventsourcing.sample_shopping_cart.views import (
    AbandonedCart,
    AbandonedCarts,
    CartSummary,
    CartSummaryView,
    PopularProducts,
    ProductPopularity,
    abandoned_carts,
    cart_summaries,
    popular_products,
)

router = APIRouter(prefix="/api/views", tags=["views"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/cart-summaries", summary="Carts with their lines and totals, the most recently changed first")
async def summaries(shop: ShopDep, status: str | None = None, limit: Limit = 100) -> list[CartSummary]:
    return await cart_summaries(await shop.views(CartSummaryView.name), status=status, limit=limit)


@router.get("/cart-summaries/{cart_id}", responses={404: {"model": ErrorOut}}, summary="One cart's summary")
async def summary(cart_id: CartIdPath, shop: ShopDep) -> CartSummary:
    found = await cart_summaries(await shop.views(CartSummaryView.name), cart_id=cart_id, limit=1)
    if not found:
        raise AggregateNotFound(f"no summary for cart {cart_id!r}")
    return found[0]


@router.get("/popular-products", summary="Products by units sold, with their current price")
async def popular(shop: ShopDep, limit: Limit = 100) -> list[ProductPopularity]:
    return await popular_products(await shop.views(PopularProducts.name), limit=limit)


@router.get("/abandoned-carts", summary="Abandoned carts, the most recent first")
async def abandoned(shop: ShopDep, limit: Limit = 100) -> list[AbandonedCart]:
    return await abandoned_carts(await shop.views(AbandonedCarts.name), limit=limit)


@router.get("/status", summary="Each projection's checkpoint and lag")
async def status(shop: ShopDep) -> list[dict[str, object]]:
    return [
        {"name": s.name, "state": s.state, "lag_events": s.lag_events, "lag_seconds": s.lag_seconds, "error": s.error}
        for s in await shop.views_status()
    ]


@router.post("/rebuild", summary="Drop every view and replay the whole log into it (an operator's tool)")
async def rebuild(shop: ShopDep) -> dict[str, int]:
    return await shop.rebuild_views()
