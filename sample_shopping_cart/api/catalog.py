"""Product routes: list a product, change its price, discontinue it, and see it at any moment."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response, status

from eventsourcing.sample_shopping_cart.api.carts import ERRORS
from eventsourcing.sample_shopping_cart.api.dependencies import (
    AsOfQuery,
    CommandIdHeader,
    ShopDep,
    SkuPath,
    command_fields,
    parse_as_of,
)
from eventsourcing.sample_shopping_cart.api.schemas import CommandBody, ListProductBody, PriceBody, ProductOut
from eventsourcing.sample_shopping_cart.commands import ChangePrice, DiscontinueProduct, ListProduct
from eventsourcing.sample_shopping_cart.views import PopularProducts, ProductPopularity, popular_products

router = APIRouter(prefix="/api/products", tags=["products"], responses=ERRORS)


@router.get("", summary="The catalog, best sellers first (the popular-products view)")
async def list_products(shop: ShopDep) -> list[ProductPopularity]:
    return await popular_products(await shop.views(PopularProducts.name))


@router.post("", status_code=status.HTTP_201_CREATED, summary="List a new product")
async def list_product(
    body: ListProductBody, shop: ShopDep, response: Response, command_id: CommandIdHeader = None
) -> ProductOut:
    fields = command_fields(body, command_id)
    await shop.execute(ListProduct(sku=body.sku, name=body.name, price=body.price, **fields))
    response.headers["Location"] = f"/api/products/{quote(body.sku, safe='')}"
    return ProductOut.of(await shop.product(body.sku))


@router.get("/{sku}", summary="A product now, or as it was at a moment (its price then)")
async def get_product(sku: SkuPath, shop: ShopDep, as_of: AsOfQuery = None) -> ProductOut:
    moment = parse_as_of(as_of)
    return ProductOut.of(await shop.product(sku, as_of=moment), as_of=moment)


@router.put("/{sku}/price", summary="Change the price (carts keep the price they were offered)")
async def change_price(sku: SkuPath, body: PriceBody, shop: ShopDep, command_id: CommandIdHeader = None) -> ProductOut:
    fields = command_fields(body, command_id)
    await shop.execute(ChangePrice(sku=sku, price=body.price, **fields))
    return ProductOut.of(await shop.product(sku))


@router.post("/{sku}/discontinue", summary="Stop selling the product")
async def discontinue(sku: SkuPath, shop: ShopDep, command_id: CommandIdHeader = None) -> ProductOut:
    fields = command_fields(CommandBody(), command_id)
    await shop.execute(DiscontinueProduct(sku=sku, **fields))
    return ProductOut.of(await shop.product(sku))
