"""Checking that a read of a stream returned all of it: no hole, no missing tail.

Every store's ``read`` (and ``read_events``) runs `verify_read` on what it found, so a stream
damaged outside the library (a row deleted by hand, a damaged database file) raises `CorruptStream`
instead of folding an aggregate from part of its history.

What a read returns is ``count`` events with distinct versions, all at or after ``from_version``
(every backend enforces a unique (stream, version) key), so they are exactly the versions
``from_version .. last`` if and only if ``count == last - from_version + 1``: the common case costs
one comparison and no query. A read that ends before its ``to_version`` (or is cut by ``as_of``)
is also checked against the stream's head: the stream must end there, or the next version must
exist (after ``as_of``). Only when a check fails, or a read stops short, does it cost a query.

A hole at the very end of a stream (its last versions deleted) looks like a shorter stream to
every SQL store and cannot be told apart without a record of the head elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence

from eventsourcing.errors import CorruptStream

Head = Callable[[], Awaitable[int]]
"""The stream's current version, as the store knows it."""
Versions = Callable[[int, int], Awaitable[Sequence[int]]]
"""The versions stored between two versions (inclusive), without ``as_of``: called only on the slow path."""


async def verify_read(
    stream_id: str,
    from_version: int,
    to_version: int | None,
    as_of: dt.datetime | None,
    count: int,
    last: int,
    *,
    head: Head,
    versions: Versions,
) -> None:
    """Raise `CorruptStream` unless ``count`` events ending at version ``last`` are the whole of
    the stream from ``from_version`` up to ``to_version``, the head, or ``as_of``."""
    if count and last - from_version + 1 != count:
        _raise_if_missing(stream_id, range(from_version, last + 1), await versions(from_version, last), from_version)
    reached = last if count else from_version - 1
    if to_version is None and as_of is None:
        return  # read up to the head: the last event read is the head
    if to_version is not None and reached >= to_version:
        return
    if as_of is not None and await versions(reached + 1, reached + 1):
        return  # cut by time: the next version exists (after as_of), one point read
    top = await head()
    if top <= reached:
        return  # the stream ends here
    upto = top if to_version is None else min(top, to_version)
    present = await versions(reached + 1, upto)
    if len(present) == upto - reached:
        return  # all there (appended since the read)
    _raise_if_missing(stream_id, range(reached + 1, upto + 1), present, from_version)


def _raise_if_missing(stream_id: str, wanted: range, present: Sequence[int], from_version: int) -> None:
    missing = sorted(set(wanted) - set(present))[:1000]
    if not missing:
        return  # everything is there now (a concurrent append filled what the first read did not reach)
    raise CorruptStream(
        stream_id,
        missing,
        f"read from version {from_version}: the stored versions are not contiguous; "
        "the store was altered or damaged outside the library",
    )
