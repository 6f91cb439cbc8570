"""`PostgresRunner`: how this library talks to a PostgreSQL server, for every component.

The event store, the snapshot store, the checkpoint (view) store and the Avro schema store each
own one, as each SQLite store owns a `SQLiteRunner`. It holds what they must all get right once:

- the URL, checked, with libpq's parameters (`pg_url`), and the password never shown;
- a lean pool (`pg_pool`): acquire and release without awaiting when a connection is idle;
- reconnecting: a connection that fails in a way that leaves it unusable (the server terminated it,
  restarted, went away) is closed, and so are its pooled siblings (idle ones now, busy ones when
  they come back), so the next operation connects afresh; nobody needs to reopen the store;
- a client-side command timeout: an operation whose server does not answer within it (a frozen
  server, a network that drops packets) has its connection closed and raises `StoreUnavailable`;
- one translator of driver errors (`pg_errors.translate`).

An operation is one async function over an asyncpg connection (``fn(connection, *args)``), run by
`call`; a function that sends a write can name what to raise if its outcome is unknown (the
connection was lost or timed out after the write was sent), e.g. `AppendOutcomeUnknown`. A caller
that keeps a transaction open across its own code (a view batch whose handlers read) takes a
`Lease`: one connection for it alone, each step run with the same timeout and translation.

The timeout is one timer per runner (`_Watchdog`), armed while operations are in flight and checked
against `eventsourcing.clock.monotonic`: a frozen or moved application clock (freezegun patches the
loop's clock too) can delay it but never fire it early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import asyncpg

from eventsourcing.clock import monotonic
from eventsourcing.errors import ConfigurationError, StoreError, StoreUnavailable
from eventsourcing.stores.sql.pg_errors import DRIVER_ERRORS, describe, is_lost, translate
from eventsourcing.stores.sql.pg_pool import ConnectionPool
from eventsourcing.stores.sql.pg_url import DEFAULT_COMMAND_TIMEOUT, PostgresURL, parse_postgres_url

T = TypeVar("T")

Operation = Callable[..., Awaitable[T]]
OutcomeUnknown = Callable[[str], StoreUnavailable]

# The server settings of every session: timestamps travel as UTC ISO text.
SESSION = {"TimeZone": "UTC", "DateStyle": "ISO"}


class PostgresRunner:
    """Runs operations for one component on a pool of connections to one PostgreSQL database.

    ``what`` names the component in messages ("PostgreSQL event store"). ``command_timeout``
    (seconds, None for no limit) is the default when the URL has no ``command_timeout``.
    ``settings``: server settings of every session (the URL's ``application_name`` and
    ``options=-c ...`` take precedence). The pool keeps up to ``max_size`` connections.
    """

    def __init__(
        self,
        url: str,
        *,
        what: str,
        max_size: int,
        command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.config: PostgresURL = parse_postgres_url(url, command_timeout=command_timeout)
        self.what = what
        self.where = f"{what} {self.config.shown}"
        self.timeout = self.config.command_timeout
        self.watchdog = None if self.timeout is None else _Watchdog(self.timeout)
        # The URL's settings override the component's defaults; the session format the stores parse does not bend.
        self._settings = {**(settings or {}), **self.config.server_settings, **SESSION}
        self._max_size = max_size
        self._pool: ConnectionPool | None = None
        self.server_version: tuple[int, ...] = ()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self, setup: Operation[None] | None = None) -> None:
        """Connect once (so a wrong URL or an unreachable server fails here) and run ``setup`` (the
        component's DDL, typically) on that connection; then serve operations. Idempotent."""
        if self._pool is not None:
            return
        pool = ConnectionPool(self._connect, max_size=self._max_size)
        self._pool = pool
        try:
            await self.call(_probe if setup is None else setup, prefix="cannot open the")
        except BaseException:
            self._pool = None
            await pool.close()
            raise

    async def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _connect(self, settings: Mapping[str, str] | None = None) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self.config.dsn,
            server_settings=dict(settings or self._settings),
            timeout=self.config.connect_timeout if self.config.connect_timeout is not None else 60.0,
            command_timeout=None,  # ours covers every operation (`_Watchdog`)
            statement_cache_size=100,
        )
        if not self.server_version:
            info = conn.get_server_version()
            self.server_version = (info.major, info.minor)
        return conn

    async def connect(self, purpose: str = "") -> asyncpg.Connection:
        """A connection of the caller's own, outside the pool (LISTEN, say), with the sessions'
        settings; the caller closes it. ``purpose`` is appended to its application_name, so that it
        can be told apart from the pool's sessions from its first moment (pg_stat_activity). Driver
        errors are raised as asyncpg raised them."""
        if not purpose:
            return await self._connect()
        name = f"{self._settings.get('application_name', '')} ({purpose})".strip()[:63]
        return await self._connect({**self._settings, "application_name": name})

    def _require_pool(self) -> ConnectionPool:
        pool = self._pool
        if pool is None:
            raise StoreError(f"the {self.what} is not open: use `async with store:` or `await store.open()`")
        return pool

    async def _acquire(self, pool: ConnectionPool, prefix: str) -> asyncpg.Connection:
        where = f"{prefix} {self.where}" if prefix else self.where
        try:
            return await pool.acquire(self.timeout)
        except (asyncpg.ClientConfigurationError, ValueError) as err:  # ValueError: asyncpg's DSN checks
            raise ConfigurationError(f"{where}: {describe(err)}") from err
        except DRIVER_ERRORS as err:
            if isinstance(err, asyncio.TimeoutError):
                raise StoreUnavailable(f"{where}: {self._no_connection()}; the server does not answer") from err
            if isinstance(err, asyncpg.InterfaceError) and pool.closed:
                raise StoreError(f"the {self.what} was closed") from err
            raise StoreUnavailable(f"{where}: {describe(err)}") from err

    def _no_connection(self) -> str:
        connect = self.config.connect_timeout
        if self.timeout is not None and (connect is None or connect >= self.timeout):
            return f"no connection within {self.timeout:g} s (command_timeout)"
        return f"no connection within {60.0 if connect is None else connect:g} s (connect_timeout)"

    async def call(
        self,
        fn: Operation[T],
        *args: Any,
        keep: tuple[type[BaseException], ...] = (),
        outcome_unknown: OutcomeUnknown | None = None,
        retry: bool = False,
        prefix: str = "",
    ) -> T:
        """``fn(connection, *args)`` on a pooled connection, within the command timeout.

        Errors of the types in ``keep`` reach the caller as asyncpg raised them (conflicts it
        resolves itself) unless the connection was lost; every other driver error is translated.
        When the connection is lost or times out, ``outcome_unknown(detail)`` is raised if given
        (the operation wrote, and may or may not have taken effect), else `StoreUnavailable`.
        ``retry``: the operation may run twice (a read, or a write that is a no-op when repeated);
        if its connection turns out lost (typically a pooled one whose session the server ended
        while it was idle), it runs once more on a fresh connection. Never after a timeout.
        """
        pool = self._pool
        if pool is None:
            pool = self._require_pool()
        driver = await self._acquire(pool, prefix)
        try:
            result = await _run(self, pool, driver, fn, args, keep, outcome_unknown, prefix, retry)
        finally:
            pool.release(driver)  # a connection left in a transaction or closed is discarded
        if result is not _AGAIN:
            return result  # type: ignore[return-value]
        driver = await self._acquire(pool, prefix)
        try:
            again = await _run(self, pool, driver, fn, args, keep, outcome_unknown, prefix, False)
        finally:
            pool.release(driver)
        return again  # type: ignore[return-value]

    async def lease(self) -> Lease:
        """A connection for the caller alone until `Lease.release` (for a transaction spanning awaits)."""
        pool = self._require_pool()
        return Lease(self, pool, await self._acquire(pool, ""))


