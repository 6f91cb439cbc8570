"""Opening the stores named by ``--store`` and ``--snapshots`` URLs, with failures the user can act on.

Read-only commands never create a SQLite file by accident: a missing file is "store unavailable"
(``eventsourcing init`` creates it). The ``snapshots`` package is imported only by `open_snapshots`.

A Kafka store keeps events only: snapshots and views need a SQL database of their own. Before opening
one, the CLI checks within `KAFKA_TIMEOUT` seconds that its bootstrap servers answer, because the
client waits 30 s for a server that accepts connections but does not answer (a wrong port, say).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import ConfigDict

from eventsourcing.cli.failures import Unavailable, UsageError
from eventsourcing.errors import UnknownEventType
from eventsourcing.events import DomainEvent
from eventsourcing.registry import EventRegistry, events_registry
from eventsourcing.stores.base import EventStore
from eventsourcing.stores.factory import open_store
from eventsourcing.urls import redact, scheme, sql_dialect

if TYPE_CHECKING:
    from eventsourcing.snapshotting import SnapshotStore

SCHEMES = ("memory", "sqlite", "postgresql", "postgres", "kafka")
URL_HELP = (
    "memory://, sqlite:///path.db (relative) or sqlite:////abs/path.db, postgresql://user@host:port/db, "
    "kafka://host:port?prefix=events"
)
KAFKA_TIMEOUT = 5.0
"""Seconds a Kafka store's bootstrap servers have to answer before the command gives up (exit code 4)."""


def scheme_of(url: str) -> str:
    """The store kind a URL names (``postgresql+asyncpg`` is ``postgresql``); `UsageError` otherwise."""
    found = sql_dialect(url) or scheme(url)
    if found not in SCHEMES:
        raise UsageError(f"{redact(url)!r} is not a store URL: use {URL_HELP}")
    return found


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///...`` URL (None for other schemes)."""
    if scheme_of(url) != "sqlite":
        return None
    rest = url.split("://", 1)[1]
    if not rest.startswith("/") or not rest[1:].split("?", 1)[0] or rest[1:].startswith(":memory:"):
        raise UsageError(
            f"{redact(url)!r}: a SQLite store URL names a file: sqlite:///events.db or sqlite:////abs/events.db"
        )
    return Path(rest[1:].split("?", 1)[0])


def check_url(url: str, *, must_exist: bool) -> None:
    """Refuse malformed URLs, and (for commands that only read) SQLite files that do not exist."""
    path = sqlite_path(url)
    if must_exist and path is not None and not path.is_file():
        raise Unavailable(f"no SQLite database at {path} (create it with `eventsourcing init --store {redact(url)}`)")


@asynccontextmanager
async def open_events(url: str, *, must_exist: bool = True, lenient: bool = False) -> AsyncIterator[EventStore]:
    """The event store at ``url``, opened. ``lenient``: events of unknown types read as `UndecodedEvent`."""
    check_url(url, must_exist=must_exist)
    options: dict[str, Any] = {"registry": LenientRegistry()} if lenient else {}
    store = open_store(url, **options)
    if scheme_of(url) == "kafka":
        await check_kafka(urlsplit(url).netloc)  # open_store refused user info: servers only
    async with store:
        yield store


async def check_kafka(servers: str, timeout: float = KAFKA_TIMEOUT) -> None:  # noqa: ASYNC109 - a bound, not a deadline
    """Raise `Unavailable` unless a bootstrap server of ``servers`` answers a metadata request in time."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=servers, request_timeout_ms=int(timeout * 1000))
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
    except TimeoutError:
        raise Unavailable(f"Kafka at {servers} did not answer within {timeout:g}s (is it a Kafka broker?)") from None
    except Exception as err:  # aiokafka says only "Unable to bootstrap from [addresses]"
        raise Unavailable(f"Kafka at {servers} is unreachable: no bootstrap server accepted a connection") from err
    finally:
        await client.close()


@asynccontextmanager
async def open_snapshots(url: str, *, must_exist: bool = True) -> AsyncIterator[SnapshotStore]:
    check_url(url, must_exist=must_exist)
    if scheme_of(url) == "kafka":
        raise UsageError(
            f"{redact(url)!r} is a Kafka store, which keeps no snapshots: pass --snapshots with a SQL database "
            "(sqlite:///snapshots.db or postgresql://...)"
        )
    if scheme_of(url) == "memory":
        from eventsourcing.snapshots import MemorySnapshotStore

        yield MemorySnapshotStore()
        return
    from eventsourcing.snapshots import SQLSnapshotStore

    async with SQLSnapshotStore(url) as store:
        yield store


class UndecodedEvent(DomainEvent):
    """Stands in for an event whose type no declared class answers to: its payload's fields, unvalidated."""

    event_type = "eventsourcing.cli.undecoded"
    # A version no stored event has: the mapper then reads the payload as written, with the codec's
    # generic `decode_dict` (any codec; an Avro payload cannot be resolved against this class's
    # schema), and "upcasts" it with `LenientRegistry.upcast`, which keeps it as it is.
    schema_version = 2**31 - 1
    model_config = ConfigDict(frozen=True, extra="allow")


class LenientRegistry(EventRegistry):
    """The process's event registry, except that unknown type names resolve to `UndecodedEvent`.

    Lets ``eventsourcing events`` list a log written by code this process has not imported. The store
    has no raw-read API, so this is done through the registry it already accepts.
    """

    def __init__(self, inner: EventRegistry = events_registry) -> None:
        super().__init__()
        self._inner = inner

    def register(self, cls: type[DomainEvent]) -> None:
        self._inner.register(cls)

    def resolve(self, name: str) -> type[DomainEvent]:
        try:
            return self._inner.resolve(name)
        except UnknownEventType:
            return UndecodedEvent

    def __contains__(self, name: object) -> bool:
        return name in self._inner

    def names(self) -> list[str]:
        return self._inner.names()

    def upcast(self, cls: type[DomainEvent], stored_version: int, data: dict[str, Any]) -> dict[str, Any]:
        if cls is UndecodedEvent:
            return data
        return self._inner.upcast(cls, stored_version, data)
