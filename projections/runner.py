"""`ProjectionRunner`: follows the global log and keeps projectors' views, exactly once.

For each projector, in a loop: read the next page of the log after its checkpoint, run the
handlers over the page (they record writes on a `ViewBatch`), then commit the writes and the new
checkpoint in one transaction of the view database, by compare-and-set on the checkpoint the
page was read after. A crash anywhere loses the uncommitted batch and nothing else; a second
runner of the same projector loses the compare-and-set, rolls back and re-reads. The page *is*
the batch: one read, one transaction per ``batch_size`` events.

Within one runner, a projector takes one step at a time: `catch_up`, `wait_until_caught_up`,
`run` and `rebuild` may be called from any number of tasks at once, and each of their steps
holds the projector's step lock from the read of the page to the commit of its batch. The
compare-and-set still names the checkpoint the page was read after, so a step whose commit's
outcome is unknown (cancelled, connection lost) is never followed by a second apply of its page:
the next step's compare-and-set fails, the checkpoint is reloaded, and the page read again.

A following `run` survives outages: an event or view store that is unavailable (`StoreUnavailable`)
makes the projector retry with backoff (``retry_interval`` doubling up to ``max_retry_interval``)
and `status` shows it as ``"retrying"`` with the error and since when; once the store answers
again it resumes from its stored checkpoint.

A handler that raises stops its projector at the last good checkpoint (the events before the
failing one are committed) with a `PoisonEvent` naming the event — or, for projectors with
``dead_letters = True``, the event is recorded in the dead-letter table, in the transaction that
moves the checkpoint past it, and the projector goes on. Errors of the database itself (a
constraint violated by the batch's writes, say) are never dead-lettered: the batch rolls back and
the projector stops with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn
from uuid import UUID

from sqlalchemy import Table

from eventsourcing import (
    AppendResult,
    DomainEvent,
    RecordedEvent,
    SerializationError,
    StoreError,
    StoreUnavailable,
    clock,
)
from eventsourcing.clock import require_aware
from eventsourcing.errors import Undecodable
from eventsourcing.projections.as_of import default_suffix
from eventsourcing.projections.checkpoints import Checkpoint, CheckpointStore, DeadLetter
from eventsourcing.projections.errors import CheckpointConflict, PoisonEvent, ProjectionError
from eventsourcing.projections.log import GlobalLog
from eventsourcing.projections.projector import Handler, Projector
from eventsourcing.projections.reactor import DUE, FIRED, Reactor
from eventsourcing.projections.status import ProjectionStatus
from eventsourcing.projections.view import ViewBatch, ViewTables, table_copies
from eventsourcing.stores.notify import NotifiesAppends
from eventsourcing.stores.sql.rows import iso_utc

_Bad = RecordedEvent[DomainEvent] | Undecodable
"""An event a projector cannot apply: one its handler failed on, or one that does not decode."""

Events = list[RecordedEvent[DomainEvent]]

STATUS_PAGE = 1000
"""`ProjectionRunner.status` reads at most this many events after a checkpoint (one page)."""

_log = logging.getLogger("eventsourcing.projections")

_SYNC_INTERVAL = 0.1
"""`ProjectionRunner.wait_until_caught_up` asks a store with ``sync()`` to read ahead at most this often."""


class _Projection:
    """One projector as this runner runs it (its checkpoint name, tables, state)."""

    def __init__(
        self,
        projector: Projector,
        store: CheckpointStore,
        covers: Callable[[Any, Any], bool],
        *,
        suffix: str = "",
        as_of: dt.datetime | None = None,
    ) -> None:
        self.projector = projector
        self.name = f"{projector.name}{suffix}"
        self.handlers: dict[type[DomainEvent], Handler] = projector.handlers()
        self.reactor = projector if isinstance(projector, Reactor) else None
        self.flush: Callable[[], Awaitable[None]] | None = None
        self.quiet_until: Any = None
        """A reactor being rebuilt sends nothing for the events up to here (it had reacted to them)."""
        self.sent_in_step: set[UUID] = set()
        """The events whose commands this step has sent: a page committed in parts around a failing
        event runs the handlers of the part before it again, and must not send their commands again."""
        self._covers = covers
        wrap = projector.wrap_handler
        self.handlers = {t: wrap(h, self.sends) for t, h in self.handlers.items()}
        if projector.acknowledges:
            self.flush = projector.acknowledge
        self.in_process = store.dialect is None
        """In-process views (`ViewBatch.call` effects): each event's effects are marked, see `ViewBatch.begin_event`."""
        self.is_async = projector.has_async_handlers or self.in_process
        self.exclusive = False
        """An as-of build: a checkpoint moved by someone else means another build of it began: give up."""
        self.table_objects: list[Table] = table_copies(projector.tables, suffix)
        self.tables = ViewTables.of(projector.tables, store.dialect, suffix)
        self.as_of = as_of
        self.checkpoint = Checkpoint(self.name)
        self.state = "idle"
        self.error: BaseException | None = None
        self.conflicts = 0
        self.wakeup = asyncio.Event()
        self.lock = asyncio.Lock()
        """Held by a step from the read of its page to the commit of its batch (see the module doc)."""
        self.outage: StoreUnavailable | None = None
        self.outage_since: dt.datetime | None = None
        self.retries = 0

    def sends(self, event: RecordedEvent[DomainEvent]) -> bool:
        """Whether a reactor sends the commands of ``event`` (not for a view as of a time, nor for
        the events a rebuild projects again that the reactor had reacted to before it)."""
        if self.as_of is not None or event.event_id in self.sent_in_step:
            return False
        if self.quiet_until is not None and self._covers(self.quiet_until, event.position):
            return False
        self.sent_in_step.add(event.event_id)
        return True