class Lease:
    """One pooled connection held by one caller; each `run` has the runner's timeout and translation."""

    __slots__ = ("_driver", "_pool", "_runner")

    def __init__(self, runner: PostgresRunner, pool: ConnectionPool, driver: asyncpg.Connection) -> None:
        self._runner = runner
        self._pool = pool
        self._driver: asyncpg.Connection | None = driver

    async def run(
        self,
        fn: Operation[T],
        *args: Any,
        keep: tuple[type[BaseException], ...] = (),
        outcome_unknown: OutcomeUnknown | None = None,
    ) -> T:
        driver = self._driver
        if driver is None:
            raise StoreError(f"the {self._runner.what}'s connection was given back")
        return await _run(self._runner, self._pool, driver, fn, args, keep, outcome_unknown, "", False)  # type: ignore[return-value]

    def release(self) -> None:
        """Give the connection back (closed instead if a transaction is still open on it)."""
        driver, self._driver = self._driver, None
        if driver is not None:
            self._pool.release(driver)


class _Again:
    """`_run`'s answer when a retryable operation lost its connection: run it again."""


_AGAIN = _Again()


class _Watchdog:
    """The command timeout of a runner's operations: closes the connection of any operation that
    has waited longer than ``timeout``, so that the operation fails at once.

    One timer for all of them, armed while operations are in flight: registering an operation
    costs a clock read and a dict entry (a timer of its own per operation, ``call_at`` and
    ``cancel``, cost ~3 µs: a percent of a one-event append). The timer's deadlines are checked
    against `clock.monotonic`: a loop clock moved by freezegun can delay it, never fire it early.
    """

    __slots__ = ("_handle", "expired", "inflight", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.inflight: dict[asyncpg.Connection, float] = {}  # connection -> when its operation times out
        self.expired: set[asyncpg.Connection] = set()
        self._handle: asyncio.TimerHandle | None = None

    def start(self, driver: asyncpg.Connection) -> None:
        self.inflight[driver] = monotonic() + self.timeout
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._handle = loop.call_at(loop.time() + self.timeout, self._check, loop)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = None
        now = monotonic()
        for driver, at in list(self.inflight.items()):
            if at <= now:
                del self.inflight[driver]
                self.expired.add(driver)
                driver.terminate()  # the awaiting operation fails at once with a closed connection
        if self.inflight:
            self._handle = loop.call_at(loop.time() + (min(self.inflight.values()) - now), self._check, loop)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def _run(
    runner: PostgresRunner,
    pool: ConnectionPool,
    driver: asyncpg.Connection,
    fn: Operation[T],
    args: tuple[Any, ...],
    keep: tuple[type[BaseException], ...],
    outcome_unknown: OutcomeUnknown | None,
    prefix: str,
    retry: bool,
) -> T | _Again:
    watchdog = runner.watchdog
    if watchdog is not None:
        watchdog.start(driver)
    try:
        return await fn(driver, *args)
    except Exception as err:
        timed_out = watchdog is not None and driver in watchdog.expired
        if timed_out:
            watchdog.expired.discard(driver)  # type: ignore[union-attr]
        where = f"{prefix} {runner.where}" if prefix else runner.where
        if not (timed_out or is_lost(driver, err)):
            if isinstance(err, keep) or not isinstance(err, DRIVER_ERRORS):
                raise
            raise translate(err, where) from err
        # The server went away, restarted, terminated this session, or does not answer: the pooled
        # siblings of this connection are as doomed as it is. Close it, and have the pool close every
        # other one (idle ones now, busy ones when they come back): the next operation connects afresh.
        driver.terminate()
        pool.expire()
        if retry and not timed_out:
            return _AGAIN
        detail = (
            f"no answer from the server within {runner.timeout:g} s (command_timeout)"
            if timed_out
            else f"connection lost: {describe(err)}"
        )
        if outcome_unknown is not None:
            raise outcome_unknown(f"{runner.where}: {detail}") from err
        raise StoreUnavailable(f"{where}: {detail}") from err
    except BaseException:
        # Cancelled mid-statement: the protocol may be half-way through a message exchange, so this
        # connection must not serve anyone again.
        driver.terminate()
        raise
    finally:
        if watchdog is not None:
            watchdog.inflight.pop(driver, None)


async def _probe(connection: asyncpg.Connection) -> None:
    await connection.execute("SELECT 1")
