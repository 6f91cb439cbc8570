"""End-to-end tier: the HTTP API of a real server process (uvicorn, SQLite store), over the network."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from tests.app.conftest import Server


@pytest.fixture
def client(server: Server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def open_cart(client: httpx.Client, customer: str = "alice") -> str:
    response = client.post("/api/carts", json={"customer_id": customer})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/api/carts/{response.json()['cart_id']}"
    return str(response.json()["cart_id"])


def test_a_cart_from_opening_to_check_out(client: httpx.Client) -> None:
    cart_id = open_cart(client)
    assert client.post(f"/api/carts/{cart_id}/items", json={"sku": "coffee-beans", "quantity": 2}).status_code == 200
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "mug"})
    changed = client.put(f"/api/carts/{cart_id}/items/coffee-beans", json={"quantity": 3})
    assert changed.json()["lines"][0]["quantity"] == 3
    removed = client.request("DELETE", f"/api/carts/{cart_id}/items/mug")
    assert [line["sku"] for line in removed.json()["lines"]] == ["coffee-beans"]
    discounted = client.post(f"/api/carts/{cart_id}/discount", json={"code": "welcome10"})
    assert discounted.json()["discount"] == "5.55" and discounted.json()["total"] == "49.95"
    done = client.post(f"/api/carts/{cart_id}/checkout")
    assert done.status_code == 200 and done.json()["status"] == "checked_out"
    assert done.headers["ETag"] == '"7"'

    events = client.get(f"/api/carts/{cart_id}/events").json()
    assert [e["event_type"] for e in events] == [
        "cart.opened",
        "cart.item_added",
        "cart.item_added",
        "cart.item_quantity_changed",
        "cart.item_removed",
        "cart.discount_applied",
        "cart.checked_out",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert events[-1]["data"]["total"] == "49.95" and events[0]["causation_id"] is not None

    summary = client.get(f"/api/views/cart-summaries/{cart_id}").json()  # read-your-writes: already there
    assert (summary["status"], summary["item_count"], summary["total_cents"]) == ("checked_out", 3, 4995)
    popular = {p["sku"]: p for p in client.get("/api/views/popular-products").json()}
    assert popular["coffee-beans"]["units_sold"] >= 3


def test_the_cart_as_of_any_moment(client: httpx.Client) -> None:
    cart_id = open_cart(client)
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "kettle"})
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "green-tea", "quantity": 2})
    _opened, kettle, tea = client.get(f"/api/carts/{cart_id}/events").json()

    at_kettle = client.get(f"/api/carts/{cart_id}", params={"as_of": kettle["timestamp"]}).json()
    assert at_kettle["version"] == 2 and [line["sku"] for line in at_kettle["lines"]] == ["kettle"]
    assert at_kettle["as_of"] is not None

    in_utc = dt.datetime.fromisoformat(tea["timestamp"]).astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    assert client.get(f"/api/carts/{cart_id}", params={"as_of": in_utc + "Z"}).json()["version"] == 3
    naive = client.get(f"/api/carts/{cart_id}", params={"as_of": in_utc})  # refused, as in Python and the CLI
    assert naive.status_code == 422 and naive.json()["error"] == "invalid_timestamp"
    assert f"as_of: {in_utc!r} has no timezone; write it with its offset: {in_utc}Z for UTC" in naive.json()["detail"]
    assert client.get(f"/api/carts/{cart_id}", params={"version": 1}).json()["lines"] == []

    before = client.get(f"/api/carts/{cart_id}", params={"as_of": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404 and before.json()["error"] == "not_found"
    bad = client.get(f"/api/carts/{cart_id}", params={"as_of": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_timestamp"


def test_rules_of_the_shop_are_422_with_a_code(client: httpx.Client) -> None:
    cart_id = open_cart(client)
    cases = [
        ("POST", "items", {"sku": "mug", "quantity": 0}, "invalid_quantity"),
        ("POST", "items", {"sku": "teapot"}, "unknown_product"),
        ("DELETE", "items/mug", None, "item_not_in_cart"),
        ("POST", "discount", {"code": "FREE"}, "unknown_discount_code"),
        ("POST", "checkout", None, "empty_cart"),
        ("POST", "items", {"sku": "mug", "quantity": "two"}, "invalid_request"),
    ]
    for method, path, body, code in cases:
        response = client.request(method, f"/api/carts/{cart_id}/{path}", json=body)
        assert (response.status_code, response.json()["error"]) == (422, code), response.text
        assert response.json()["detail"]
    client.post(f"/api/carts/{cart_id}/abandon", json={"reason": "changed my mind"})
    closed = client.post(f"/api/carts/{cart_id}/items", json={"sku": "mug"})
    assert (closed.status_code, closed.json()["error"]) == (422, "cart_closed")
    missing = client.post("/api/carts/no-such-cart/items", json={"sku": "mug"})
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    again = client.post("/api/carts", json={"customer_id": "bob", "cart_id": cart_id})
    assert (again.status_code, again.json()["error"]) == (409, "cart_already_exists")
    abandoned = client.get("/api/views/abandoned-carts").json()
    assert any(a["cart_id"] == cart_id and a["reason"] == "changed my mind" for a in abandoned)


def test_a_stale_version_is_409(client: httpx.Client) -> None:
    cart_id = open_cart(client)
    version = client.get(f"/api/carts/{cart_id}").headers["ETag"]
    assert version == '"1"'
    first = client.post(f"/api/carts/{cart_id}/items", json={"sku": "mug"}, headers={"If-Match": version})
    assert first.status_code == 200
    stale = client.post(f"/api/carts/{cart_id}/items", json={"sku": "kettle"}, headers={"If-Match": version})
    assert stale.status_code == 409
    assert stale.json() | {"detail": ""} == {
        "error": "concurrency_conflict",
        "detail": "",
        "expected_version": 1,
        "actual_version": 2,
    }
    body_version = client.post(f"/api/carts/{cart_id}/checkout", json={"expected_version": 1})
    assert body_version.status_code == 409
    assert client.post(f"/api/carts/{cart_id}/checkout", json={"expected_version": 2}).status_code == 200


def test_retries_with_a_command_id_change_nothing_twice(client: httpx.Client) -> None:
    command_id = str(uuid.uuid4())
    first = client.post("/api/carts", json={"customer_id": "carol"}, headers={"Command-Id": command_id})
    retry = client.post("/api/carts", json={"customer_id": "carol"}, headers={"Command-Id": command_id})
    assert first.json()["cart_id"] == retry.json()["cart_id"]  # the cart id derives from the command id
    assert retry.headers["Command-Duplicate"] == "true"
    cart_id = first.json()["cart_id"]

    add = {"sku": "mug", "quantity": 2, "command_id": str(uuid.uuid4())}
    client.post(f"/api/carts/{cart_id}/items", json=add)
    retried = client.post(f"/api/carts/{cart_id}/items", json=add)
    assert retried.status_code == 200 and retried.json()["lines"][0]["quantity"] == 2
    assert retried.headers["Command-Duplicate"] == "true"
    reused = client.post(f"/api/carts/{cart_id}/items", json={**add, "quantity": 5})
    assert (reused.status_code, reused.json()["error"]) == (422, "command_id_reused")
    assert len(client.get(f"/api/carts/{cart_id}/events").json()) == 2


def test_products_prices_change_over_time(client: httpx.Client) -> None:
    sku = f"teapot-{uuid.uuid4().hex[:6]}"
    listed = client.post("/api/products", json={"sku": sku, "name": "Teapot", "price": "25.00"})
    assert listed.status_code == 201
    before_change = listed.json()["last_event_at"]
    assert client.put(f"/api/products/{sku}/price", json={"price": "29.90"}).json()["price"] == "29.90"
    assert client.get(f"/api/products/{sku}", params={"as_of": before_change}).json()["price"] == "25.00"
    bad_price = client.put(f"/api/products/{sku}/price", json={"price": "1.999"})
    assert (bad_price.status_code, bad_price.json()["error"]) == (422, "invalid_price")
    catalog = {p["sku"]: p for p in client.get("/api/products").json()}
    assert catalog[sku]["price_cents"] == 2990
    client.post(f"/api/products/{sku}/discontinue")
    cart_id = open_cart(client)
    refused = client.post(f"/api/carts/{cart_id}/items", json={"sku": sku})
    assert (refused.status_code, refused.json()["error"]) == (422, "product_unavailable")


def test_openapi_docs_and_the_page_are_served(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/carts/{cart_id}" in schema["paths"] and "/api/views/popular-products" in schema["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and 'id="slider"' in page.text
    assert client.get("/static/app.js").status_code == 200
