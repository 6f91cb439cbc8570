"""End-to-end tier on Kafka: the demo and the HTTP API of the reference app, unchanged, on the test broker.

The demo runs as users run it (``--store kafka://...``, views next to the store's index file), then
the CLI replays the cart it suggests. The API runs in a server process; a second process (this one)
writes to the same topics, and the server's views show those writes too.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
import time
import uuid
from pathlib import Path

import httpx

from eventsourcing.sample_shopping_cart.commands import AddItem, OpenCart
from eventsourcing.sample_shopping_cart.shop import Shop
from tests.app.conftest import start_server, stop_server
from tests.app.test_e2e_demo_cli import run


def kafka_url(bootstrap: str, prefix: str, index: Path | None = None) -> str:
    return f"kafka://{bootstrap}?prefix={prefix}&partitions=3" + ("" if index is None else f"&index={index}")


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def test_the_demo_on_kafka_then_a_replay_with_the_cli(kafka_bootstrap: str, tmp_path: Path) -> None:
    store = kafka_url(kafka_bootstrap, new_prefix(), tmp_path / "index.db")
    done = run(sys.executable, "-m", "eventsourcing.sample_shopping_cart", "demo", "--store", store)
    assert (done.returncode, done.stderr) == (0, "")
    out = done.stdout
    assert "(duplicate: nothing changed)" in out and "refused: cart_closed" in out

    events = re.findall(r"^\s+v(\d+)\s+\S+\s+(cart\.\w+)", out, re.MULTILINE)
    assert [int(v) for v, _ in events] == list(range(1, 9))
    assert (events[0][1], events[-1][1]) == ("cart.opened", "cart.checked_out")
    summaries = out.split("== View: cart summaries")[1].split("== View: popular products")[0]
    assert re.search(r"cart-alice-\w+\s+alice\s+checked_out\s+4 items\s+total\s+56\.16\s+discount WELCOME10", summaries)
    assert re.search(r"cart-bob-\w+\s+bob\s+abandoned\s+1 items\s+total\s+64\.00", summaries)
    abandoned = out.split("== View: abandoned carts")[1].split("== Time travel")[0]
    assert "no activity for 30 minutes" in abandoned
    travel = out.split("== Time travel")[1].split("== Views rebuilt")[0]
    assert [int(v) for v in re.findall(r"\sv(\d+)\s", travel)] == list(range(1, 9))
    assert "(before it was opened: not found, as expected)" in travel
    assert "alice's total after the rebuild: 56.16 (same as before)" in out
    assert (tmp_path / "index-views.db").is_file()  # the views live next to the store's index

    suggested = re.search(r"^\s+(\S*eventsourcing replay .*)$", out, re.MULTILINE)
    assert suggested is not None
    command = shlex.split(suggested.group(1))  # the URL is quoted for the shell
    assert command[command.index("--store") + 1] == store
    replay = run(*command, "--json")  # as printed (the demo ran in the same folder)
    assert replay.returncode == 0, replay.stderr
    past = json.loads(replay.stdout)
    assert (past["type"], past["stream_version"], past["version"]) == ("cart", 8, 5)
    assert past["state"]["status"] == "open" and past["state"]["lines"]["coffee-beans"]["quantity"] == 3


async def test_the_api_on_kafka_sees_its_own_writes_and_another_process(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = new_prefix()
    server = start_server(kafka_url(kafka_bootstrap, prefix, tmp_path / "index.db"), tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            opened = await client.post("/api/carts", json={"customer_id": "alice"})
            assert opened.status_code == 201, opened.text
            cart_id = opened.json()["cart_id"]
            added = await client.post(f"/api/carts/{cart_id}/items", json={"sku": "coffee-beans", "quantity": 2})
            assert added.status_code == 200, added.text
            summary = (await client.get(f"/api/views/cart-summaries/{cart_id}")).json()  # read-your-writes
            assert (summary["item_count"], summary["total_cents"]) == (2, 3700)

            # Another process writes to the same topics (views of its own, not the server's).
            async with Shop(kafka_url(kafka_bootstrap, prefix)) as other:
                await other.execute(OpenCart(cart_id="from-elsewhere", customer_id="bob"))
                await other.execute(AddItem(cart_id="from-elsewhere", sku="kettle", quantity=1))
                await other.execute(AddItem(cart_id=cart_id, sku="mug", quantity=1))
            deadline = time.monotonic() + 10
            while True:
                theirs = await client.get("/api/views/cart-summaries/from-elsewhere")
                mine = (await client.get(f"/api/views/cart-summaries/{cart_id}")).json()
                if theirs.status_code == 200 and mine["item_count"] == 3:
                    break
                assert time.monotonic() < deadline, (theirs.text, mine)
                await asyncio.sleep(0.05)
            assert (theirs.json()["customer_id"], theirs.json()["item_count"]) == ("bob", 1)
            cart = (await client.get(f"/api/carts/{cart_id}")).json()
            assert cart["version"] == 3 and {line["sku"] for line in cart["lines"]} == {"coffee-beans", "mug"}
    finally:
        stop_server(server)
    assert "Traceback" not in server.log.read_text()
