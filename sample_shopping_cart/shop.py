"""`Shop`: the application object. One event store, one command bus, the views and their runner.

Everything that talks to the shop (the HTTP API, the demo, the tests) goes through it::

    async with Shop("sqlite:///shop.db") as shop:
        await shop.execute(OpenCart(cart_id="cart-1", customer_id="alice"))
        cart = await shop.cart("cart-1")
        summaries = await cart_summaries(await shop.views())

Where the views live: a PostgreSQL event store keeps them in the same database; a SQLite store
``shop.db`` keeps them next to it in ``shop-views.db``; a Kafka store whose URL names an index file
(``kafka://host:9092?prefix=shop&index=/var/lib/shop/index.db``) keeps them next to it in
``index-views.db``. Any other store (in memory, or Kafka with its index in memory) keeps them in a
SQLite file in a temporary directory, removed on close: the views are rebuilt from the log at each
start. ``views_url`` overrides the choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Any, Self

from eventsourcing import (
    Aggregate,
    AggregateNotFound,
    Command,
    CommandBus,
    CommandResult,
    DomainEvent,
    EventStore,
    RecordedEvent,
    Repository,
    open_store,
)
from eventsourcing.projections import CheckpointStore, ProjectionRunner, ProjectionStatus
from eventsourcing.sample_shopping_cart.catalog import starter_catalog
from eventsourcing.sample_shopping_cart.commands import build_bus
from eventsourcing.sample_shopping_cart.domain import IdInUse, Product, ShoppingCart
from eventsourcing.sample_shopping_cart.storage import default_views_url
from eventsourcing.sample_shopping_cart.views import all_projectors

_CREATIONS = ("cart.open", "product.list")


class Shop:
    def __init__(self, store_url: str, views_url: str | None = None, *, views_timeout: float = 5.0) -> None:
        self.store_url = store_url
        self.views_timeout = views_timeout
        self._temp_dir: str | None = None
        if views_url is None:
            views_url = self._default_views_url(store_url)
        self.views_url = views_url
        self.store: EventStore = open_store(store_url)
        self.bus: CommandBus = build_bus(self.store)
        self.carts = Repository(ShoppingCart, self.store)
        self.products = Repository(Product, self.store)
        self.projectors = all_projectors()
        self.runner = ProjectionRunner(self.store, views_url, self.projectors)
        # Per projector, the position of this shop's last write among the streams it follows (a
        # projector that filters by stream type never reaches positions of other types' events).
        self._last_write: dict[str, Any] = {}
        self._following: asyncio.Task[None] | None = None

    def _default_views_url(self, store_url: str) -> str:
        beside = default_views_url(store_url)
        if beside is not None:
            return beside
        # Events in memory, or on Kafka with the index in memory: SQL views need a database, so a throwaway file.
        self._temp_dir = tempfile.mkdtemp(prefix="shop-views-")
        return f"sqlite:///{Path(self._temp_dir) / 'views.db'}"

    # -- lifecycle ----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self.store.open()
        try:
            await self.runner.open()
        except BaseException:
            await self.store.close()
            raise

    async def close(self) -> None:
        await self.stop_following()
        try:
            await self.runner.close()
        finally:
            await self.store.close()
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)

    def follow(self) -> None:
        """Keep the views up to date in the background (a server); without it they catch up on reads."""
        if self._following is None:
            self._following = self.runner.start()  # a stop_following() right away stops it too

    async def stop_following(self) -> None:
        task, self._following = self._following, None
        if task is not None:
            self.runner.stop()
            with contextlib.suppress(Exception):
                await task

    # -- the write side -----------------------------------------------------------------------------

    async def execute(self, command: Command) -> CommandResult:
        """Dispatch ``command`` (idempotent on its id) and remember where its events are in the log.

        A command on an id that belongs to an aggregate of another type (a cart command naming a
        product) is refused before it runs: `AggregateNotFound`, or `IdInUse` for a creation.
        """
        aggregate_id: str | None = getattr(command, "aggregate_id", None)
        aggregate_type: str | None = getattr(command, "aggregate_type", None)
        if aggregate_id is not None and aggregate_type is not None:
            info = await self.store.stream_info(aggregate_id)
            if info is not None and info.stream_type != aggregate_type:
                message = f"{aggregate_id!r} is the id of a {info.stream_type}, not of a {aggregate_type}"
                raise IdInUse(message) if command.command_type in _CREATIONS else AggregateNotFound(message)
        result = await self.bus.dispatch(command)
        if aggregate_id is not None:
            info = await self.store.stream_info(aggregate_id)
            if info is not None:
                (last,) = await self.store.read(aggregate_id, from_version=info.version, to_version=info.version)
                for projector in self.projectors:
                    if projector.stream_types is None or info.stream_type in projector.stream_types:
                        self._last_write[projector.name] = last.position
        self.runner.wake()
        return result

    async def seed_catalog(self) -> None:
        for command in starter_catalog():
            await self.execute(command)

    # -- reading aggregates (the source of truth) ---------------------------------------------------

    async def cart(self, cart_id: str, *, as_of: dt.datetime | None = None, version: int | None = None) -> ShoppingCart:
        await self._require_type(cart_id, ShoppingCart)
        return await self.carts.get(cart_id, as_of=as_of, version=version)

    async def product(self, sku: str, *, as_of: dt.datetime | None = None) -> Product:
        await self._require_type(sku, Product)
        return await self.products.get(sku, as_of=as_of)

    async def history(
        self, aggregate_id: str, aggregate_type: type[Aggregate] | None = None
    ) -> list[RecordedEvent[DomainEvent]]:
        """The aggregate's events; `AggregateNotFound` if it has none (or is not an ``aggregate_type``)."""
        if aggregate_type is not None:
            await self._require_type(aggregate_id, aggregate_type)
        events = await self.store.read(aggregate_id)
        if not events:
            raise AggregateNotFound(f"{aggregate_id!r} has no events")
        return events

    async def _require_type(self, aggregate_id: str, aggregate_type: type[Aggregate]) -> None:
        # The repository refuses to read a stream of another type (StreamTypeMismatch, answered 404 by
        # the API); asking first keeps the shop right on any store, and names both types.
        info = await self.store.stream_info(aggregate_id)
        if info is not None and info.stream_type != aggregate_type.type_name:
            raise AggregateNotFound(
                f"no {aggregate_type.type_name} {aggregate_id!r}: that id is the id of a {info.stream_type}"
            )

    # -- the read side --------------------------------------------------------------------------------

    async def views(self, *names: str) -> CheckpointStore:
        """The view database, once the views (those named, else all) have applied this shop's own
        writes (read-your-writes). `ProjectionError` if one of them has stopped, `TimeoutError` if
        it is too far behind: a query names the views it reads, so that it does not fail for others."""
        for name, position in self._last_write.items():
            if not names or name in names:
                await self.runner.wait_until_caught_up(position, self.views_timeout, name)
        return self.runner.views

    async def catch_up(self) -> int:
        return await self.runner.catch_up()

    async def rebuild_views(self) -> dict[str, int]:
        """Drop every view and replay the whole log into it; returns events read per view."""
        return {name: await self.runner.rebuild(name) for name in self.runner.names}

    async def views_status(self) -> list[ProjectionStatus]:
        return await self.runner.status()
