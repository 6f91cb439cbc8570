"""Cart routes: commands (open, add, change, remove, discount, check out, abandon), the cart now or
at any moment, and its event history."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Response, status

from eventsourcing import Command
from eventsourcing.sample_shopping_cart.api.dependencies import (
    AsOfQuery,
    CartIdPath,
    CommandIdHeader,
    IfMatchHeader,
    ShopDep,
    SkuPath,
    VersionQuery,
    change_fields,
    command_fields,
    parse_as_of,
)
from eventsourcing.sample_shopping_cart.api.schemas import (
    AbandonBody,
    AddItemBody,
    CartChangeBody,
    CartOut,
    ChangeQuantityBody,
    DiscountBody,
    ErrorOut,
    EventOut,
    OpenCartBody,
)
from eventsourcing.sample_shopping_cart.commands import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    ChangeQuantity,
    CheckOut,
    OpenCart,
    RemoveItem,
)
from eventsourcing.sample_shopping_cart.domain import ShoppingCart
from eventsourcing.sample_shopping_cart.shop import Shop

ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "No such cart"},
    409: {"model": ErrorOut, "description": "The cart changed since the version the client named"},
    422: {"model": ErrorOut, "description": "Malformed request, or a rule of the shop refused the change"},
}

router = APIRouter(prefix="/api/carts", tags=["carts"], responses=ERRORS)


async def run(shop: Shop, command: Command, cart_id: str, response: Response) -> CartOut:
    result = await shop.execute(command)
    cart = await shop.cart(cart_id)
    response.headers["ETag"] = f'"{cart.version}"'
    if result.duplicate:
        response.headers["Command-Duplicate"] = "true"  # a retry: nothing was changed twice
    return CartOut.of(cart)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Open a cart")
async def open_cart(
    body: OpenCartBody, shop: ShopDep, response: Response, command_id: CommandIdHeader = None
) -> CartOut:
    fields = command_fields(body, command_id)
    # Retry-safe without a client-chosen id: the same command id always names the same cart.
    key = fields.get("command_id")
    cart_id = body.cart_id or (str(uuid.uuid5(key, "cart")) if isinstance(key, uuid.UUID) else str(uuid.uuid4()))
    command = OpenCart(cart_id=cart_id, customer_id=body.customer_id, **fields)
    out = await run(shop, command, command.cart_id, response)
    response.headers["Location"] = f"/api/carts/{quote(out.cart_id, safe='')}"
    return out


@router.get("/{cart_id}", summary="The cart now, after a version, or as it was at a moment")
async def get_cart(
    cart_id: CartIdPath,
    shop: ShopDep,
    response: Response,
    as_of: AsOfQuery = None,
    version: VersionQuery = None,
) -> CartOut:
    moment = parse_as_of(as_of)
    cart = await shop.cart(cart_id, as_of=moment, version=version)
    if moment is None and version is None:
        response.headers["ETag"] = f'"{cart.version}"'
    return CartOut.of(cart, as_of=moment)


@router.get("/{cart_id}/events", summary="The cart's events, oldest first")
async def cart_events(cart_id: CartIdPath, shop: ShopDep) -> list[EventOut]:
    events = await shop.history(cart_id, ShoppingCart)
    return [EventOut.of(e) for e in events]


@router.post("/{cart_id}/items", summary="Add an item (at the product's current price)")
async def add_item(
    cart_id: CartIdPath,
    body: AddItemBody,
    shop: ShopDep,
    response: Response,
    command_id: CommandIdHeader = None,
    if_match: IfMatchHeader = None,
) -> CartOut:
    fields = change_fields(body, command_id, if_match)
    command = AddItem(cart_id=cart_id, sku=body.sku, quantity=body.quantity, **fields)
    return await run(shop, command, cart_id, response)


@router.put("/{cart_id}/items/{sku}", summary="Change a line's quantity")
async def change_quantity(
    cart_id: CartIdPath,
    sku: SkuPath,
    body: ChangeQuantityBody,
    shop: ShopDep,
    response: Response,
    command_id: CommandIdHeader = None,
    if_match: IfMatchHeader = None,
) -> CartOut:
    fields = change_fields(body, command_id, if_match)
    command = ChangeQuantity(cart_id=cart_id, sku=sku, quantity=body.quantity, **fields)
    return await run(shop, command, cart_id, response)


@router.delete("/{cart_id}/items/{sku}", summary="Remove a line")
async def remove_item(
    cart_id: CartIdPath,
    sku: SkuPath,
    shop: ShopDep,
    response: Response,
    body: Annotated[CartChangeBody | None, Body()] = None,
    command_id: CommandIdHeader = None,
    if_match: IfMatchHeader = None,
) -> CartOut:
    fields = change_fields(body or CartChangeBody(), command_id, if_match)
    command = RemoveItem(cart_id=cart_id, sku=sku, **fields)
    return await run(shop, command, cart_id, response)


@router.post("/{cart_id}/discount", summary="Apply a discount code (one per cart)")
async def apply_discount(
    cart_id: CartIdPath,
    body: DiscountBody,
    shop: ShopDep,
    response: Response,
    command_id: CommandIdHeader = None,
    if_match: IfMatchHeader = None,
) -> CartOut:
    fields = change_fields(body, command_id, if_match)
    command = ApplyDiscount(cart_id=cart_id, code=body.code, **fields)
    return await run(shop, command, cart_id, response)


@router.post("/{cart_id}/checkout", summary="Check out")
async def check_out(
    cart_id: CartIdPath,
    shop: ShopDep,
    response: Response,
    body: Annotated[CartChangeBody | None, Body()] = None,
    command_id: CommandIdHeader = None,
    if_match: IfMatchHeader = None,
) -> CartOut:
    fields = change_fields(body or CartChangeBody(), command_id, if_match)
    return await run(shop, CheckOut(cart_id=cart_id, **fields), cart_id, response)


@router.post("/{cart_id}/abandon", summary="Abandon the cart")
async def abandon(
    cart_id: CartIdPath,
    shop: ShopDep,
    response: Response,
    body: Annotated[AbandonBody | None, Body()] = None,
    command_id: CommandIdHeader = None,
    if_match: IfMatchHeader = None,
) -> CartOut:
    body = body or AbandonBody()
    fields = change_fields(body, command_id, if_match)
    command = AbandonCart(cart_id=cart_id, reason=body.reason, **fields)
    return await run(shop, command, cart_id, response)
