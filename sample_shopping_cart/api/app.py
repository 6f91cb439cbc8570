"""`create_app`: the FastAPI application — API routes, error answers, the web page, the shop's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from eventsourcing.sample_shopping_cart.api import carts, catalog, views
from eventsourcing.sample_shopping_cart.api.errors import install_error_handlers
from eventsourcing.sample_shopping_cart.api.limits import DEFAULT_MAX_BODY, BodyLimit
from eventsourcing.sample_shopping_cart.api.policy import SameOriginOnly
from eventsourcing.sample_shopping_cart.shop import Shop

STATIC = resources.files("eventsourcing.sample_shopping_cart.api") / "static"
FAVICON = "/static/favicon.svg"


def create_app(
    store_url: str, *, views_url: str | None = None, seed_catalog: bool = True, max_body: int = DEFAULT_MAX_BODY
) -> FastAPI:
    """The shop on the event store at ``store_url``. Serving it opens the store, lists the starter
    catalog (idempotently) when ``seed_catalog``, and keeps the views following the log. Request
    bodies over ``max_body`` bytes are refused with 413 before they are read."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Shop(store_url, views_url) as shop:
            if seed_catalog:
                await shop.seed_catalog()
            shop.follow()
            app.state.shop = shop
            yield

    # /docs and /redoc with the Swagger UI and Redoc files of the fastapi-offline package, served here
    # (FastAPI's own pages load them from a CDN: no API docs offline or behind a firewall).
    app = FastAPIOffline(
        favicon_url=FAVICON,
        swagger_ui_parameters={"validatorUrl": None},  # no badge asking an outside validator
        title="Shopping cart — async-eventsourcing reference app",
        version="1.0",
        description=(
            "Carts and products as event-sourced aggregates. Commands are idempotent on their id "
            "(`Command-Id` header or `command_id`); a change may name the version it is based on "
            "(`If-Match` or `expected_version`) and is refused with 409 if the cart moved on. "
            "Any cart can be read as it was at any moment (`?as_of=`)."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body)
    app.add_middleware(SameOriginOnly)
    app.include_router(carts.router)
    app.include_router(catalog.router)
    app.include_router(views.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:  # asked for by browsers (and tools) that do not read the page's <link>
        return FileResponse(str(STATIC / "favicon.svg"), media_type="image/svg+xml")

    @app.get("/api/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
