"""`EventSpool` keeps the last N events a replay applied (all with None), in memory or in a file;
`write_events_table` lays them out in a fixed width, folding what does not fit."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from rich.cells import cell_len

from eventsourcing import DomainEvent, RecordedEvent
from eventsourcing.cli import spool as spool_module
from eventsourcing.cli.spool import EventSpool
from eventsourcing.cli.tables import EventRows, write_events_table


class Noted(DomainEvent):
    event_type = "test.spool.noted"
    text: str


def recorded(version: int, text: str = "x") -> RecordedEvent[DomainEvent]:
    return RecordedEvent(
        event=Noted(text=text),
        stream_id="s",
        version=version,
        position=version,
        timestamp=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        event_id=uuid.uuid4(),
        event_type=Noted.event_type,
        schema_version=1,
        metadata={},
    )


@pytest.mark.parametrize("keep", [None, 0, 1, 7, 1_000, 1_001, 2_500])
def test_the_last_events_are_kept_in_order_in_memory_or_in_a_file(keep: int | None) -> None:
    spool = EventSpool(keep, lambda e: f"v{e.version}")
    try:
        for start in range(1, 3_001, 500):
            spool.extend(recorded(v) for v in range(start, start + 500))
        expected = [f"v{v}" for v in range(1, 3_001)]
        expected = expected if keep is None else expected[len(expected) - keep :] if keep else []
        assert list(spool.lines()) == expected and len(spool) == len(expected)
        assert list(spool.lines()) == expected  # read again: the same
    finally:
        spool.close()


def test_only_a_few_events_stay_in_memory() -> None:
    assert spool_module.IN_MEMORY <= 1_000
    many = EventSpool(None, str)
    many.extend([recorded(1)])
    assert many._memory is None  # rendered to a file
    many.close()


def test_a_table_fits_its_width_and_folds_long_cells(capsys: pytest.CaptureFixture[str]) -> None:
    rows = EventRows()
    lines = [rows(recorded(1, "short")), rows(recorded(2, "茶" * 60))]
    write_events_table("events", lines, rows.widths, 80)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "events"
    assert {cell_len(line) for line in out[1:]} == {80}
    assert sum("│       2 │" in line for line in out) == 1 and len(out) > 8  # the long payload folded
