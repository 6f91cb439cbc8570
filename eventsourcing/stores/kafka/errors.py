"""Errors of the Kafka store beyond the library's tree (each is a `StoreError`)."""

from __future__ import annotations

from eventsourcing.errors import StoreError


class KafkaLogLost(StoreError):
    """The log no longer holds what this store's index has read: a partition ends (or starts) past
    the offsets the index committed, a stream turns up in another partition than its events, or the
    index's topics are missing. The broker lost its data (restarted empty, say), or this is another
    cluster at the same address. The store stops: every later call raises this error and nothing
    more is acknowledged, because the log can no longer decide appends the way the index did.
    Restore the cluster's data or point the store at the right cluster; to start over on this
    cluster, remove the index file (its events are not on it)."""


class OffsetOutOfRange(StoreError):
    """A fetch asked for an offset the partition does not hold (below its log start or above its end)."""

    def __init__(self, key: str, offset: int) -> None:
        super().__init__(f"{key}: offset {offset} is outside the log")
        self.key = key
        self.offset = offset
