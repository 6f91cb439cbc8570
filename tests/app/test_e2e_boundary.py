"""Issue 14, items 11-14: the HTTP boundary of the reference app, against a real server process.

Every answer is well-formed (a status, and for errors a JSON body with ``error`` and ``detail``);
nothing the app cannot serve afterwards is committed; no request takes the server down.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing.sample_shopping_cart.api.limits import DEFAULT_MAX_BODY
from eventsourcing.sample_shopping_cart.domain import MAX_PRICE, ShoppingCart
from tests.app.conftest import Server, start_server, stop_server


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("boundary")
    running = start_server(f"sqlite:///{directory / 'shop.db'}", directory / "server.log")
    yield running
    stop_server(running)


@pytest.fixture
def client(shop: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.url, timeout=30) as c:
        yield c


def error_of(response: httpx.Response, status: int | tuple[int, ...]) -> str:
    """The error code of a well-formed 4xx answer with one of the expected statuses."""
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, (response.status_code, response.text)
    body = response.json()
    assert set(body) >= {"error", "detail"} and body["detail"], body
    return str(body["error"])


def new_cart(client: httpx.Client, customer: str = "alice") -> str:
    opened = client.post("/api/carts", json={"customer_id": customer})
    assert opened.status_code == 201, opened.text
    return str(opened.json()["cart_id"])


def new_product(client: httpx.Client, price: str | Decimal = "10.00") -> str:
    sku = f"p-{uuid.uuid4().hex[:8]}"
    listed = client.post("/api/products", json={"sku": sku, "name": "Thing", "price": str(price)})
    assert listed.status_code == 201, listed.text
    return sku


def all_views_answer(client: httpx.Client) -> None:
    for path in (
        "/api/products",
        "/api/views/popular-products",
        "/api/views/cart-summaries",
        "/api/views/abandoned-carts",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    assert all(s["error"] is None for s in client.get("/api/views/status").json())


# -- item 11: money ------------------------------------------------------------------------------------


def test_the_overflowing_price_of_the_issue_is_refused_and_the_views_keep_answering(
    client: httpx.Client, shop: Server
) -> None:
    sku = f"p-{uuid.uuid4().hex[:8]}"
    huge = client.post("/api/products", json={"sku": sku, "name": "Overflow", "price": "92233720368547758.07"})
    assert error_of(huge, 422) in ("invalid_request", "invalid_price")
    assert client.get(f"/api/products/{sku}").status_code == 404  # nothing was stored

    top = new_product(client, MAX_PRICE)
    cart_id = new_cart(client)
    added = client.post(f"/api/carts/{cart_id}/items", json={"sku": top, "quantity": ShoppingCart.MAX_QUANTITY})
    assert added.status_code == 200, added.text
    assert Decimal(added.json()["total"]) == MAX_PRICE * ShoppingCart.MAX_QUANTITY
    assert client.post(f"/api/carts/{cart_id}/checkout").status_code == 200
    all_views_answer(client)
    popular = {p["sku"]: p for p in client.get("/api/views/popular-products").json()}
    assert popular[top]["revenue_cents"] == int(MAX_PRICE * 100) * ShoppingCart.MAX_QUANTITY

    stop_server(shop)  # and after a restart
    again = start_server(shop.store, shop.log.with_name("restarted.log"))
    shop.process, shop.url = again.process, again.url
    with httpx.Client(base_url=again.url, timeout=30) as fresh:
        all_views_answer(fresh)


@pytest.mark.parametrize(
    "price",
    ["1E+30", "1e400", "-1e400", "NaN", "Infinity", "-5", "0", "0.001", "1000000000", "99999999999999999999.99"],
)
def test_prices_out_of_bounds_are_422(client: httpx.Client, price: str) -> None:
    sku = f"p-{uuid.uuid4().hex[:8]}"
    for body in (
        f'{{"sku": "{sku}", "name": "X", "price": "{price}"}}',
        f'{{"sku": "{sku}", "name": "X", "price": {price}}}',
    ):
        listed = client.post("/api/products", content=body, headers={"content-type": "application/json"})
        error_of(listed, 422)
    existing = new_product(client)
    changed = client.put(f"/api/products/{existing}/price", json={"price": price})
    error_of(changed, 422)
    assert client.get(f"/api/products/{existing}").json()["version"] == 1


def test_a_cart_cannot_grow_past_its_bound(client: httpx.Client) -> None:
    cart_id = new_cart(client)
    sku = new_product(client)
    client.post(f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": 99})
    error_of(client.post(f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": 1}), 422)
    huge = client.post(f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": 10**30})
    error_of(huge, 422)
    digits = client.post(
        f"/api/carts/{cart_id}/items",
        content=f'{{"sku": "{sku}", "quantity": {"9" * 5000}}}',
        headers={"content-type": "application/json"},
    )
    error_of(digits, (400, 422))  # an integer JSON itself cannot read


# -- item 12: identifiers ------------------------------------------------------------------------------


BAD_IDS = ["a\x00b", "a\r\nSet-Cookie: x=1", "a\nb", "cart-😀", "x" * 101, "", " ", "a/b", "a b", "a\tb", "\u202ecart"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_identifiers_are_refused_before_anything_is_committed(client: httpx.Client, bad: str) -> None:
    marker = f"m-{uuid.uuid4().hex[:8]}"
    opened = client.post("/api/carts", json={"customer_id": marker, "cart_id": bad})
    error_of(opened, 422)
    listed = client.post("/api/products", json={"sku": bad, "name": "X", "price": "1.00"})
    error_of(listed, 422)
    cart_id = new_cart(client, marker)
    error_of(client.post(f"/api/carts/{cart_id}/items", json={"sku": bad}), 422)
    error_of(client.post(f"/api/carts/{cart_id}/discount", json={"code": bad}), 422)
    assert len(client.get(f"/api/carts/{cart_id}/events").json()) == 1
    summaries = [s for s in client.get("/api/views/cart-summaries").json() if s["customer_id"] == marker]
    assert [s["cart_id"] for s in summaries] == [cart_id]


@pytest.mark.parametrize("bad", ["a\x00b", "a\r\nb", "\x7f", "x" * 201, "\ud800", "\x1b[31m"])
def test_bad_text_is_refused(client: httpx.Client, bad: str) -> None:
    def post(path: str, body: dict[str, str]) -> httpx.Response:
        # json.dumps escapes every character: the server decodes them (a lone surrogate too)
        return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})

    error_of(post("/api/carts", {"customer_id": bad}), 422)
    cart_id = new_cart(client)
    error_of(post(f"/api/carts/{cart_id}/abandon", {"reason": bad}), 422)
    sku = f"p-{uuid.uuid4().hex[:8]}"
    error_of(post("/api/products", {"sku": sku, "name": bad, "price": "1.00"}), 422)
    assert client.get(f"/api/carts/{cart_id}").json()["status"] == "open"
    named = post("/api/products", {"sku": sku, "name": "Tasse à café ☕ 茶碗", "price": "1.00"})
    assert named.status_code == 201 and named.json()["name"] == "Tasse à café ☕ 茶碗"
    customer = post("/api/carts", {"customer_id": "Zoë Müller 🙂"})  # a customer is text, not an id
    assert customer.status_code == 201 and customer.json()["customer_id"] == "Zoë Müller 🙂"


def test_bad_identifiers_in_paths_are_4xx(client: httpx.Client) -> None:
    for path in ("%00", "a%0D%0Ab", "%F0%9F%98%80", "x" * 300, "%FF"):
        for method, route, body in (
            ("GET", f"/api/carts/{path}", None),
            ("GET", f"/api/carts/{path}/events", None),
            ("POST", f"/api/carts/{path}/items", {"sku": "mug"}),
            ("POST", f"/api/carts/{path}/checkout", None),
            ("GET", f"/api/products/{path}", None),
            ("PUT", f"/api/products/{path}/price", {"price": "1.00"}),
            ("GET", f"/api/views/cart-summaries/{path}", None),
        ):
            error_of(client.request(method, route, json=body), (404, 422))


def test_every_response_after_a_commit_is_well_formed(client: httpx.Client) -> None:
    cart_id = f"c-{uuid.uuid4().hex[:8]}.x_y~z:1@2"
    opened = client.post("/api/carts", json={"customer_id": "alice", "cart_id": cart_id})
    assert opened.status_code == 201, opened.text
    assert opened.headers["Location"].startswith("/api/carts/")
    assert client.get(opened.headers["Location"]).json()["cart_id"] == cart_id


# -- item 13: 4xx, never 5xx -----------------------------------------------------------------------------


def test_versions_and_moments_out_of_range_are_4xx(client: httpx.Client) -> None:
    cart_id = new_cart(client)
    for version in (2**63, 2**64, 2**31, 10**30, -1, 0):
        error_of(client.get(f"/api/carts/{cart_id}", params={"version": str(version)}), (404, 422))
    for as_of in (
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00+00:00",
        "0001-01-01",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59.999999+00:00",
        "9999-12-31",
        "+10000-01-01",
        "2024-13-01",
    ):
        answer = client.get(f"/api/carts/{cart_id}", params={"as_of": as_of})
        if answer.status_code != 200:
            error_of(answer, (404, 422))
        product = client.get("/api/products/mug", params={"as_of": as_of})
        if product.status_code != 200:
            error_of(product, (404, 422))
    for bad in ("W/", '"99999999999999999999999"', '"-1"', "abc"):
        error_of(client.post(f"/api/carts/{cart_id}/items", json={"sku": "mug"}, headers={"If-Match": bad}), (409, 422))
    for expected in (2**63, 10**30):
        error_of(client.post(f"/api/carts/{cart_id}/checkout", json={"expected_version": expected}), (409, 422))


def test_cart_and_product_routes_do_not_cross(client: httpx.Client) -> None:
    cart_id = new_cart(client)
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "mug"})
    sku = new_product(client)
    product_before = client.get(f"/api/products/{sku}").json()
    cart_events = len(client.get(f"/api/carts/{cart_id}/events").json())

    assert error_of(client.get(f"/api/carts/{sku}"), 404) == "not_found"
    assert error_of(client.get(f"/api/carts/{sku}/events"), 404) == "not_found"
    assert error_of(client.get(f"/api/products/{cart_id}"), 404) == "not_found"
    assert error_of(client.get(f"/api/views/cart-summaries/{sku}"), 404) == "not_found"
    for method, path, body in (
        ("POST", f"/api/carts/{sku}/items", {"sku": "mug"}),
        ("PUT", f"/api/carts/{sku}/items/mug", {"quantity": 2}),
        ("DELETE", f"/api/carts/{sku}/items/mug", None),
        ("POST", f"/api/carts/{sku}/discount", {"code": "WELCOME10"}),
        ("POST", f"/api/carts/{sku}/checkout", None),
        ("POST", f"/api/carts/{sku}/abandon", None),
        ("PUT", f"/api/products/{cart_id}/price", {"price": "3.00"}),
        ("POST", f"/api/products/{cart_id}/discontinue", None),
    ):
        error_of(client.request(method, path, json=body), 404)
    error_of(client.post("/api/carts", json={"customer_id": "x", "cart_id": sku}), 409)
    error_of(client.post("/api/products", json={"sku": cart_id, "name": "X", "price": "1.00"}), 409)
    error_of(client.post(f"/api/carts/{cart_id}/items", json={"sku": cart_id}), 422)  # a cart is no product

    assert client.get(f"/api/products/{sku}").json() == product_before
    assert len(client.get(f"/api/carts/{cart_id}/events").json()) == cart_events
    all_views_answer(client)


# -- properties: any identifier, any amount ------------------------------------------------------------

ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=120) | st.sampled_from(BAD_IDS)
AMOUNTS = (
    st.decimals(allow_nan=True, allow_infinity=True).map(str)
    | st.floats().map(repr)
    | st.integers(min_value=-(10**40), max_value=10**40).map(str)
    | st.decimals(min_value=Decimal("0.01"), max_value=MAX_PRICE, places=2).map(str)
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def well_formed(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        error_of(response, response.status_code)


@PROPERTY
@given(cart_id=ANY_TEXT, customer=ANY_TEXT, sku=ANY_TEXT)
def test_any_identifier_is_answered_well(client: httpx.Client, cart_id: str, customer: str, sku: str) -> None:
    opened = client.post("/api/carts", content=json.dumps({"customer_id": customer, "cart_id": cart_id}))
    well_formed(opened)
    if opened.status_code == 201:
        assert client.get(opened.headers["Location"]).json()["cart_id"] == opened.json()["cart_id"]
    target = opened.json()["cart_id"] if opened.status_code == 201 else new_cart(client)
    well_formed(client.post(f"/api/carts/{target}/items", content=json.dumps({"sku": sku})))
    for path in (f"/api/carts/{quote(cart_id, safe='')}", f"/api/products/{quote(sku, safe='')}"):
        well_formed(client.get(path))


@PROPERTY
@given(price=AMOUNTS, quantity=st.integers(min_value=-(10**30), max_value=10**30) | st.sampled_from([1, 99]))
def test_any_amount_is_answered_well_and_the_views_survive(client: httpx.Client, price: str, quantity: int) -> None:
    sku = f"p-{uuid.uuid4().hex[:8]}"
    number = price if re.fullmatch(r"-?[0-9.eE+]+", price) else json.dumps(price)  # a JSON number, or a string
    raw = f'{{"sku": "{sku}", "name": "X", "price": {number}}}'
    listed = client.post("/api/products", content=raw, headers={"content-type": "application/json"})
    well_formed(listed)
    if listed.status_code == 201:
        assert Decimal(listed.json()["price"]) <= MAX_PRICE
        cart_id = new_cart(client)
        well_formed(client.post(f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity}))
        well_formed(client.post(f"/api/carts/{cart_id}/checkout"))
    all_views_answer(client)


# -- item 14: request bodies -------------------------------------------------------------------------


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _peak_kb(server: Server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def _status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_large_declared_body_is_413_before_it_is_sent(shop: Server) -> None:
    with socket.create_connection(_address(shop), timeout=30) as sock:
        sock.sendall(
            b"POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 314572800\r\n\r\n"
        )
        assert _status_of(sock) == 413  # answered without a byte of the body


def test_a_large_chunked_body_is_413_and_memory_stays_bounded(shop: Server, client: httpx.Client) -> None:
    before = _peak_kb(shop)
    chunk = b"x" * 65536
    with socket.create_connection(_address(shop), timeout=30) as sock:
        sock.sendall(
            b"POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        try:
            while sent < 200 * 1024 * 1024:  # 200 MB, unless the server stops listening first
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            status = _status_of(sock)
        except (ConnectionResetError, ValueError, IndexError):
            status = 0
    assert status in (413, 0), status
    assert sent < 200 * 1024 * 1024 or status == 413
    grown_mb = (_peak_kb(shop) - before) / 1024
    assert grown_mb < 4 * DEFAULT_MAX_BODY / 2**20 + 20, f"the server grew by {grown_mb:.0f} MB"
    response = client.post("/api/products", content=b"x" * (DEFAULT_MAX_BODY + 1))
    assert error_of(response, 413) == "request_too_large"
    with httpx.Client(base_url=shop.url, timeout=30) as c:  # streamed by httpx: chunked
        streamed = c.post("/api/products", content=iter([b"{" + b" " * DEFAULT_MAX_BODY, b"}"]))
        assert error_of(streamed, 413) == "request_too_large"
    all_views_answer(client)


def test_the_body_limit_is_configurable(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'shop.db'}", tmp_path / "server.log", "--max-body", "64")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            small = c.post("/api/carts", json={"customer_id": "a"})
            assert small.status_code == 201
            big = c.post("/api/carts", json={"customer_id": "a" * 100})
            assert error_of(big, 413) == "request_too_large"
    finally:
        stop_server(server)


# -- a view that cannot apply an event stored before these bounds --------------------------------------


def test_a_stopped_view_is_503_and_the_other_views_keep_answering(tmp_path: Path) -> None:
    """A price stored before the bounds existed (written here past the aggregate's rules) stops the
    popular-products view: its routes answer 503 with the reason, every other route still works."""
    import asyncio

    from eventsourcing import Repository, open_store
    from eventsourcing.sample_shopping_cart.domain import Product, ProductListed

    store = f"sqlite:///{tmp_path / 'shop.db'}"

    async def legacy() -> None:
        async with open_store(store) as events:
            product = Product("legacy-gold")
            product.emit(ProductListed(name="Gold", price=Decimal("92233720368547758.07") * 4))
            await Repository(Product, events).save(product)

    asyncio.run(legacy())
    server = start_server(store, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            cart_id = new_cart(c)
            assert c.post(f"/api/carts/{cart_id}/items", json={"sku": "mug"}).status_code == 200
            for path in ("/api/products", "/api/views/popular-products"):
                assert error_of(c.get(path), 503) == "view_unavailable"
            assert c.get(f"/api/views/cart-summaries/{cart_id}").json()["item_count"] == 1
            assert c.get("/api/views/abandoned-carts").status_code == 200
            assert c.get(f"/api/carts/{cart_id}").status_code == 200
            stopped = {s["name"]: s for s in c.get("/api/views/status").json()}
            assert stopped["popular_products"]["error"] and stopped["cart_summary"]["error"] is None
    finally:
        stop_server(server)
