"""`save_atomically`: several aggregates' new events stored in one transaction, all or none."""

from __future__ import annotations

from eventsourcing import context
from eventsourcing.aggregate import Aggregate
from eventsourcing.errors import InvalidArgument, UnsupportedOperation
from eventsourcing.stores.atomic import AppendsAtomically, StreamAppend
from eventsourcing.stores.base import AppendResult, EventStore


async def save_atomically(store: EventStore, *aggregates: Aggregate) -> list[AppendResult]:
    """Append every aggregate's pending events in one transaction, each expecting the version it
    was loaded at: all of them are stored, or none.

    An aggregate without pending events stores nothing, but its version is checked all the same:
    the save commits only if nobody changed it since it was loaded (a consistency guard for a
    decision that read it). Returns one result per aggregate, in order.

    Raises `ConcurrencyError` naming the first aggregate another writer changed (nothing is stored,
    and every aggregate keeps its pending events: reload them and decide again), or
    `UnsupportedOperation` on a store that cannot append to several streams atomically (the Kafka
    store appends atomically to one stream only). Snapshot policies are a repository's; this save
    takes no snapshots.
    """
    if not aggregates:
        raise InvalidArgument("save_atomically(store, *aggregates) needs at least one aggregate")
    for aggregate in aggregates:
        if not isinstance(aggregate, Aggregate):
            raise TypeError(f"save_atomically saves aggregates, not {type(aggregate).__name__}")
    if not isinstance(store, AppendsAtomically):
        raise UnsupportedOperation(
            f"{type(store).__name__} cannot append to several streams atomically (it has no append_streams); "
            "nothing was stored"
        )
    parts = [StreamAppend(a.id, list(a._pending), a.version - len(a._pending), type(a).type_name) for a in aggregates]
    results = await store.append_streams(parts)
    for aggregate, part, result in zip(aggregates, parts, results, strict=True):
        aggregate._pending = []
        if part.events:
            context.record_append(result)
    return results
