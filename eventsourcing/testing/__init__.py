"""Test helpers shipped for users: the store contract suites and given/when/then scenarios.

Every scenario ends in an awaited check (``await scenario.then(...)``); one never awaited fails the
test (the pytest plugin `eventsourcing.testing.pytest_plugin`). Importing this package imports
pytest; the library itself never does.
"""

from eventsourcing.testing.contract import EventStoreContract
from eventsourcing.testing.obligations import Check, ScenarioNotAwaitedWarning
from eventsourcing.testing.scenarios import AggregateScenario, CommandScenario, ScenarioFailed

__all__ = [
    "AggregateScenario",
    "Check",
    "CommandScenario",
    "EventStoreContract",
    "ScenarioFailed",
    "ScenarioNotAwaitedWarning",
]
