"""Telling that the log no longer holds what the index has read, and saying so (`KafkaLogLost`).

The index is a cache of the log, right only while the log still holds what it read. These checks
compare what the cluster reports — its topics and partition counts, each fetched partition's end —
with the offsets the index has read; the store stops on the first mismatch (see `KafkaEventStore`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from eventsourcing.stores.kafka.errors import KafkaLogLost
from eventsourcing.stores.kafka.index import Partition
from eventsourcing.stores.kafka.log import Fetched

_ADVICE = (
    "The store has stopped and acknowledges nothing more. Restore the cluster's data, or point the "
    "store at the right cluster; to start over on this one, remove the store's index file (its events are not "
    "on this broker)."
)


def log_lost(detail: str) -> KafkaLogLost:
    """The error for a partition whose log is behind (or past) what the index has read."""
    return KafkaLogLost(
        f"{detail}: the broker lost its data (restarted empty?) or this is another cluster at the same address. "
        + _ADVICE
    )


def gone_topics(known: Iterable[Partition], found: Mapping[str, int]) -> set[str]:
    """Topics of partitions the index has read records from that ``found`` (topic → partition count) lacks."""
    return {p.topic for p in known if p.next_offset and p.partition >= found.get(p.topic, 0)}


def topics_lost(gone: set[str], found: Mapping[str, int]) -> KafkaLogLost:
    """The error for `gone_topics`: missing topics (the usual case: a broker back empty, or another
    cluster), or topics with fewer partitions than the index has read."""
    missing = sorted(topic for topic in gone if topic not in found)
    if missing:
        some = "some topics" if found else "the topics"
        return KafkaLogLost(
            f"{some} of this index are missing on this broker ({', '.join(missing)}): wrong broker, or it lost "
            "its data (restarted empty?). " + _ADVICE
        )
    fewer = ", ".join(f"{topic} has {found[topic]}" for topic in sorted(gone))
    return log_lost(f"the topics have fewer partitions than this store's index has read ({fewer})")


def partitions_changed(known: Mapping[str, int], found: Mapping[str, int], read: set[str]) -> KafkaLogLost | None:
    """The error for a topic the index has read whose partition count is no longer the one it knew
    (streams would move to other partitions: the rule's premise); None if every count is the same."""
    changed = sorted(t for t in read if t in found and found[t] != known.get(t, found[t]))
    if not changed:
        return None
    counts = ", ".join(f"{t}: {known[t]} → {found[t]}" for t in changed)
    return KafkaLogLost(
        f"the partition count of topics this index has read changed ({counts}): streams would move to other "
        "partitions, where the concurrency rule cannot see their history. An event topic's partition count must "
        "never change. " + _ADVICE
    )


def fetched_behind(offsets: Mapping[tuple[str, int], int], fetched: Mapping[tuple[str, int], Fetched]) -> str | None:
    """What is wrong if a fetched partition ends before the offset it was fetched from (None: nothing).

    The offset asked for is the one to compare with: a fetch answered before this store's latest own
    append was acknowledged reports an older end than the index may have reached since."""
    for (topic, partition), got in fetched.items():
        asked = offsets[topic, partition]
        if got.high_watermark < asked:
            return (
                f"{topic}/{partition}: the log ends at offset {got.high_watermark}, but this store's index has "
                f"read it up to offset {asked}"
            )
    return None


def out_of_range(key: str, offset: int) -> str:
    return (
        f"{key}: the log no longer holds offset {offset}, which this store's index reads next "
        "(if its events were deleted: an event topic's retention must be infinite)"
    )
