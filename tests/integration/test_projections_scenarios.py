"""`ProjectionScenario` (given events, then view rows) on the projectors the projection tests share."""

from __future__ import annotations

import pytest

from eventsourcing.projections import PoisonEvent
from eventsourcing.projections.testing import ProjectionScenario, ScenarioFailed
from tests.integration.projections_worker import (
    STREAM_TYPE,
    Counting,
    CountingWithDeadLetters,
    Poisoned,
    Ticked,
)


class OwnTypeOnly(Counting):
    name = "scenario-own-type-only"
    stream_types = (STREAM_TYPE,)


async def test_given_events_then_the_counters() -> None:
    await (
        ProjectionScenario(Counting(), batch_size=2)
        .given(STREAM_TYPE, "a", Ticked(n=1), Ticked(n=2), Ticked(n=3))
        .given(STREAM_TYPE, "b", Ticked(n=1))
        .given(STREAM_TYPE, "a", Ticked(n=4))
        .then_rows("counters", [{"id": "a", "n": 4}, {"id": "b", "n": 1}])
    )


async def test_a_projector_of_one_stream_type_ignores_the_others() -> None:
    scenario = (
        ProjectionScenario(OwnTypeOnly())
        .given("ptest.Other", "x", Ticked(), Ticked())
        .given(STREAM_TYPE, "mine", Ticked())
    )
    await scenario.then_rows("counters", [{"id": "mine", "n": 1}])
    audited = await scenario.then_rows("audit", [{"stream_id": "mine"}])
    assert audited == [{"stream_id": "mine"}]


async def test_a_poison_event_stops_it_or_goes_to_the_dead_letters() -> None:
    events = (Ticked(), Poisoned(reason="bad data"), Ticked())
    await ProjectionScenario(Counting()).given(STREAM_TYPE, "p", *events).then_raises(PoisonEvent, "bad data")
    dead_lettered = ProjectionScenario(CountingWithDeadLetters()).given(STREAM_TYPE, "p", *events)
    await dead_lettered.then_rows("counters", [{"id": "p", "n": 2}])  # the poison's own write is gone


async def test_a_failed_scenario_says_what_differs() -> None:
    scenario = ProjectionScenario(Counting()).given(STREAM_TYPE, "a", Ticked(), Ticked())
    with pytest.raises(
        ScenarioFailed, match=r"(?s)expected:\n    \{'id': 'a', 'n': 3\}.*actual:\n    \{'id': 'a', 'n': 2\}"
    ):
        await scenario.then_rows("counters", [{"id": "a", "n": 3}])
    with pytest.raises(ScenarioFailed, match="not a table"):
        await scenario.then_rows("nope", [])
    with pytest.raises(ScenarioFailed, match="expected PoisonEvent, but the projector applied every event"):
        await scenario.then_raises(PoisonEvent)
    poisoned = ProjectionScenario(Counting()).given(STREAM_TYPE, "p", Poisoned(reason="x"))
    with pytest.raises(ScenarioFailed, match="the projector failed: PoisonEvent"):
        await poisoned.then_rows("counters", [])
    await ProjectionScenario(Counting()).then_rows("counters", [])  # no events: an empty view