class ProjectionRunner:
    """Runs projectors over an event store, keeping their views in a `CheckpointStore`'s database.

    ``views`` is a checkpoint store or a URL for one (``sqlite:///views.db``, ``postgresql://...``,
    ``memory://``); a store given as a URL is opened and closed by the runner. Use the runner as
    an async context manager: entering it creates the projectors' tables and loads checkpoints.
    """

    def __init__(
        self,
        store: GlobalLog,
        views: CheckpointStore | str,
        projectors: Sequence[Projector],
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.005,
        max_poll_interval: float = 0.25,
        retry_interval: float = 0.05,
        max_retry_interval: float = 5.0,
        deadline_interval: float = 1.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 0 < retry_interval <= max_retry_interval:
            raise ValueError("retry_interval must be positive and at most max_retry_interval")
        names = [p.name for p in projectors]
        if len(set(names)) != len(names):
            raise ValueError(f"two projectors share a name: {names}")
        self.store = store
        self._owns_views = isinstance(views, str)
        self.views: CheckpointStore = _open_views(views) if isinstance(views, str) else views
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.deadline_interval = deadline_interval
        self._projections = {p.name: _Projection(p, self.views, store.covers) for p in projectors}
        self._progress = asyncio.Event()
        self._followers = 0  # `run` calls in progress
        self._stop = asyncio.Event()
        self._runs: dict[asyncio.Event, int] = {}  # the stop event of each generation of runs -> runs in it
        self._follow_tasks: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}  # loop, its stop event
        self._loops_changed = asyncio.Event()
        self._as_of_locks: dict[str, asyncio.Lock] = {}

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> ProjectionRunner:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._owns_views:
            await self.views.open()
        for p in self._projections.values():
            if p.table_objects:
                await self.views.create_tables(p.table_objects)
            p.checkpoint = await self.views.load(p.name)

    async def close(self) -> None:
        self.stop()
        if self._owns_views:
            await self.views.close()

    @property
    def names(self) -> list[str]:
        return list(self._projections)

    # -- running ----------------------------------------------------------------------------------

    async def catch_up(self, *names: str) -> int:
        """Apply every event now in the log to each projector (or those named); return how many were read.

        Raises the first `PoisonEvent` (or other error) after the other projectors have caught up.
        """
        selected = self._select(names)
        results = await asyncio.gather(*(self._catch_up(p) for p in selected), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def run(self) -> None:
        """Catch up, then follow the log live (short polls with backoff; `wake` hurries them) until `stop`.

        A store that is unavailable is retried with backoff (see the module doc); a projector
        stopped by any other error stays stopped (see `status`) while the others go on; when every
        projector has stopped with an error, the first error is raised. Calling `run` again while
        it runs is harmless: the projectors still take one step at a time.
        """
        await self._run_until(self._stop)

    def start(self) -> asyncio.Task[None]:
        """`run` in a task of its own. Unlike ``asyncio.create_task(runner.run())``, the task belongs
        to the runs in progress from this call on: a `stop` called before the task got to run stops
        it too (a server shut down right after it started)."""
        return asyncio.create_task(self._run_until(self._stop), name="projection-runner")

    async def _run_until(self, stop: asyncio.Event) -> None:
        if stop.is_set():  # stopped before it began
            return
        async with self._append_notices():
            await self._run(stop)

    @contextlib.asynccontextmanager
    async def _append_notices(self) -> AsyncIterator[None]:
        """While running, a store that announces appends (`NotifiesAppends`: LISTEN/NOTIFY on
        PostgreSQL) wakes the followers at once; polling stays as the fallback."""
        async with contextlib.AsyncExitStack() as stack:
            if isinstance(self.store, NotifiesAppends):
                try:
                    await stack.enter_async_context(self.store.subscribe(self.wake))
                except Exception as err:  # e.g. the server is down: the followers poll (and retry)
                    _log.warning("no append notices from the store (%s): polling only", err)
            yield

    async def _run(self, stop: asyncio.Event) -> None:
        # `stop()` sets ``stop`` and makes a new event for the runs started after it.
        self._followers += 1
        timers = [
            asyncio.create_task(self._fire_loop(p, stop))
            for p in self._projections.values()
            if p.reactor and p.reactor.deadlines
        ]
        self._runs[stop] = self._runs.get(stop, 0) + 1
        for p in self._projections.values():
            self._ensure_following(p)
        try:
            while True:  # follow loops end on errors and stop; a rebuild or a catch-up may start one again
                loops = [t for (t, s) in self._follow_tasks.values() if s is stop and not t.done()]
                if not loops:
                    break
                changed = asyncio.create_task(self._loops_changed.wait())
                try:
                    await asyncio.wait([*loops, changed], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                self._loops_changed.clear()
            asked_to_stop = stop.is_set()
        finally:
            self._followers -= 1
            self._runs[stop] -= 1
            if not self._runs[stop]:
                del self._runs[stop]
                stop.set()  # the timers end with the last run of this generation
            await asyncio.gather(*timers, return_exceptions=True)
        errors = [p.error for p in self._projections.values() if p.error is not None]
        if errors and len(errors) == len(self._projections) and not asked_to_stop:
            raise errors[0]

    def stop(self) -> None:
        """Ask the `run` calls in progress to return after the batches in progress (a `run` started
        after this call follows the log as usual)."""
        self._stop.set()
        self._stop = asyncio.Event()
        self.wake()

    def _ensure_following(self, p: _Projection) -> None:
        """Start ``p``'s follow loop for the `run` calls in progress if it has none (its loop ended on
        an error that a rebuild or a catch-up has since cleared, or belongs to runs told to stop)."""
        stop = self._stop
        if stop not in self._runs or p.error is not None:
            return
        current = self._follow_tasks.get(p.name)
        if current is not None and current[1] is stop and not current[0].done():
            return
        self._follow_tasks[p.name] = (asyncio.create_task(self._follow(p, stop)), stop)
        self._loops_changed.set()

    def wake(self) -> None:
        """Poll now (for example right after an append in this process)."""
        for p in self._projections.values():
            p.wakeup.set()

    async def wait_until_caught_up(
        self,
        position: AppendResult | Any,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the call's contract, as in asyncio.wait_for
        *names: str,
    ) -> None:
        """Return once every projector (or those named) has applied the events up to ``position``
        (a position token or an `AppendResult`), for read-your-writes. Raises `TimeoutError`, or
        the projector's error if it has stopped.

        While `run` is active this waits for it; otherwise it catches up by itself.
        """
        if not isinstance(timeout, int | float) or timeout != timeout:
            raise ValueError(f"timeout must be a number of seconds, not {timeout!r}")
        target = position.position if isinstance(position, AppendResult) else position
        selected = self._select(names)
        deadline = clock.monotonic() + timeout
        synced_at = -_SYNC_INTERVAL
        while True:
            for p in selected:
                if p.error is not None:
                    raise ProjectionError(f"projection {p.name!r} has stopped: {p.error}") from p.error
            if all(self._covers(p, target) for p in selected):
                return
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                behind = [p for p in selected if not self._covers(p, target)]
                outages = "".join(
                    f"; {p.name!r} is retrying since {p.outage_since:%H:%M:%S} after: {p.outage}"
                    for p in behind
                    if p.outage is not None and p.outage_since is not None
                )
                raise TimeoutError(
                    f"projections {[p.name for p in behind]} did not reach position {target!r} "
                    f"within {timeout}s{outages}"
                )
            if clock.monotonic() - synced_at >= _SYNC_INTERVAL and await self._sync_to(target, remaining):
                synced_at = clock.monotonic()
                continue  # the runner may have applied it meanwhile
            if self._followers:
                progress = self._progress
                self.wake()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(progress.wait(), min(remaining, self.max_poll_interval))
            else:
                await asyncio.wait_for(self.catch_up(*(p.name for p in selected)), remaining)
                if not all(self._covers(p, target) for p in selected):
                    await asyncio.sleep(min(self.poll_interval, max(remaining, 0)))

    # -- operations ---------------------------------------------------------------------------------

    async def rebuild(self, name: str) -> int:
        """Reset the projector (drop and re-create its tables, checkpoint back to the start, dead
        letters forgotten) in one transaction, then project the whole log into it again."""
        p = self._select((name,))[0]
        async with p.lock:  # not in the middle of another task's step
            if p.reactor is not None:
                p.quiet_until = (await self.views.load(p.name)).position
            await self._reset_in_process_view(p)
            p.checkpoint = await self.views.reset(p.name, drop=p.table_objects, create=p.table_objects)
            p.error, p.state = None, "idle"
            self._ensure_following(p)
        return await self._catch_up(p)

    async def _reset_in_process_view(self, p: _Projection) -> None:
        """In-process views are the projector's own objects, which a checkpoint store cannot drop: the
        projector clears them (`Projector.reset_views`) before the log is projected into them again."""
        if not p.in_process or (await self.views.load(p.name)).position is None:
            return
        try:
            p.projector.reset_views()
        except NotImplementedError:
            raise ProjectionError(
                f"projection {p.name!r} keeps its view in Python objects (ViewBatch.call), which the runner cannot "
                "clear: define reset_views() on the projector to clear them, then rebuild"
            ) from None

    async def rebuild_as_of(self, name: str, as_of: dt.datetime, *, suffix: str | None = None) -> dict[str, str]:
        """Build the view as it stood at ``as_of`` into tables named with ``suffix`` (default
        ``_asof_YYYYMMDD_HHMMSS``): the whole log is read and only events with timestamp <= as_of are
        applied. Returns table name -> the as-of table's name. The live view is not touched.

        It has its own checkpoint (the projector's name + suffix), so an interrupted build can be
        started again; it always starts from scratch.
        """
        as_of = require_aware(as_of, "as_of").astimezone(dt.UTC)
        if suffix is None:
            suffix = default_suffix(as_of)
        if not suffix.replace("_", "").isalnum():
            raise ValueError(f"suffix {suffix!r}: use letters, digits and underscores")
        base = self._select((name,))[0]
        if base.in_process:
            raise ProjectionError(
                f"projection {name!r} keeps its view in Python objects (ViewBatch.call): an as-of build would write "
                "into the live view; build views as of a time with SQL views (SQLCheckpointStore)"
            )
        p = _Projection(base.projector, self.views, self.store.covers, suffix=suffix, as_of=as_of)
        self._refuse_collisions(p)
        p.exclusive = True
        lock = self._as_of_locks.setdefault(p.name, asyncio.Lock())
        async with lock:  # one build of these tables at a time in this runner
            p.checkpoint = await self.views.reset(p.name, drop=p.table_objects, create=p.table_objects)
            await self._catch_up(p)
        return dict(p.tables.names)

    def _refuse_collisions(self, p: _Projection) -> None:
        """An as-of build's checkpoint and tables must not be another projector's of this runner."""
        theirs = {other.name for other in self._projections.values()}
        tables = {t.name: other.name for other in self._projections.values() for t in other.table_objects}
        clash = [f"checkpoint {p.name!r}"] if p.name in theirs else []
        clash += [f"table {t.name!r} (of {tables[t.name]!r})" for t in p.table_objects if t.name in tables]
        if clash:
            raise ProjectionError(
                f"an as-of build of {p.projector.name!r} as {p.name!r} would use another projector's "
                f"{', '.join(clash)}: choose another suffix"
            )

    async def status(self, *names: str, max_scan: int = 100_000) -> list[ProjectionStatus]:
        """Checkpoint, head and lag of each projector (or those named), read from the databases now.

        Cheap whatever the lag: the store's `head` tells whether the projector is caught up, and
        one page (at most ``min(max_scan, 1000)`` events) after the checkpoint gives the age of the
        oldest event not applied and the lag in events, exact when that page reaches the head (else
        a lower bound, ``lag_exact`` False). A poison event recorded by a runner in another process
        shows as ``state="stopped"`` with its error.
        """
        out = []
        for p in self._select(names):
            try:
                out.append(await self._status(p, max_scan))
            except StoreUnavailable as err:  # say what this runner knows, and why it knows no more
                out.append(
                    ProjectionStatus(
                        name=p.name,
                        checkpoint=p.checkpoint.position,
                        head=None,
                        lag_events=0,
                        lag_exact=False,
                        lag_seconds=0.0,
                        updated_at=p.checkpoint.updated_at,
                        state="retrying" if p.outage is not None else "unavailable",
                        error=f"{type(err).__name__}: {err}",
                        outage_since=p.outage_since,
                    )
                )
        return out

    async def _status(self, p: _Projection, max_scan: int) -> ProjectionStatus:
        checkpoint = await self.views.load(p.name)
        types = p.projector.stream_types
        head = await self.store.head(stream_types=types)
        count, exact, lag_seconds = 0, True, 0.0
        if not self.store.covers(checkpoint.position, head):
            try:
                page = await self.store.read_all(
                    after=checkpoint.position, limit=max(1, min(max_scan, STATUS_PAGE)), stream_types=types
                )
            except SerializationError as err:  # an event that does not decode: count up to it, and it
                if err.undecodable is None:
                    raise
                page, count, exact = err.undecodable.preceding, len(err.undecodable.preceding) + 1, False
            else:
                if page:
                    count, exact = len(page), self.store.covers(page[-1].position, head)
            if page:
                lag_seconds = max(0.0, (clock.now() - page[0].timestamp).total_seconds())
        state, error = p.state, None if p.error is None else str(p.error)
        if p.outage is not None:
            error = f"{type(p.outage).__name__}: {p.outage}"
        if error is None and checkpoint.error is not None:
            state, error = "stopped", checkpoint.error
        dead = len(await self.views.dead_letters(p.name))
        return ProjectionStatus(
            name=p.name,
            checkpoint=checkpoint.position,
            head=head,
            lag_events=count,
            lag_exact=exact,
            lag_seconds=lag_seconds,
            updated_at=checkpoint.updated_at,
            state=state,
            error=error,
            dead_letters=dead,
            outage_since=p.outage_since,
        )

    async def fire_deadlines(self, *names: str) -> int:
        """Send the commands of every deadline due now (application clock) of each reactor (or those
        named), each with the command id it was scheduled with; return how many were sent.

        `run` does this on its own every ``deadline_interval`` seconds. A deadline is deleted after
        its command is dispatched, by a commit fenced by the reactor's checkpoint: sent twice (two
        processes, a crash in between), its command is a duplicate the bus recognises. A command
        that fails is dead-lettered for reactors with ``dead_letters``; otherwise the deadline stays
        and the error is raised.
        """
        fired = 0
        for p in self._select(names):
            reactor = p.reactor
            if reactor is None or not reactor.deadlines:
                continue
            prepare = p.tables.prepare
            rows = await self.views.fetch(prepare(reactor.sql[DUE]), (iso_utc(clock.now()),))
            for key, _due_at, command_type, payload, command_id in rows:
                dead: DeadLetter | None = None
                try:
                    command = reactor.scheduled(command_type, payload, command_id)
                    await reactor.bus.dispatch(command, deadline=key)
                except (StoreError, CheckpointConflict):
                    raise
                except Exception as err:
                    if not reactor.dead_letters:
                        raise ProjectionError(
                            f"reactor {p.name!r}: the deadline {key!r} ({command_type}) failed: "
                            f"{type(err).__name__}: {err}"
                        ) from err
                    dead = DeadLetter(
                        p.name,
                        UUID(command_id),
                        f"deadline:{key}",
                        0,
                        command_type,
                        p.checkpoint.position,
                        f"{type(err).__name__}: {err}",
                    )
                view = ViewBatch(p.tables, self.views)
                view.execute(reactor.sql[FIRED], (key, command_id))
                async with p.lock:
                    try:
                        p.checkpoint = await self.views.commit(p.checkpoint, p.checkpoint.position, view, dead)
                    except CheckpointConflict:  # another runner moved it: fired again later, to no effect
                        await self._reload(p)
                        continue
                fired += dead is None
        return fired

    async def _fire_loop(self, p: _Projection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if p.error is None:
                try:
                    await self.fire_deadlines(p.name)
                except StoreUnavailable as err:
                    _log.warning("reactor %r: deadlines not fired, the store is unavailable: %s", p.name, err)
                except Exception as err:
                    p.error, p.state = err, "failed"
                    self._signal_progress()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.deadline_interval)

    async def dead_letters(self, name: str) -> list[DeadLetter]:
        return await self.views.dead_letters(self._select((name,))[0].name)

    # -- the loop -------------------------------------------------------------------------------------

    def _select(self, names: Sequence[str]) -> list[_Projection]:
        if not names:
            return list(self._projections.values())
        unknown = [n for n in names if n not in self._projections]
        if unknown:
            raise ProjectionError(f"no projector named {', '.join(map(repr, unknown))} (known: {self.names})")
        return [self._projections[n] for n in names]

    async def _catch_up(self, p: _Projection) -> int:
        """Step until a step of this call's own reads a short page (another task's short page, read
        before this call began, would not cover what was appended since)."""
        total = 0
        while True:
            count, at_end = await self._step(p)
            total += count
            if at_end:
                return total

    async def _follow(self, p: _Projection, stop: asyncio.Event) -> None:
        if p.error is not None:
            return
        delay = self.poll_interval
        while not stop.is_set():
            try:
                count, at_end = await self._step(p)
            except StoreUnavailable as err:
                await self._retry_later(p, err, stop)
                continue
            except Exception as err:
                p.error = err
                p.state = "stopped" if isinstance(err, PoisonEvent) else "failed"
                self._signal_progress()
                return
            if count:  # events arrive: poll at the short interval again (backoff is for an idle log)
                delay = self.poll_interval
            if not at_end:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.wakeup.wait(), delay)
            if p.wakeup.is_set():
                p.wakeup.clear()
                delay = self.poll_interval
            else:
                delay = min(delay * 2, self.max_poll_interval)

    async def _retry_later(self, p: _Projection, err: StoreUnavailable, stop: asyncio.Event) -> None:
        """An unavailable store: record the outage (for `status`), wait with backoff (`stop` cuts it short)."""
        if p.outage is None:
            p.outage_since = clock.now()
            _log.warning("projection %r: the store is unavailable, retrying with backoff: %s", p.name, err)
        p.outage, p.state = err, "retrying"
        p.retries += 1
        self._signal_progress()  # waiters re-check (and can say why they are still waiting)
        delay = min(self.retry_interval * 2 ** min(p.retries - 1, 30), self.max_retry_interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)

    async def _step(self, p: _Projection) -> tuple[int, bool]:
        """One page: read, apply, commit, under the projector's step lock. Returns how many events
        were read and whether the page reached the end of the log."""
        async with p.lock:
            return await self._step_locked(p)

    async def _step_locked(self, p: _Projection) -> tuple[int, bool]:
        base = p.checkpoint  # the checkpoint this page is read after: the compare-and-set names it
        p.sent_in_step.clear()
        types = p.projector.stream_types
        # A projector of some stream types only: the head of the whole log, read *before* the page.
        # If the page then comes back short, it holds every event of those types up to that head, so
        # the checkpoint may move to the head, over the other types' events: otherwise it would lag
        # behind them forever (read-your-writes could not see past them, each poll would scan them).
        # Only a head at or ahead of the page's last position everywhere will do: with positions that
        # are maps (Kafka: one entry per partition), an event appended between the two reads may put
        # the page ahead of the head in its partition, and moving to the head would move back there.
        # The next step, with a newer head, moves past the other types' events instead.
        covers = self.store.covers
        head = await self.store.head() if types is not None else None
        try:
            events = await self.store.read_all(after=base.position, limit=self.batch_size, stream_types=types)
        except SerializationError as err:
            if err.undecodable is None:
                raise
            try:
                return await self._undecodable(p, base, err, err.undecodable), False
            except CheckpointConflict:  # another runner moved on meanwhile: start again from its checkpoint
                await self._reload(p)
                return 0, False
        at_end = len(events) < self.batch_size
        last = events[-1].position if events else base.position
        through = head if at_end and head is not None and not covers(last, head) and covers(head, last) else None
        if not events and through is None:
            self._answered(p)
            p.state = "idle"
            return 0, True
        p.state = "running"
        try:
            await self._apply(p, base, events, through)
        except CheckpointConflict:
            # Another runner, a rebuild, or a commit of ours whose outcome we did not learn moved the
            # checkpoint: our batch was rolled back whole. Read again from the stored checkpoint.
            if p.exclusive:
                raise ProjectionError(
                    f"the as-of build {p.name!r} was reset by another build of the same tables meanwhile: "
                    "the other build goes on; this one gives up"
                ) from None
            await self._reload(p)
            return len(events), False
        except BaseException:
            p.state = "idle"
            raise
        p.state = "idle" if at_end else "running"
        self._answered(p)
        self._signal_progress()
        return len(events), at_end

    def _answered(self, p: _Projection) -> None:
        """A step went through: an outage is over, and an error that stopped the projector is behind it
        (the event it failed on was applied, or dead-lettered): follow it again if `run` is active."""
        if p.outage is not None:
            _log.warning("projection %r: the store answers again after %d retries", p.name, p.retries)
            p.outage, p.outage_since, p.retries = None, None, 0
        if p.error is not None and p.as_of is None:
            p.error = None
            self._ensure_following(p)

    async def _reload(self, p: _Projection) -> None:
        p.conflicts += 1
        p.checkpoint = await self.views.load(p.name)

    async def _undecodable(self, p: _Projection, base: Checkpoint, error: SerializationError, bad: Undecodable) -> int:
        """A stored event that does not decode: apply the page's events before it, then stop there with
        a `PoisonEvent` or, for projectors with dead letters, record it and move past it."""
        p.state = "running"
        if bad.preceding:
            try:
                await self._apply(p, base, bad.preceding)
            except BaseException:
                p.state = "idle"
                raise
        if not p.projector.dead_letters:
            p.state = "idle"
            await self._stop_at(p, bad, error)
        p.checkpoint = await self.views.commit(p.checkpoint, bad.position, None, _dead_letter(p, bad, error))
        self._signal_progress()
        return len(bad.preceding) + 1

    async def _stop_at(self, p: _Projection, bad: _Bad, error: Exception) -> NoReturn:
        """Stop the projector just before ``bad``: record why (for `status` in other processes), raise."""
        stopped = PoisonEvent(
            p.name,
            stream_id=bad.stream_id,
            version=bad.version,
            event_type=bad.event_type,
            event_id=bad.event_id,
            position=bad.position,
            error=f"{type(error).__name__}: {error}",
        )
        with contextlib.suppress(StoreError):
            await self.views.record_error(p.checkpoint, str(stopped))
        raise stopped from error

    async def _apply(self, p: _Projection, base: Checkpoint, events: Events, through: Any = None) -> None:
        """Apply ``events`` (read after ``base``) and commit by compare-and-set on ``base``; the page's
        last commit moves the checkpoint to ``through`` if given (a scan of some stream types that
        reached the head: see `_step`). A page committed in parts (around a dead-lettered event)
        chains each part's compare-and-set on the checkpoint the previous part committed."""
        n = len(events)
        final = events[-1].position if through is None else through
        if n == 0:
            p.checkpoint = await self.views.commit(base, final)
            return
        p.checkpoint = base
        start, end = 0, n
        poison: tuple[int, Exception] | None = None
        while True:
            if start < end:
                view = ViewBatch(p.tables, self.views, p.checkpoint)
                try:
                    failed = await self._handle(p, events, start, end, view)
                except BaseException:
                    await self.views.discard(view)
                    raise
                if failed is not None:
                    await self.views.discard(view)
                    poison = failed
                    end = failed[0]  # commit the events before it, then deal with it
                    continue
                if p.flush is not None:  # a relay: its records acknowledged before the checkpoint moves
                    try:
                        await p.flush()
                    except BaseException:
                        await self.views.discard(view)
                        raise
                p.checkpoint = await self.views.commit(
                    p.checkpoint, final if end == n else events[end - 1].position, view
                )
            if end == n:
                return
            assert poison is not None
            index, error = poison
            bad = events[index]
            if not p.projector.dead_letters:
                await self._stop_at(p, bad, error)
            p.checkpoint = await self.views.commit(
                p.checkpoint, final if index == n - 1 else bad.position, None, _dead_letter(p, bad, error)
            )
            start, end, poison = index + 1, n, None
            if start == n:
                return

    async def _handle(
        self, p: _Projection, events: Events, start: int, end: int, view: ViewBatch
    ) -> tuple[int, Exception] | None:
        """Run the handlers over events[start:end]; (index, error) of the first that raised, if one did."""
        get = p.handlers.get
        as_of = p.as_of
        batch = events[start:end] if start or end != len(events) else events
        event: RecordedEvent[DomainEvent] | None = None
        try:
            if p.is_async:
                mark = view.begin_event if p.in_process else None
                for event in batch:
                    if as_of is not None and event.timestamp > as_of:
                        continue
                    if mark is not None:
                        mark(event.position)
                    handler = get(event.event.__class__)
                    if handler is not None:
                        result = handler(event, view)
                        if inspect.isawaitable(result):
                            await result
            elif as_of is None:
                for event in batch:
                    handler = get(event.event.__class__)
                    if handler is not None:
                        handler(event, view)
            else:
                for event in batch:
                    if event.timestamp <= as_of:
                        handler = get(event.event.__class__)
                        if handler is not None:
                            handler(event, view)
        except CheckpointConflict as err:
            if err.name == p.name:  # this batch's own checkpoint moved (a read in the batch found it)
                raise
            assert event is not None  # another projection's conflict, from the handler's own code: its failure
            index = next(i for i, e in enumerate(batch) if e is event)
            return start + index, err
        except StoreError:
            raise
        except Exception as err:
            assert event is not None
            index = next(i for i, e in enumerate(batch) if e is event)
            return start + index, err
        return None

    def _covers(self, p: _Projection, position: Any) -> bool:
        return self.store.covers(p.checkpoint.position, position)

    async def _sync_to(self, position: Any, timeout: float) -> bool:  # noqa: ASYNC109 - the caller's deadline
        """Ask a store that serves reads from a local copy of the log (one with a ``sync()`` method,
        such as the Kafka store) to read to the end now, if its copy lacks ``position``; whether it did.

        Such a store follows the log by itself, but on its own schedule: a position written by
        another process (to a topic this store has not seen yet, say) may take seconds to arrive.
        """
        sync = getattr(self.store, "sync", None)
        if sync is None or self.store.covers(await self.store.head(), position):
            return False
        await asyncio.wait_for(sync(), timeout)
        return True

    def _signal_progress(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()


def _open_views(url: str) -> CheckpointStore:
    if url.split(":", 1)[0].lower() == "memory":
        from eventsourcing.projections.memory import MemoryCheckpointStore

        return MemoryCheckpointStore()
    from eventsourcing.projections.sql import SQLCheckpointStore

    return SQLCheckpointStore(url)


def _dead_letter(p: _Projection, bad: _Bad, error: Exception) -> DeadLetter:
    reason = f"{type(error).__name__}: {error}"
    return DeadLetter(p.name, bad.event_id, bad.stream_id, bad.version, bad.event_type, bad.position, reason)
