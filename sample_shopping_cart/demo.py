"""The scripted demo: a morning at the shop, then its events, its views and a trip back in time.

Run it with ``python -m eventsourcing.sample_shopping_cart demo`` (on the SQLite file that ``serve`` opens
too, see `storage`; each run adds one more morning with carts of its own) or ``... demo --store URL`` (an
existing store: PostgreSQL, SQLite, Kafka, ``memory://``; ``--views URL`` puts the views elsewhere than
the store's default, see `Shop`). The commands it prints run as printed (see `runnable`).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import uuid
from collections.abc import Callable
from decimal import Decimal

from eventsourcing import Command
from eventsourcing.sample_shopping_cart.catalog import STARTER_CATALOG
from eventsourcing.sample_shopping_cart.commands import (
    AbandonCart,
    AddItem,
    ApplyDiscount,
    ChangePrice,
    ChangeQuantity,
    CheckOut,
    OpenCart,
    RemoveItem,
)
from eventsourcing.sample_shopping_cart.domain import ShopError, ShoppingCart, from_cents
from eventsourcing.sample_shopping_cart.runnable import console_script, join, python
from eventsourcing.sample_shopping_cart.shop import Shop
from eventsourcing.sample_shopping_cart.storage import default_store_url, describe
from eventsourcing.sample_shopping_cart.views import abandoned_carts, cart_summaries, popular_products
from eventsourcing.urls import redact

Print = Callable[[str], None]
MUG_PRICE = next(Decimal(price) for sku, _, price in STARTER_CATALOG if sku == "mug")


async def run_demo(store_url: str, out: Print = print, *, views_url: str | None = None) -> str:
    """Play the scenario on ``store_url`` and print what happened; returns Alice's cart id."""
    run = uuid.uuid4().hex[:6]
    alice, bob = f"cart-alice-{run}", f"cart-bob-{run}"
    async with Shop(store_url, views_url) as shop:
        out(f"== A morning at the shop (store: {redact(store_url)})")
        await shop.seed_catalog()
        out("listed the starter catalog: coffee beans, green tea, mug, grinder, kettle")
        mug = await shop.product("mug")
        if mug.price != MUG_PRICE:  # an earlier morning on this store raised it: the story starts from 9.00
            await shop.execute(ChangePrice(sku="mug", price=MUG_PRICE))
            out(f"the mug is back at {MUG_PRICE} (an earlier run on this store raised its price)")

        async def do(what: str, command: Command) -> None:
            result = await shop.execute(command)
            out(f"  {what:<58} {'(duplicate: nothing changed)' if result.duplicate else 'ok'}")

        await do("alice opens a cart", OpenCart(cart_id=alice, customer_id="alice"))
        await do("alice adds 2 x coffee beans", AddItem(cart_id=alice, sku="coffee-beans", quantity=2))
        add_mug = AddItem(cart_id=alice, sku="mug", quantity=1)
        await do("alice adds a mug", add_mug)
        await do("...her browser retries that request (same command id)", add_mug)
        await do("the mug's price goes up to 11.00", ChangePrice(sku="mug", price=Decimal("11.00")))
        await do("alice adds green tea (at today's price)", AddItem(cart_id=alice, sku="green-tea", quantity=1))
        await do("alice changes coffee beans to 3", ChangeQuantity(cart_id=alice, sku="coffee-beans", quantity=3))
        await do("alice removes the mug", RemoveItem(cart_id=alice, sku="mug"))
        await do("alice applies the code WELCOME10", ApplyDiscount(cart_id=alice, code="WELCOME10"))
        await do("alice checks out", CheckOut(cart_id=alice))
        try:
            await shop.execute(AddItem(cart_id=alice, sku="kettle"))
        except ShopError as err:
            out(f"  {'alice tries to add a kettle afterwards':<58} refused: {err.code}: {err}")
        await do("bob opens a cart", OpenCart(cart_id=bob, customer_id="bob"))
        await do("bob adds a grinder", AddItem(cart_id=bob, sku="grinder", quantity=1))
        await do("bob leaves; the cart is abandoned", AbandonCart(cart_id=bob, reason="no activity for 30 minutes"))

        out(f"\n== Alice's cart, event by event ({alice})")
        history = await shop.history(alice)
        for e in history:
            data = ", ".join(f"{k}={v}" for k, v in e.event.model_dump(mode="json").items() if k != "lines")
            out(f"  v{e.version:<2} {e.timestamp:%H:%M:%S.%f}  {e.event_type:<28} {data}")

        views = await shop.views()
        out("\n== View: cart summaries (this morning's carts)")
        for s in [s for cart_id in (alice, bob) for s in await cart_summaries(views, cart_id=cart_id)]:
            out(
                f"  {s.cart_id:<22} {s.customer_id:<6} {s.status:<12} {s.item_count:>2} items  "
                f"total {from_cents(s.total_cents):>7}  discount {s.discount_code or '-'}"
            )
            for line in s.lines:
                out(f"      {line.quantity:>2} x {line.name:<22} {from_cents(line.unit_price_cents):>7}")
        out("\n== View: popular products (joined with current prices; every run on this store)")
        for p in await popular_products(views):
            out(
                f"  {p.name:<22} now {from_cents(p.price_cents):>6}  added {p.times_added}x  sold {p.units_sold}  "
                f"revenue {from_cents(p.revenue_cents):>7}  left in abandoned carts {p.units_abandoned}"
            )
        out("\n== View: abandoned carts")
        for a in [a for a in await abandoned_carts(views) if a.cart_id == bob]:
            out(
                f"  {a.cart_id:<22} {a.customer_id:<6} {a.item_count} items  {from_cents(a.total_cents):>7}  {a.reason}"
            )

        out("\n== Time travel: Alice's cart as it was at each moment")
        for e in history:
            past = await shop.cart(alice, as_of=e.timestamp)
            out(f"  as of {e.timestamp:%H:%M:%S.%f}  v{past.version:<2} {_describe(past)}")
        before = history[0].timestamp - dt.timedelta(seconds=1)
        out(f"  as of {before:%H:%M:%S.%f}  (before it was opened: {await _exists(shop, alice, before)})")

        rebuilt = await shop.rebuild_views()
        out(f"\n== Views rebuilt from the log: {', '.join(f'{n} ({k} events)' for n, k in rebuilt.items())}")
        again = await cart_summaries(await shop.views(), cart_id=alice)
        out(f"  alice's total after the rebuild: {from_cents(again[0].total_cents)} (same as before)")

        middle = history[len(history) // 2].timestamp
        hidden = "; put the password back in" if redact(store_url) != store_url else ""
        out(f"\nReplay it yourself with the CLI (the command runs as printed{hidden}):")
        replay = [*console_script("eventsourcing", "eventsourcing.cli"), "replay", "--store", redact(store_url)]
        replay += ["--app", "eventsourcing.sample_shopping_cart.domain", "cart", alice, "--at", middle.isoformat()]
        out(f"  {join(replay)}")
        if importlib.util.find_spec("typer") is None:
            out("  (the CLI needs the cli extra: pip install 'async-eventsourcing[cli]')")
        if not store_url.lower().startswith("memory:"):
            serve = [*python(), "-m", "eventsourcing.sample_shopping_cart", "serve"]
            if store_url != default_store_url(create_folder=False):
                serve += ["--store", redact(store_url)]
            if views_url is not None:
                serve += ["--views", redact(views_url)]
            out("Click through the same carts on the shop's page (http://127.0.0.1:8000/):")
            out(f"  {join(serve)}")
        out(f"Data: {describe(store_url, views_url)}")
    return alice


def _describe(cart: ShoppingCart) -> str:
    lines = ", ".join(f"{line.quantity} x {line.sku} @ {line.unit_price}" for line in cart.lines.values()) or "empty"
    discount = f", {cart.discount_code} -{cart.discount}" if cart.discount_code else ""
    return f"{cart.status.value:<12} [{lines}]{discount}, total {cart.total}"


async def _exists(shop: Shop, cart_id: str, as_of: dt.datetime) -> str:
    from eventsourcing import AggregateNotFound

    try:
        await shop.cart(cart_id, as_of=as_of)
    except AggregateNotFound:
        return "not found, as expected"
    return "found?!"
