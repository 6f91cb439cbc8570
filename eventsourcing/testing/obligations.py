"""Scenarios that were started but never checked, so a forgotten ``await`` fails the test.

Every scenario ends in ``await scenario.then(...)`` (or another ``then_*``). A scenario that was
given events or a ``when`` but never reached a ``then``, and a ``then`` that was never awaited,
leave an open `Obligation` here. The pytest plugin `eventsourcing.testing.pytest_plugin` (loaded
automatically where this library is installed) fails the test that left one open. Outside pytest,
a scenario that is garbage-collected while still open warns (`ScenarioNotAwaitedWarning`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

_INTERNAL_MODULES = frozenset(
    {
        "eventsourcing.testing.obligations",
        "eventsourcing.testing.scenarios",
        "eventsourcing.projections.scenarios",
    }
)


class ScenarioNotAwaitedWarning(RuntimeWarning):
    """A scenario was garbage-collected before anything awaited its check."""


class Obligation:
    """One check the test still owes: ``what`` (what to write) and ``where`` (the user's file:line)."""

    __slots__ = ("reported", "settled", "what", "where")

    def __init__(self, what: str) -> None:
        self.what = what
        self.where = _caller()
        self.settled = False
        self.reported = False
        if len(_open) > 1000:  # a long run outside pytest: forget the settled ones
            _open[:] = [o for o in _open if not o.settled]
        _open.append(self)

    def settle(self) -> None:
        self.settled = True

    def describe(self) -> str:
        return f"{self.where}: {self.what}"

    def warn_if_open(self) -> None:
        """Called when the owner is garbage-collected: outside pytest nothing else would notice."""
        if not self.settled and not self.reported and not watchers:
            self.reported = True
            warnings.warn(self.describe(), ScenarioNotAwaitedWarning, stacklevel=2)


_open: list[Obligation] = []
watchers: list[object] = []
"""Who will report open obligations (the pytest plugin, per session); while any, collection does not warn."""


def take_open() -> list[Obligation]:
    """The obligations still open (oldest first); forget them all, settled or not."""
    pending = [o for o in _open if not o.settled and not o.reported]
    for obligation in pending:
        obligation.reported = True
    _open.clear()
    return pending


def _caller() -> str:
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") in _INTERNAL_MODULES:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


T = TypeVar("T")


class Check(Generic[T]):
    """What a scenario's ``then``/``then_*`` returns: nothing is checked until it is awaited.

    ``await`` it to run the scenario and assert; the result is what that ``then`` documents.
    """

    __slots__ = ("_obligation", "_run")

    def __init__(self, run: Callable[[], Coroutine[Any, Any, T]], what: str) -> None:
        self._run = run
        self._obligation = Obligation(
            f"{what} was never awaited, so nothing was checked: write `await` before it (in an `async def` test)"
        )

    def __await__(self) -> Generator[Any, None, T]:
        self._obligation.settle()
        return self._run().__await__()

    def __del__(self) -> None:
        self._obligation.warn_if_open()


class Tracked:
    """Base of the scenarios: the first given/when opens an obligation that a ``then`` takes over."""

    _obligation: Obligation | None = None

    def _started(self) -> None:
        if self._obligation is None:
            name = type(self).__name__
            self._obligation = Obligation(
                f"{name} was set up (given/when) but never checked: end it with `await scenario.then(...)`"
            )

    def _check(self, method: str, run: Callable[[], Coroutine[Any, Any, T]]) -> Check[T]:
        self._started()
        assert self._obligation is not None
        self._obligation.settle()  # the check returned now owes the await
        return Check(run, f"{type(self).__name__}(...).{method}(...)")

    def __del__(self) -> None:
        if self._obligation is not None:
            self._obligation.warn_if_open()
