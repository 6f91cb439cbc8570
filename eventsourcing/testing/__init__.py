"""Test helpers shipped for users: the store contract suites and given/when/then scenarios.

Every scenario ends in an awaited check (``await scenario.then(...)``); one never awaited fails the
test (the pytest plugin `eventsourcing.testing.pytest_plugin`). Importing the contract suites imports
pytest and hypothesis (the ``testing`` extra); the library itself never does.

The names below load their module on first use: pytest loads this package's plugin in every session
of an environment where the library is installed, and that must not cost the contract suites' import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eventsourcing.errors import ConfigurationError

if TYPE_CHECKING:
    from eventsourcing.testing.contract import EventStoreContract
    from eventsourcing.testing.obligations import Check, ScenarioNotAwaitedWarning
    from eventsourcing.testing.scenarios import AggregateScenario, CommandScenario, ScenarioFailed

_HOMES = {
    "AggregateScenario": "eventsourcing.testing.scenarios",
    "Check": "eventsourcing.testing.obligations",
    "CommandScenario": "eventsourcing.testing.scenarios",
    "EventStoreContract": "eventsourcing.testing.contract",
    "ScenarioFailed": "eventsourcing.testing.scenarios",
    "ScenarioNotAwaitedWarning": "eventsourcing.testing.obligations",
}

_FROM_THE_TESTING_EXTRA = {"pytest", "_pytest", "pytest_asyncio", "hypothesis"}

__all__ = [
    "AggregateScenario",
    "Check",
    "CommandScenario",
    "EventStoreContract",
    "ScenarioFailed",
    "ScenarioNotAwaitedWarning",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(home)
    except ImportError as err:
        if err.name not in _FROM_THE_TESTING_EXTRA:
            raise
        raise ConfigurationError(
            f"eventsourcing.testing.{name} needs {err.name}: pip install 'async-eventsourcing[testing]'"
        ) from err
    value = getattr(module, name)
    globals()[name] = value
    return value
