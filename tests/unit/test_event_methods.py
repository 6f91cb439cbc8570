"""`@event`: events derived from command methods' signatures (issue 15 item 11), and the aggregate's
`created_on`/`modified_on`, `repr` and `create_id`."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from eventsourcing import Aggregate, ConfigurationError, DomainEvent, RecordedEvent, event, events_registry, on
from eventsourcing.testing import AggregateScenario


class Book(Aggregate):
    type_name = "library.book"

    title: str = ""
    borrower: str | None = None
    loans: int = 0
    notes: list[str] = []

    @event("Registered")
    def register(self, title: str) -> None:
        self.title = title

    @event("Lent", event_type="library.book.lent")
    def lend(self, to: str, days: int = 14) -> None:
        self.borrower = to
        self.loans += 1

    @event("Returned")
    def give_back(self) -> None:
        self.borrower = None

    @event("Noted", schema_version=2)
    def note(self, text: str, *, fee: Decimal = Decimal("0")) -> None:
        self.notes.append(text)

    def lend_checked(self, to: str) -> None:
        """Rules live in a plain method that then calls the event method."""
        if self.borrower is not None:
            raise ValueError(f"lent to {self.borrower} already")
        self.lend(to)


def recorded(events: list[Any], stream_id: str = "b-1") -> list[RecordedEvent[DomainEvent]]:
    return [
        RecordedEvent(e.event, stream_id, n, n, e.timestamp, e.event_id, e.event.event_type, 1, {})
        for n, e in enumerate(events, start=1)
    ]


def test_the_derived_event_is_a_registered_domain_event_with_a_stable_name() -> None:
    assert issubclass(Book.Registered, DomainEvent)  # type: ignore[attr-defined]
    assert Book.register.event_class is Book.Registered  # type: ignore[attr-defined]
    assert Book.Registered.event_type == "Book.Registered"  # type: ignore[attr-defined]
    assert Book.lend.event_class.event_type == "library.book.lent"
    assert Book.note.event_class.schema_version == 2
    assert events_registry.resolve("Book.Registered") is Book.register.event_class
    assert events_registry.resolve("library.book.lent") is Book.lend.event_class
    assert list(Book.lend.event_class.model_fields) == ["to", "days"]
    assert Book.lend.event_class.model_fields["days"].default == 14


def test_calling_the_method_emits_the_event_and_applies_its_body() -> None:
    book = Book("b-1")
    book.register("Dune")
    book.lend("ann")
    book.note("coffee stain", fee=Decimal("1.50"))
    assert [e.event for e in book.pending_events] == [
        Book.register.event_class(title="Dune"),
        Book.lend.event_class(to="ann", days=14),
        Book.note.event_class(text="coffee stain", fee=Decimal("1.50")),
    ]
    assert (book.title, book.borrower, book.loans, book.notes, book.version) == ("Dune", "ann", 1, ["coffee stain"], 3)


def test_a_replay_runs_the_bodies_again() -> None:
    book = Book("b-1")
    book.register("Dune")
    book.lend("ann", days=7)
    book.give_back()
    again = Book._rebuild("b-1", recorded(list(book.pending_events)))
    assert again.state() == book.state() and again.version == 3


def test_arguments_are_checked_like_a_call_and_validated_like_an_event() -> None:
    book = Book("b-1")
    with pytest.raises(TypeError, match="missing a required argument: 'title'"):
        book.register()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        book.register(title="x", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="days"):
        book.lend("ann", days="a fortnight")  # type: ignore[arg-type]
    assert book.version == 0 and not book.pending_events  # nothing emitted


def test_rules_in_a_plain_method_emit_nothing_when_broken() -> None:
    book = Book("b-1")
    book.lend_checked("ann")
    with pytest.raises(ValueError, match="lent to ann already"):
        book.lend_checked("bob")
    assert book.version == 1


async def test_scenarios_and_on_handlers_work_with_derived_events() -> None:
    book = (
        await AggregateScenario(Book)
        .given(Book.register.event_class(title="Dune"))
        .when(lambda b: b.lend_checked("ann"))
        .then(Book.lend.event_class(to="ann"))
    )
    assert book.borrower == "ann"

    class Tally(Aggregate):
        lent: int = 0

        @on(Book.lend.event_class)
        def _lent(self, event: DomainEvent) -> None:
            self.lent += 1

    tally = Tally()
    tally.emit(Book.lend.event_class(to="x"))
    assert tally.lent == 1


def test_an_event_class_declared_by_hand() -> None:
    class Shelf(Aggregate):
        class Moved(DomainEvent):
            event_type = "shelf.moved"
            room: str

        room: str = ""

        @event(Moved)
        def move(self, room: str) -> None:
            self.room = room

    shelf = Shelf()
    shelf.move("attic")
    assert shelf.pending_events[0].event == Shelf.Moved(room="attic")
    assert Shelf.move.event_class is Shelf.Moved


def test_mistakes_are_refused_when_the_class_is_declared() -> None:
    with pytest.raises(ConfigurationError, match=r"parameter 'rest' cannot become an event field"):

        class A1(Aggregate):
            @event("Done")
            def do(self, *rest: str) -> None: ...

    with pytest.raises(ConfigurationError, match="annotate parameter 'what'"):

        class A2(Aggregate):
            @event("Done")
            def do(self, what) -> None:  # type: ignore[no-untyped-def]
                ...

    with pytest.raises(ConfigurationError, match="'schema_version' is a reserved name"):

        class A3(Aggregate):
            @event("Done")
            def do(self, schema_version: int) -> None: ...

    with pytest.raises(ConfigurationError, match="already has an attribute 'Done'"):

        class A4(Aggregate):
            class Done(DomainEvent):
                pass

            @event("Done")
            def do(self) -> None: ...

    class Moved(DomainEvent):
        floor: int

    with pytest.raises(ConfigurationError, match=r"parameters \['room'\] must be the event's fields \['floor'\]"):

        class A5(Aggregate):
            @event(Moved)
            def move(self, room: str) -> None: ...

    with pytest.raises(ConfigurationError, match="must be an identifier"):

        class A6(Aggregate):
            @event("item added")
            def add(self) -> None: ...


def test_created_on_and_modified_on() -> None:
    book = Book("b-1")
    assert (book.created_on, book.modified_on) == (None, None)
    with freeze_time("2026-03-01 10:00:00"):
        book.register("Dune")
    with freeze_time("2026-03-02 11:00:00"):
        book.lend("ann")
    assert book.created_on == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    assert book.modified_on == book.last_event_at == dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)
    again = Book._rebuild("b-1", recorded(list(book.pending_events)))
    assert (again.created_on, again.modified_on) == (book.created_on, book.modified_on)
    tail = Book._rebuild("b-1", recorded(list(book.pending_events))[1:])  # not from the first event
    assert tail.created_on is None


def test_ids_are_uuids_unless_create_id_says_otherwise() -> None:
    assert UUID(Book().id).version == 4
    assert Book(id="b-7").id == "b-7"

    class Numbered(Aggregate):
        counter: ClassVar[itertools.count[int]] = itertools.count(1)

        @classmethod
        def create_id(cls) -> str:
            return f"numbered-{next(cls.counter)}"

    assert [Numbered().id, Numbered().id, Numbered("x").id] == ["numbered-1", "numbered-2", "x"]


def test_repr_is_one_readable_line() -> None:
    with freeze_time("2026-03-01 10:00:00"):
        book = Book("b-1")
        book.register("Dune")
        for n in range(30):
            book.note(f"note {n}")
    text = repr(book)
    assert text.startswith(
        "Book(id='b-1', version=31, modified_on=2026-03-01T10:00:00+00:00, pending=31, title='Dune', borrower=None, "
        "loans=0, notes=['note 0', "
    )
    assert "..." in text and "note 29" not in text and "\n" not in text
    assert repr(Book("b-2")) == "Book(id='b-2', version=0, title='', borrower=None, loans=0, notes=[])"


CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("lend"), st.text(max_size=5), st.integers(1, 60)),
        st.tuples(st.just("give_back")),
        st.tuples(st.just("note"), st.text(max_size=5)),
    ),
    max_size=20,
)


@given(title=st.text(max_size=10), calls=CALLS)
def test_replaying_the_emitted_events_reproduces_the_state(title: str, calls: list[tuple[Any, ...]]) -> None:
    book = Book("b-1")
    book.register(title)
    for name, *args in calls:
        getattr(book, name)(*args)
    events = list(book.pending_events)
    assert type(events[0].event) is Book.register.event_class
    again = Book._rebuild("b-1", recorded(events))
    assert again.state() == book.state()
    assert (again.version, again.created_on, again.modified_on) == (book.version, book.created_on, book.modified_on)


USER_MODULE = """
from decimal import Decimal

