"""The work behind ``eventsourcing projections``: find the projectors, run them, report where they stand.

Imported only when a ``projections`` command runs (it imports the ``projections`` package).

Projectors are found in the ``--app`` modules by scanning their attributes: every `Projector`
instance, and every `Projector` subclass with handlers that no instance there already stands for
(constructed without arguments). A projector that needs arguments is declared as an instance.

Each projector gets a `ProjectionRunner` of its own (all sharing one view database), so that a
projector that stops on an error stops the command, with that error, instead of leaving the
others to run on while it silently falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, cast

from eventsourcing.cli.failures import CLIError, NotFound, UsageError
from eventsourcing.cli.rendering import jsonable
from eventsourcing.cli.replaying import LONG_REPLAY
from eventsourcing.cli.stores import check_url, open_events, scheme_of
from eventsourcing.events import DomainEvent, RecordedEvent
from eventsourcing.projections import ProjectionRunner, ProjectionStatus, Projector, SQLCheckpointStore
from eventsourcing.stores.base import EventStore

T = TypeVar("T")

STATUS_SCAN = 100_000
"""``status`` counts at most this many events behind each checkpoint (then says "more than")."""


# -- finding the projectors ---------------------------------------------------------------------------


def app_module(name: str) -> ModuleType:
    """The module `eventsourcing.cli.loading.load_app` imported for ``--app name``."""
    if name.endswith(".py") or os.sep in name or "/" in name:
        return sys.modules[Path(name).resolve().stem]
    return sys.modules[name]


def discover(modules: Iterable[ModuleType]) -> list[Projector]:
    """The projectors the modules declare, in declaration order (instances, and classes made into one)."""
    declared: list[Projector | type[Projector]] = []
    for module in modules:
        for value in list(vars(module).values()):
            is_class = (
                isinstance(value, type)
                and issubclass(value, Projector)
                and value is not Projector
                and value.__handlers__
            )
            if (is_class or isinstance(value, Projector)) and not any(value is seen for seen in declared):
                declared.append(value)
    has_instance = {type(item) for item in declared if isinstance(item, Projector)}
    found: list[Projector] = []
    for item in declared:
        if isinstance(item, Projector):
            found.append(item)
        elif item not in has_instance:
            try:
                found.append(item())
            except Exception as err:
                raise CLIError(
                    f"projector class {item.__qualname__} cannot be constructed without arguments ({err}); "
                    f"declare an instance in its module instead (`{item.name.lower()} = {item.__qualname__}(...)`)"
                ) from err
    names: dict[str, Projector] = {}
    for projector in found:
        other = names.setdefault(projector.name, projector)
        if other is not projector:
            raise CLIError(
                f"two projectors are named {projector.name!r} ({type(other).__qualname__} and "
                f"{type(projector).__qualname__}): give each a distinct `name`"
            )
    return found


def select(projectors: Sequence[Projector], names: Sequence[str], apps: Sequence[str]) -> list[Projector]:
    """The projectors named (all of them without names); `NotFound` for a name no projector has."""
    if not projectors:
        raise NotFound(
            f"no projector found in --app {', '.join(apps)} (declare a Projector subclass or instance "
            "at the top level of the module)"
        )
    if not names:
        return list(projectors)
    by_name = {p.name: p for p in projectors}
    unknown = [n for n in dict.fromkeys(names) if n not in by_name]
    if unknown:
        known = ", ".join(by_name)
        raise NotFound(f"no projector named {', '.join(map(repr, unknown))} (known: {known})")
    return [by_name[n] for n in dict.fromkeys(names)]


# -- stores ---------------------------------------------------------------------------------------------


def check_views(url: str, *, must_exist: bool) -> None:
    scheme = scheme_of(url)
    if scheme == "memory":
        raise UsageError("--views: the views live in a SQL database: use a sqlite:/// or postgresql:// URL")
    if scheme == "kafka":
        raise UsageError(
            "a Kafka store keeps no views: pass --views with a SQL database for them and their checkpoints "
            "(sqlite:///views.db or postgresql://...)"
        )
    check_url(url, must_exist=must_exist)


class CountingStore:
    """An event store that reports how many events ``read_all`` returned (for progress), else the same."""

    def __init__(self, inner: EventStore) -> None:
        self._inner = inner
        self.on_read: Callable[[int], None] | None = None

    async def read_all(self, *args: Any, **kwargs: Any) -> list[RecordedEvent[DomainEvent]]:
        page = await self._inner.read_all(*args, **kwargs)
        if self.on_read is not None and page:
            self.on_read(len(page))
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class Session:
    """The opened stores and one runner per selected projector."""

    store: CountingStore
    views: SQLCheckpointStore
    runners: list[ProjectionRunner]

    async def status(self, max_scan: int = STATUS_SCAN) -> list[ProjectionStatus]:
        found: list[ProjectionStatus] = []
        for runner in self.runners:
            found.extend(await runner.status(max_scan=max_scan))
        return found


@asynccontextmanager
async def session(
    store_url: str,
    views_url: str,
    projectors: Sequence[Projector],
    *,
    batch_size: int = 1000,
    open_runners: bool = True,
) -> AsyncIterator[Session]:
    """The stores, opened, and a runner per projector (opened, creating the view tables, if ``open_runners``)."""
    # Events of types no --app module declares are read as undecoded events: no projector handles them.
    async with open_events(store_url, lenient=True) as events:
        counting = CountingStore(events)
        async with SQLCheckpointStore(views_url) as views:
            runners = [
                ProjectionRunner(cast(EventStore, counting), views, [p], batch_size=batch_size) for p in projectors
            ]
            async with contextlib.AsyncExitStack() as stack:
                for runner in runners if open_runners else ():
                    await stack.enter_async_context(runner)
                yield Session(counting, views, runners)


# -- status ---------------------------------------------------------------------------------------------


def state_of(status: ProjectionStatus) -> str:
    """What a status means to someone reading it from another process than the runner's."""
    if status.state in ("stopped", "failed"):
        return f"{status.state}: {status.error}" if status.error else status.state
    if status.updated_at is None and status.checkpoint is None:
        return "never run" if status.lag_events else "caught up"
    return "caught up" if status.lag_events == 0 else "behind"


