"""The reference app on PostgreSQL survives its server's connections being terminated and the
server restarting: the view routes answer again without restarting the app (they answered 500
until the app was restarted, when the checkpoint store kept dead connections in its pool)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from eventsourcing import clock
from tests.app.conftest import Server, start_server, stop_server
from tests.postgres_server import PostgresServer, PostgresServerError

ROUTES = ("/api/views/cart-summaries", "/api/views/popular-products", "/api/views/abandoned-carts", "/api/views/status")


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(settings={"fsync": "off"})
    try:
        server.start()
    except PostgresServerError as err:
        server.stop()
        pytest.fail(f"cannot start the PostgreSQL cluster for the app outage test: {err}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def app(pg: PostgresServer, tmp_path: Path) -> Iterator[Server]:
    running = start_server(pg.url(), tmp_path / "server.log")
    yield running
    stop_server(running)


def answers_again(app: Server, route: str) -> httpx.Response:
    """The route's first non-5xx answer, asked until a generous deadline (the app reconnects by itself)."""
    deadline = clock.monotonic() + 60
    while True:
        response = httpx.get(f"{app.url}{route}", timeout=30)
        if response.status_code < 500 or clock.monotonic() > deadline:
            return response


async def terminate_all(pg: PostgresServer) -> int:
    conn = await asyncpg.connect(pg.url())
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND datname = current_database()"
        )
    finally:
        await conn.close()
    return len(rows)


def test_view_routes_answer_again_after_terminated_connections_and_a_restart(pg: PostgresServer, app: Server) -> None:
    opened = httpx.post(f"{app.url}/api/carts", json={"customer_id": "ada", "cart_id": "c-1"}, timeout=30)
    assert opened.status_code == 201, opened.text
    for route in ROUTES:
        assert httpx.get(f"{app.url}{route}", timeout=30).status_code == 200

    assert asyncio.run(terminate_all(pg)) > 0
    for route in ROUTES:  # at once: a read on a dead connection runs again on a new one
        response = httpx.get(f"{app.url}{route}", timeout=30)
        assert response.status_code == 200, (route, response.text)

    pg.stop(remove=False)
    pg.restart()
    for route in ROUTES:
        response = httpx.get(f"{app.url}{route}", timeout=30)
        assert response.status_code == 200, (route, response.text)
    # Writes work again too, and the views see them.
    again = httpx.post(f"{app.url}/api/carts", json={"customer_id": "bob", "cart_id": "c-2"}, timeout=30)
    assert again.status_code == 201, again.text
    summaries = answers_again(app, "/api/views/cart-summaries?limit=10")
    assert {"c-1", "c-2"} <= {s["cart_id"] for s in summaries.json()}
