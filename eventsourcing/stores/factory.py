"""`open_store(url)`: build an event store from a URL."""

from __future__ import annotations

from typing import Any

from eventsourcing.errors import ConfigurationError
from eventsourcing.stores.base import EventStore
from eventsourcing.urls import redact, sql_dialect


def open_store(url: str, **options: Any) -> EventStore:
    """``memory://``, ``sqlite:///path.db``, ``postgresql://user@host:port/db``,
    ``kafka://host:port[,host:port]?prefix=events&partitions=8&index=/path/index.db``.

    The store is returned unopened: use it as an async context manager (or ``await store.open()``).
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "memory":
        from eventsourcing.stores.memory import MemoryEventStore

        return MemoryEventStore(**options)
    if sql_dialect(url) is not None:
        from eventsourcing.stores.sql import SQLEventStore

        return SQLEventStore(url, **options)
    if scheme == "kafka":
        from eventsourcing.stores.kafka.url import kafka_store

        return kafka_store(url, **options)
    raise ConfigurationError(
        f"cannot open a store for {redact(url)!r}: use memory://, sqlite:///path.db, postgresql://user@host:port/db "
        "or kafka://host:port"
    )
