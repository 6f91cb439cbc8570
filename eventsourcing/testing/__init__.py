"""Test helpers shipped for users: the store contract suites and given/when/then scenarios.

Importing this package imports pytest; the library itself never does.
"""

from eventsourcing.testing.contract import EventStoreContract
from eventsourcing.testing.scenarios import AggregateScenario, CommandScenario, ScenarioFailed

__all__ = ["AggregateScenario", "CommandScenario", "EventStoreContract", "ScenarioFailed"]
