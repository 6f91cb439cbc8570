"""As-of view builds listed and dropped (`list_as_of_views`, `drop_as_of_view`) on SQLite and PostgreSQL views."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventsourcing import InvalidArgument, MemoryEventStore
from eventsourcing.projections import (
    AsOfViewNotFound,
    LiveView,
    ProjectionRunner,
    Projector,
    SQLCheckpointStore,
    drop_as_of_view,
    list_as_of_views,
)
from eventsourcing.projections.view import table_copies
from tests.integration.projections_worker import Counting
from tests.integration.test_projections import T0, append, ticks, view_rows


class Shadow(Projector):
    """A live projector whose names look like an as-of build of `Counting` with suffix ``_shadow``."""

    name = "counting_shadow"
    tables = tuple(table_copies(Counting.tables, "_shadow"))


@pytest.fixture(params=["sqlite", "postgresql"])
def views_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'views.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def views(views_url: str) -> AsyncIterator[SQLCheckpointStore]:
    async with SQLCheckpointStore(views_url) as store:
        yield store


async def test_list_then_drop_as_of_builds_never_live_views(views: SQLCheckpointStore) -> None:
    store = MemoryEventStore()
    for s in range(3):
        await append(store, f"t-{s}", ticks(20, start=T0 + dt.timedelta(seconds=s)))
    projectors = [Counting(), Shadow()]
    as_of = T0 + dt.timedelta(seconds=10, microseconds=5)
    async with ProjectionRunner(store, views, projectors) as runner:
        await runner.catch_up()
        live = await view_rows(views)
        default = await runner.rebuild_as_of("counting", as_of)
        await runner.rebuild_as_of("counting", as_of, suffix="_then")
    assert default["counters"] == "counters_asof_20260301_090010_000005"

    builds = await list_as_of_views(views, projectors)
    assert [(b.projector, b.suffix, b.as_of) for b in builds] == [
        ("counting", "_asof_20260301_090010_000005", as_of),
        ("counting", "_then", None),
    ]
    assert builds[1].tables == {"counters": "counters_then", "audit": "audit_then"} and builds[1].missing == ()
    assert builds[1].name == "counting_then"
    assert builds[1].checkpoint is not None and builds[1].checkpoint.updated_at is not None

    # Refused: the live view, a live projector's names, a bad suffix, no such build or projector.
    with pytest.raises(LiveView, match="live view"):
        await drop_as_of_view(views, projectors, "counting", "")
    with pytest.raises(LiveView, match="refusing to drop checkpoint 'counting_shadow', table 'counters_shadow'"):
        await drop_as_of_view(views, projectors, "counting", "_shadow")
    with pytest.raises(InvalidArgument, match="letters, digits and underscores"):
        await drop_as_of_view(views, projectors, "counting", "_x; DROP TABLE counters")
    with pytest.raises(AsOfViewNotFound, match="no as-of build with suffix '_nope'"):
        await drop_as_of_view(views, projectors, "counting", "_nope")
    with pytest.raises(AsOfViewNotFound, match="no projector named 'other'"):
        await drop_as_of_view(views, projectors, "other", "_then")
    assert len(await list_as_of_views(views, projectors)) == 2

    dropped = await drop_as_of_view(views, projectors, "counting", "_then")
    assert dropped.tables == {"counters": "counters_then", "audit": "audit_then"}
    tables = await views.table_names()
    assert not {"counters_then", "audit_then"} & tables
    assert {"counters", "audit", "counters_shadow", "audit_shadow", default["counters"]} <= tables
    assert [b.suffix for b in await list_as_of_views(views, projectors)] == ["_asof_20260301_090010_000005"]
    with pytest.raises(AsOfViewNotFound):
        await drop_as_of_view(views, projectors, "counting", "_then")
    assert await view_rows(views) == live  # the live view is untouched

    # A build missing a table (dropped by hand) is still listed, and can be dropped.
    await views.forget("nothing", drop=table_copies(Counting.tables[1:], default["counters"][len("counters") :]))
    (partial,) = await list_as_of_views(views, projectors)
    assert partial.missing == ("audit",) and list(partial.tables) == ["counters"]
    await drop_as_of_view(views, projectors, "counting", partial.suffix)
    assert await list_as_of_views(views, projectors) == []
    async with ProjectionRunner(store, views, projectors) as runner:  # the live projectors go on as before
        await append(store, "t-9", ticks(1))
        await runner.catch_up()
    assert (await view_rows(views))["t-9"] == 1