def status_record(status: ProjectionStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "checkpoint": jsonable(status.checkpoint),
        "head": jsonable(status.head),
        "lag_events": status.lag_events,
        "lag_exact": status.lag_exact,
        "lag_seconds": round(status.lag_seconds, 3),
        "updated_at": None if status.updated_at is None else status.updated_at.astimezone(dt.UTC).isoformat(),
        "state": state_of(status).split(":", 1)[0],
        "error": status.error,
        "dead_letters": status.dead_letters,
    }


def position_text(position: Any) -> str:
    return "-" if position is None else json.dumps(jsonable(position))


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds else "0s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def lag_text(status: ProjectionStatus) -> str:
    return f"{status.lag_events:,}" if status.lag_exact else f"> {status.lag_events:,}"


# -- progress -------------------------------------------------------------------------------------------


Advance = Callable[[int], None]


@contextmanager
def progress_bar(show: bool, description: str, total: int | None) -> Iterator[Advance]:
    """A rich progress bar on stderr counting events read (with a total when it is known)."""
    if not show:
        yield lambda n: None
        return
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from eventsourcing.cli.rendering import stderr

    console = stderr()
    count = "{task.completed:,.0f} of {task.total:,.0f} events" if total else "{task.completed:,.0f} events"
    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn(), TextColumn(count)]
    columns.append(TimeRemainingColumn() if total else TimeElapsedColumn())
    with Progress(*columns, console=console, transient=console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def wants_progress(show: bool | None, total: int | None) -> bool:
    if show is not None:
        return show
    return sys.stderr.isatty() and (total is None or total > LONG_REPLAY)


# -- concurrency and interruption ---------------------------------------------------------------------------


async def all_of(work: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the coroutines concurrently; the first to fail cancels the others and its error is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(w) for w in work]
    except BaseExceptionGroup as errors:
        raise _first(errors) from errors
    return [task.result() for task in tasks]


def _first(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    error = errors.exceptions[0]
    return _first(error) if isinstance(error, BaseExceptionGroup) else error


async def interruptible(work: Awaitable[Any], *, on_signal: Callable[[], None] | None = None) -> bool:
    """Run ``work``; on SIGINT or SIGTERM call ``on_signal`` (a graceful stop) or else cancel it.

    Returns True if it finished by itself, False if a signal ended it. A second signal cancels
    the work even when ``on_signal`` was given.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    signals = 0

    def handle() -> None:
        nonlocal signals
        signals += 1
        if on_signal is not None and signals == 1:
            on_signal()
        else:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handle)
            installed.append(sig)
    try:
        await task
    except asyncio.CancelledError:
        if not signals:
            raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return signals == 0


def since(start: float) -> float:
    return time.monotonic() - start
