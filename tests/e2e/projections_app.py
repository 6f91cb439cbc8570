"""The application the ``eventsourcing projections`` tests pass with ``--app``: tallies and three projectors.

- `Counters` (a class: the CLI constructs it) counts each tally's events and sums its bumps; its
  audit table is keyed by event id, so applying an event twice would violate the primary key.
- `event_types` (an instance of `EventTypes`: the CLI uses it, and does not construct the class)
  counts events per type.
- `Picky` records the bumps of 13 as dead letters.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import Aggregate, DomainEvent, RecordedEvent, on
from eventsourcing.projections import Projector, ViewBatch


class Tally(Aggregate):
    type_name = "e2e.Tally"

    class Started(DomainEvent):
        event_type = "e2e.tally.started"
        label: str

    class Bumped(DomainEvent):
        event_type = "e2e.tally.bumped"
        by: int

    label: str = ""
    total: int = 0

    @classmethod
    def start(cls, label: str, tally_id: str | None = None) -> Tally:
        tally = cls(tally_id)
        tally.emit(cls.Started(label=label))
        return tally

    def bump(self, by: int) -> None:
        self.emit(self.Bumped(by=by))

    @on(Started)
    def _started(self, event: Started) -> None:
        self.label = event.label

    @on(Bumped)
    def _bumped(self, event: Bumped) -> None:
        self.total += event.by


metadata = MetaData()
tally_counts = Table(
    "tally_counts",
    metadata,
    Column("tally_id", Text, primary_key=True),
    Column("label", Text),
    Column("events", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
)
tally_audit = Table("tally_audit", metadata, Column("event_id", Text, primary_key=True))
event_type_counts = Table(
    "event_type_counts", metadata, Column("event_type", Text, primary_key=True), Column("n", Integer, default=0)
)
picky_sums = Table("picky_sums", metadata, Column("tally_id", Text, primary_key=True), Column("total", Integer))


class Counters(Projector):
    name = "counters"
    tables = (tally_counts, tally_audit)

    @on(Tally.Started)
    def started(self, event: RecordedEvent[Tally.Started], view: ViewBatch) -> None:
        view.execute(
            "INSERT INTO {tally_counts} (tally_id, label, events, total) VALUES (?, ?, 1, 0)",
            (event.stream_id, event.event.label),
        )
        view.execute("INSERT INTO {tally_audit} (event_id) VALUES (?)", (str(event.event_id),))

    @on(Tally.Bumped)
    def bumped(self, event: RecordedEvent[Tally.Bumped], view: ViewBatch) -> None:
        view.add("tally_counts", event.stream_id, events=1, total=event.event.by)
        view.execute("INSERT INTO {tally_audit} (event_id) VALUES (?)", (str(event.event_id),))


class EventTypes(Projector):
    name = "event_types"
    tables = (event_type_counts,)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix  # needs an argument: the CLI can only use the instance below

    @on(Tally.Started)
    def started(self, event: RecordedEvent[Tally.Started], view: ViewBatch) -> None:
        view.add("event_type_counts", self.prefix + event.event_type, n=1)

    @on(Tally.Bumped)
    def bumped(self, event: RecordedEvent[Tally.Bumped], view: ViewBatch) -> None:
        view.add("event_type_counts", self.prefix + event.event_type, n=1)


event_types = EventTypes(prefix="")


class Picky(Projector):
    name = "picky"
    tables = (picky_sums,)
    dead_letters = True

    @on(Tally.Bumped)
    def bumped(self, event: RecordedEvent[Tally.Bumped], view: ViewBatch) -> None:
        if event.event.by == 13:
            raise ValueError("13 is unlucky")
        view.add("picky_sums", event.stream_id, total=event.event.by)
