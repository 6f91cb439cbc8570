"""Request-scoped helpers shared by the routes: the shop, ids in paths, command ids, expected versions, timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, HTTPException, Path, Query, Request

from eventsourcing.sample_shopping_cart.api.schemas import CartChangeBody, CommandBody
from eventsourcing.sample_shopping_cart.commands.fields import ID_PATTERN, MAX_ID, MAX_VERSION
from eventsourcing.sample_shopping_cart.shop import Shop
from eventsourcing.timetext import parse_instant


def get_shop(request: Request) -> Shop:
    shop: Shop = request.app.state.shop
    return shop


ShopDep = Annotated[Shop, Depends(get_shop)]
CommandIdHeader = Annotated[
    UUID | None, Header(alias="Command-Id", description="Idempotency key of the command (or `command_id` in the body)")
]
IfMatchHeader = Annotated[
    str | None, Header(alias="If-Match", description='The cart version the change is based on, e.g. "3" (its ETag)')
]
CartIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=MAX_ID, description="The cart's id")]
SkuPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=MAX_ID, description="The product's SKU")]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="The state after this event")]
AsOfQuery = Annotated[
    str | None,
    Query(description="ISO 8601 moment (with its offset, e.g. 2024-05-01T10:30:00Z; one without is refused)"),
]


def command_fields(body: CommandBody, header: UUID | None) -> dict[str, object]:
    """``command_id`` from the header or the body (they must agree); none given: the command makes one."""
    if header is not None and body.command_id is not None and header != body.command_id:
        raise HTTPException(422, "the Command-Id header and the body's command_id differ")
    command_id = header or body.command_id
    return {} if command_id is None else {"command_id": command_id}


def change_fields(body: CartChangeBody, header: UUID | None, if_match: str | None) -> dict[str, object]:
    fields = command_fields(body, header)
    expected = body.expected_version
    if if_match is not None:
        try:
            from_header = int(if_match.strip().removeprefix("W/").strip('"'))
            if not 1 <= from_header <= MAX_VERSION:
                raise ValueError(from_header)
        except ValueError:
            raise HTTPException(422, f'If-Match must be a cart version such as "3", not {if_match!r}') from None
        if expected is not None and expected != from_header:
            raise HTTPException(422, "If-Match and the body's expected_version differ")
        expected = from_header
    if expected is not None:
        fields["expected_version"] = expected
    return fields


def parse_as_of(value: str | None) -> dt.datetime | None:
    """An aware datetime from ISO 8601 text with an offset; one without is refused, as in the CLI and Python."""
    if value is None or not value.strip():
        return None
    return parse_instant(value, "as_of")
