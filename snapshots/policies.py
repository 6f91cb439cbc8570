"""When to snapshot: every N events, or only when asked (`Repository.take_snapshot`)."""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.snapshotting import check_keep


@dataclass(frozen=True, slots=True)
class EveryNEvents:
    """Snapshot whenever an aggregate crosses a multiple of ``n`` events (typical: 100).

    ``keep=K`` also deletes all but the ``K`` newest snapshots of the stream after each one it writes.
    """

    n: int
    keep: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("EveryNEvents(n) needs n >= 1")
        if self.keep is not None:
            check_keep(self.keep)

    def should_snapshot(self, version: int, previous_version: int) -> bool:
        return version // self.n > previous_version // self.n


@dataclass(frozen=True, slots=True)
class OnDemand:
    """Never snapshot automatically; call ``Repository.take_snapshot(id)`` when wanted.

    ``keep=K`` deletes all but the ``K`` newest snapshots of the stream after each one taken.
    """

    keep: int | None = None

    def __post_init__(self) -> None:
        if self.keep is not None:
            check_keep(self.keep)

    def should_snapshot(self, version: int, previous_version: int) -> bool:
        return False
