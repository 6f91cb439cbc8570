"""From errors to HTTP answers, in one place: ``{"error": CODE, "detail": ...}`` with a 4xx status.

- 404 ``not_found``: no such cart or product (or none yet at ``as_of``);
- 409 ``concurrency_conflict``: the aggregate changed since the client read it (``expected_version``
  or ``If-Match``), or another writer won a race; reload and decide again;
- 404 ``not_found`` too for an id of another kind of aggregate (a product's SKU on a cart route);
- 409 for creating what exists (``cart_already_exists``, ``product_already_listed``, ``id_in_use``
  when the id is another kind of aggregate's);
- 503 ``view_unavailable`` when a projector stopped on an event it cannot apply (its views only; see
  ``/api/views/status``), ``view_behind`` when the views did not catch up with this server's writes in time;
- 422 for everything the client must change: a malformed request (``invalid_request``), a broken
  rule of the shop (its own code: ``cart_closed``, ``invalid_quantity``, ``unknown_product``, ...),
  a command id reused for another request (``command_id_reused``), a bad ``as_of`` (``invalid_timestamp``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from eventsourcing import (
    AggregateNotFound,
    CommandError,
    ConcurrencyError,
    InvalidCommand,
    InvalidTimestamp,
    StreamTypeMismatch,
)
from eventsourcing.projections import ProjectionError
from eventsourcing.sample_shopping_cart.domain import CartAlreadyExists, IdInUse, ProductAlreadyListed, ShopError

CONFLICTS = (CartAlreadyExists, ProductAlreadyListed, IdInUse)


def answer(
    status: int, error: str, detail: Any, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status, headers=headers)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
logger = logging.getLogger("eventsourcing.sample_shopping_cart.api")


def _validation_errors(errors: Any) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShopError)
    async def shop_error(request: Request, err: ShopError) -> JSONResponse:
        return answer(409 if isinstance(err, CONFLICTS) else 422, err.code, str(err))

    @app.exception_handler(AggregateNotFound)
    async def not_found(request: Request, err: AggregateNotFound) -> JSONResponse:
        return answer(404, "not_found", str(err))

    @app.exception_handler(StreamTypeMismatch)
    async def other_type(request: Request, err: StreamTypeMismatch) -> JSONResponse:
        # A cart route naming a product's id (or the reverse): there is no such cart.
        return answer(404, "not_found", str(err))

    @app.exception_handler(ConcurrencyError)
    async def conflict(request: Request, err: ConcurrencyError) -> JSONResponse:
        return answer(
            409,
            "concurrency_conflict",
            f"{err}: reload and decide again",
            expected_version=err.expected if isinstance(err.expected, int) else None,
            actual_version=err.actual,
        )

    @app.exception_handler(InvalidCommand)
    async def invalid_command(request: Request, err: InvalidCommand) -> JSONResponse:
        return answer(422, "invalid_request", _validation_errors(err.errors))

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, err: ValidationError) -> JSONResponse:
        return answer(422, "invalid_request", _validation_errors(err.errors()))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        return answer(422, "invalid_request", _validation_errors(err.errors()))

    @app.exception_handler(CommandError)
    async def reused_id(request: Request, err: CommandError) -> JSONResponse:
        return answer(422, "command_id_reused", str(err))

    @app.exception_handler(ProjectionError)
    async def view_stopped(request: Request, err: ProjectionError) -> JSONResponse:
        # The projector stopped on an event it cannot apply: its views are unavailable until an operator
        # fixes it (see /api/views/status); the write side and the other views keep working.
        return answer(503, "view_unavailable", str(err))

    @app.exception_handler(TimeoutError)
    async def view_behind(request: Request, err: TimeoutError) -> JSONResponse:
        return answer(
            503, "view_behind", str(err) or "the views did not catch up in time", headers={"Retry-After": "1"}
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        # FastAPI's own (an unknown route, a body that is not JSON) and the routes' HTTPExceptions
        code = _HTTP_CODES.get(err.status_code, "invalid_request" if err.status_code < 500 else "internal_error")
        return answer(err.status_code, code, err.detail, headers=err.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        # Still a well-formed answer (the traceback goes to the server's log through uvicorn)
        logger.exception("unexpected error answering %s %s", request.method, request.url.path)
        return answer(500, "internal_error", "the server failed to answer this request; it was logged")

    @app.exception_handler(InvalidTimestamp)
    async def bad_timestamp(request: Request, err: InvalidTimestamp) -> JSONResponse:
        return answer(422, "invalid_timestamp", str(err))
