"""A scenario that is set up but never checked fails the test (issue 15 item 8).

Each case writes a user's test file and runs it with pytest's `pytester` (in a fresh pytest
session, with the library's plugin loaded the way pytest loads it for users: by its entry point).
Before the plugin, these tests passed with at most a "coroutine ... was never awaited" warning.
"""

from __future__ import annotations

import gc
import warnings
from importlib.metadata import entry_points

import pytest

from eventsourcing import Aggregate
from eventsourcing.testing import AggregateScenario, obligations
from eventsourcing.testing.obligations import ScenarioNotAwaitedWarning

pytest_plugins = ["pytester"]

HEADER = """
from decimal import Decimal

import pytest

from eventsourcing import Aggregate, CommandBus, Command, DomainEvent, EventStore, Repository, on
from eventsourcing.projections import Projector
from eventsourcing.projections.testing import ProjectionScenario
from eventsourcing.testing import AggregateScenario, CommandScenario


class Cart(Aggregate):
    class Opened(DomainEvent):
        customer_id: str

    customer_id: str = ""

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.customer_id = event.customer_id


class OpenCart(Command):
    cart_id: str
    customer_id: str


def build_bus(store: EventStore) -> CommandBus:
    bus = CommandBus(store)
    carts = Repository(Cart, store)

    @bus.handler(OpenCart)
    async def open_cart(command: OpenCart) -> None:
        cart = Cart(command.cart_id)
        cart.emit(Cart.Opened(customer_id=command.customer_id))
        await carts.save(cart)

    return bus


OPENED = Cart.Opened(customer_id="alice")
"""

FORGOTTEN = {
    "aggregate_then": """
async def test_it() -> None:
    AggregateScenario(Cart).when(lambda c: c.emit(OPENED)).then(Cart.Opened(customer_id="bob"))
""",
    "aggregate_then_in_a_sync_test": """
def test_it() -> None:
    AggregateScenario(Cart).when(lambda c: c.emit(OPENED)).then(Cart.Opened(customer_id="bob"))
""",
    "aggregate_then_raises": """
async def test_it() -> None:
    AggregateScenario(Cart).when(lambda c: c.emit(OPENED)).then_raises(ValueError)
""",
    "command_then": """
async def test_it() -> None:
    CommandScenario(build_bus).when(OpenCart(cart_id="c", customer_id="alice")).then()
""",
    "command_then_raises": """
async def test_it() -> None:
    CommandScenario(build_bus).when(OpenCart(cart_id="c", customer_id="alice")).then_raises(KeyError)
""",
    "command_without_then": """
async def test_it() -> None:
    CommandScenario(build_bus).given(Cart, "c", OPENED).when(OpenCart(cart_id="c", customer_id="alice"))
""",
    "projection_then_rows": """
class Nothing(Projector):
    pass

async def test_it() -> None:
    ProjectionScenario(Nothing()).given(Cart, "c", OPENED).then_rows("t", [{"x": 1}])
""",
    "from_a_fixture": """
@pytest.fixture
def scenario() -> AggregateScenario[Cart]:
    return AggregateScenario(Cart).when(lambda c: c.emit(OPENED))

async def test_it(scenario: AggregateScenario[Cart]) -> None:
    scenario.then(Cart.Opened(customer_id="bob"))
""",
}


def run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_user=HEADER + body)
    return pytester.runpytest("-p", "no:cacheprovider")


@pytest.mark.parametrize("case", sorted(FORGOTTEN))
def test_a_scenario_never_awaited_fails_the_test(pytester: pytest.Pytester, case: str) -> None:
    result = run(pytester, FORGOTTEN[case])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_user.py:*never*", "FAILED test_user.py::test_it*"])
    result.stdout.no_fnmatch_line("*Traceback*")  # one clear message, not a trace into the plugin


def test_the_message_says_where_and_what_to_write(pytester: pytest.Pytester) -> None:
    result = run(pytester, FORGOTTEN["command_then"])
    written = (pytester.path / "test_user.py").read_text().splitlines()
    line = written.index(FORGOTTEN["command_then"].splitlines()[2]) + 1
    result.stdout.fnmatch_lines(
        [
            f"*test_user.py:{line}: CommandScenario(...).then(...) was never awaited, so nothing was checked: "
            "write `await` before it (in an `async def` test)"
        ]
    )


def test_awaited_scenarios_pass_and_failing_ones_fail(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
async def test_aggregate() -> None:
    cart = await AggregateScenario(Cart).when(lambda c: c.emit(OPENED)).then(OPENED)
    assert cart.customer_id == "alice"

async def test_command() -> None:
    await CommandScenario(build_bus).when(OpenCart(cart_id="c", customer_id="alice")).then(OPENED)

async def test_bus_only() -> None:
    scenario = CommandScenario(build_bus)  # set up nothing: only its bus and store are used
    await scenario.bus.dispatch(OpenCart(cart_id="c", customer_id="alice"))

async def test_wrong_events() -> None:
    await CommandScenario(build_bus).when(OpenCart(cart_id="c", customer_id="alice")).then()

def test_nothing_to_do_with_scenarios() -> None:
    assert True
""",
    )
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["E*ScenarioFailed: events differ:", "FAILED test_user.py::test_wrong_events*"])


def test_an_error_in_the_test_is_reported_rather_than_the_missing_await(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
async def test_it() -> None:
    AggregateScenario(Cart).when(lambda c: c.emit(OPENED)).then()
    raise RuntimeError("the test's own failure")

async def test_next() -> None:
    pass  # the first test's open scenario is not blamed on this one
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_user.py::test_it - RuntimeError: the test's own failure"])


def test_pytest_loads_the_plugin_by_its_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("eventsourcing.testing.pytest_plugin") == "eventsourcing.testing.pytest_plugin"


class Note(Aggregate):
    pass


def test_outside_pytest_an_unawaited_check_warns_when_collected() -> None:
    watchers, obligations.watchers[:] = list(obligations.watchers), []  # as if pytest were not running
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            AggregateScenario(Note).when(lambda note: None).then()
            gc.collect()
    finally:
        obligations.watchers[:] = watchers
    obligations.take_open()  # keep this test's own deliberate omission from failing it
    assert [w.category for w in caught] == [ScenarioNotAwaitedWarning]
    assert "AggregateScenario(...).then(...) was never awaited" in str(caught[0].message)


def test_with_plugin_autoloading_disabled_the_documented_option_loads_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_user=HEADER + FORGOTTEN["aggregate_then_in_a_sync_test"])
    without = pytester.runpytest("-p", "no:cacheprovider")
    without.assert_outcomes(passed=1)  # what the docs warn about: nothing checks the scenario
    loaded = pytester.runpytest("-p", "no:cacheprovider", "-p", "eventsourcing.testing.pytest_plugin")
    loaded.assert_outcomes(failed=1)
    loaded.stdout.fnmatch_lines(["*AggregateScenario(...).then(...) was never awaited*"])
