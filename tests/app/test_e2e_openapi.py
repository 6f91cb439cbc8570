"""Issue 14, item 13, as a property: every operation of the app's OpenAPI document, called with what
schemathesis generates from it (and hypothesis shrinks), is answered well by a real server process:
no 5xx, and every error a JSON document with ``error`` and ``detail``.

On the app before issue 14 this found the 500s of items 12 and 13 within seconds. Schemathesis's
own conformance checks are not used: they also judge how precisely the document describes every
4xx, which is not what this test is about.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.app.conftest import Server, start_server, stop_server

EXAMPLES = 25


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("openapi")
    server = start_server(f"sqlite:///{directory / 'shop.db'}", directory / "server.log")
    yield server
    stop_server(server)


def test_every_operation_answers_every_generated_request_well(live: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def answered_well(case: schemathesis.Case) -> None:
            response = case.call(base_url=live.url)
            where = f"{case.method} {case.formatted_path} {case.body!r}"
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body, dict) and {"error", "detail"} <= body.keys(), f"{where}: {response.text}"

        try:
            answered_well()
        except AssertionError as err:
            failures.append(f"{operation.label}: {err}")
    assert not failures, "\n\n".join(failures)
