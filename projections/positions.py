"""Whether a checkpoint has reached a position: the one place this package looks inside position tokens.

The runner never orders tokens to decide what to read: it passes the last one back to
``read_all(after=...)``. Read-your-writes is different: `ProjectionRunner.wait_until_caught_up`
must tell whether a checkpoint is at or past the position of an append. The event store protocol
has no such query yet, so: a store that offers ``covers(checkpoint, position) -> bool`` is asked;
otherwise the token shapes of the stores this library ships are compared here — an int (memory,
SQLite), an ``[xid, position]`` pair (PostgreSQL, ordered as ``read_all`` orders them) and a map of
partition to offset (Kafka: every partition of the position reached).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def covers(store: object, checkpoint: Any, position: Any) -> bool:
    """Whether every event at or before ``position`` is before ``checkpoint`` (None: the start)."""
    if position is None:
        return True
    if checkpoint is None:
        return False
    ask = getattr(store, "covers", None)
    if callable(ask):
        return bool(ask(checkpoint, position))
    if isinstance(position, Mapping) and isinstance(checkpoint, Mapping):
        return all(key in checkpoint and checkpoint[key] >= offset for key, offset in position.items())
    if isinstance(position, list | tuple) and isinstance(checkpoint, list | tuple):
        return tuple(checkpoint) >= tuple(position)
    if isinstance(position, int) and isinstance(checkpoint, int):
        return checkpoint >= position
    raise TypeError(f"cannot tell whether checkpoint {checkpoint!r} covers position {position!r}")
