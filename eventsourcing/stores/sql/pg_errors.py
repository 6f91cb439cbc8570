"""The one translator of PostgreSQL driver errors into the library's errors, for every component.

Conflicts that a caller resolves itself (a unique violation racing for a stream's version, a
serialization failure) are left to it; everything else that asyncpg, the socket or the server
raises becomes `StoreUnavailable` (the server is away, refusing, out of resources, or a lock or
statement timeout expired: retry later) or `StoreError` (anything else), with the original chained
by the caller (``raise translate(err, where) from err``).
"""

from __future__ import annotations

import asyncio

import asyncpg

from eventsourcing.errors import EventSourcingError, StoreError, StoreUnavailable

# SQLSTATE classes of a server that is going away, refusing connections or out of resources
# (08 connection exception, 57P operator intervention: shutdown, crash, terminated backend;
# 53 insufficient resources).
_UNAVAILABLE_CLASSES = ("08", "57P", "53")
_LOST_CLASSES = ("08", "57P")
_TIMEOUTS = {
    # lock_not_available: the strict-order append lock (waited for up to the busy timeout), or a lock_timeout
    "55P03": "another session held a lock longer than the lock timeout (the busy timeout, for strict-order appends)",
    "57014": "the statement was cancelled (statement timeout)",  # query_canceled
}
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    asyncio.TimeoutError,
)


def is_lost(connection: asyncpg.Connection, err: BaseException) -> bool:
    """Whether ``err`` left ``connection`` unusable (as opposed to failing one statement)."""
    state = getattr(err, "sqlstate", None) or ""
    return (
        connection.is_closed()
        or isinstance(err, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError | asyncio.TimeoutError)
        or state.startswith(_LOST_CLASSES)
    )


def describe(err: BaseException) -> str:
    """The first line of ``err``'s message (its class name if it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def translate(err: BaseException, where: str) -> EventSourcingError:
    """``err`` as the library's error; ``where`` says which component and URL (already redacted)."""
    state = getattr(err, "sqlstate", None) or ""
    message = describe(err)
    if state in _TIMEOUTS:
        return StoreUnavailable(f"{where}: {message} ({_TIMEOUTS[state]}; retry later)")
    if (
        isinstance(err, OSError | asyncio.TimeoutError | asyncpg.PostgresConnectionError | asyncpg.InternalClientError)
        or state.startswith(_UNAVAILABLE_CLASSES)
        or state == "3D000"  # the database does not exist
    ):
        return StoreUnavailable(f"{where}: {message}")
    return StoreError(f"{where}: {message} (SQLSTATE {state})" if state else f"{where}: {message}")