from eventsourcing import Aggregate, DomainEvent, event


class Account(Aggregate):
    owner: str = ""
    balance: Decimal = Decimal(0)

    @event("Opened")
    def open(self, owner: str) -> None:
        self.owner = owner

    @event("Deposited", event_type="account.deposited", schema_version=2)
    def deposit(self, amount: Decimal, *, note: str = "") -> None:
        self.balance += amount

    def deposit_checked(self, amount: Decimal) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.deposit(amount, note="checked")


account = Account()
account.open("alice")
account.deposit_checked(Decimal("2.50"))
deposited: type[DomainEvent] = Account.deposit.event_class
"""


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "accounts.py"
    module.write_text(source)
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache")]
    return subprocess.run([*command, str(module)], cwd=tmp_path, capture_output=True, text=True, check=False)


def test_a_user_module_using_event_passes_mypy_strict_and_wrong_calls_do_not(tmp_path: Path) -> None:
    done = mypy(tmp_path, USER_MODULE)
    assert done.returncode == 0, done.stdout + done.stderr
    extra = 'account.deposit("2.50")\naccount.open(owner=1)\naccount.open("a", "b")\n'
    wrong = mypy(tmp_path, USER_MODULE + extra)
    first = len((USER_MODULE).splitlines()) + 1
    assert wrong.returncode == 1
    assert f'accounts.py:{first}: error: Argument 1 has incompatible type "str"; expected "Decimal"' in wrong.stdout
    assert (
        f'accounts.py:{first + 1}: error: Argument "owner" has incompatible type "int"; expected "str"' in wrong.stdout
    )
    assert f"accounts.py:{first + 2}: error: Too many arguments" in wrong.stdout
