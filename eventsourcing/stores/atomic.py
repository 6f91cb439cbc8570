"""Atomic appends to several streams: all of them or none, each stream's expectation checked.

A store that can (memory, SQLite, PostgreSQL) offers ``append_streams(appends)``; the Kafka store
appends atomically to one stream only (one record per append, see DESIGN §5) and refuses more with
`UnsupportedOperation`. The rules that do not depend on storage live here: argument checks, and what
a refused atomic append means (an exact retry of one that committed, or a conflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from eventsourcing.errors import DuplicateEventId, InvalidArgument
from eventsourcing.events import NewEvent
from eventsourcing.stores.base import (
    AppendResult,
    Expected,
    StoredRef,
    check_append_args,
    check_stream_type,
    conflict,
    resolve_retry,
)

__all__ = ["AppendsAtomically", "Refusal", "StreamAppend", "check_stream_appends", "settle_refusal"]


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """One stream's part of an atomic append: what `EventStore.append` takes, as one value.

    An empty ``events`` stores nothing for that stream but still checks its expectation: the whole
    append then commits only if that stream is still at the version the caller decided on.
    """

    stream_id: str
    events: Sequence[NewEvent]
    expected_version: Expected
    stream_type: str


@runtime_checkable
class AppendsAtomically(Protocol):
    """A store that appends to several streams in one transaction."""

    async def append_streams(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append to every stream or to none; one result per stream, in order.

        Raises `ConcurrencyError` (naming the first stream whose expectation failed) or
        `StreamTypeMismatch`, and then nothing of any stream is stored. Re-sending the same appends
        after an unknown outcome is an exact retry: the original results, nothing stored twice.
        """
        ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """A stream as found when an atomic append including it was refused (nothing of it stored)."""

    actual: int
    stored_type: str | None
    position: Any
    refs: list[StoredRef]
    """Where event ids of this stream's part are stored already (an earlier attempt that committed)."""


def check_stream_appends(appends: object) -> list[StreamAppend]:
    """Refuse, before anything is stored, what no backend could store as given."""
    if isinstance(appends, str | bytes) or not isinstance(appends, Sequence):
        raise InvalidArgument(f"appends must be a sequence of StreamAppend, not {type(appends).__name__}")
    if not appends:
        raise InvalidArgument("an atomic append needs at least one StreamAppend")
    for i, append in enumerate(appends):
        if not isinstance(append, StreamAppend):
            raise InvalidArgument(f"appends[{i}] must be a StreamAppend, not {type(append).__name__}")
        check_append_args(append.stream_id, append.events, append.expected_version, append.stream_type)
    streams = [a.stream_id for a in appends]
    if len(set(streams)) != len(streams):
        twice = sorted({s for s in streams if streams.count(s) > 1})
        raise InvalidArgument(
            f"an atomic append names each stream once; {', '.join(map(repr, twice))} appear(s) more than once"[:300]
        )
    ids = [e.event_id for a in appends for e in a.events]
    if len(set(ids)) != len(ids):
        raise DuplicateEventId("the atomic append contains the same event id twice")
    return list(appends)


def settle_refusal(appends: Sequence[StreamAppend], refused: int, found: Sequence[Refusal]) -> list[AppendResult]:
    """What a refused atomic append means, from every stream's state after the refusal.

    - some of its event ids are stored: an exact retry of an append that committed (every part with
      events stored exactly so: its results) or `DuplicateEventId`;
    - none: the error of the part at index ``refused`` (`StreamTypeMismatch` or `ConcurrencyError`).
    """
    retries = [
        resolve_retry(a.stream_id, [e.event_id for e in a.events], f.refs) for a, f in zip(appends, found, strict=True)
    ]
    if any(r is not None for r in retries):
        if all(r is not None for r, a in zip(retries, appends, strict=True) if a.events):
            return [
                r if r is not None else AppendResult(a.stream_id, f.actual, f.position)
                for r, a, f in zip(retries, appends, found, strict=True)
            ]
        raise DuplicateEventId(
            "some streams of this atomic append hold its event ids and others do not, so it is not a retry of "
            "one that committed; nothing was stored"
        )
    part, state = appends[refused], found[refused]
    check_stream_type(part.stream_id, part.stream_type, state.stored_type)
    error = conflict(part.stream_id, part.expected_version, state.actual)
    if len(appends) > 1:
        error.add_note(f"nothing was stored for any of the {len(appends)} streams of the atomic append")
    raise error
