"""Workload sizes: the peer's (full run) and tiny ones for the smoke test (``--quick``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sizes:
    accounts: int = 2_000
    """Sequential commands: aggregates created first (one save each) ..."""
    rounds: int = 9
    """... then this many rounds of load + deposit + save over all of them."""
    raw_commits: int = 5_000
    """Raw per-row-commit loop length (a rate; long enough to be stable)."""
    batch: int = 1_000
    """Events in the one big save (``Opened`` + 999 deposits)."""
    batch_reps: int = 5
    replay: int = 10_000
    """Events in the one long stream that is replayed without a snapshot."""
    replay_reps: int = 5
    log_aggregates: int = 10_000
    log_per_aggregate: int = 10
    page: int = 1_000
    """``read_all`` page size (the peer's big notification-log section)."""
    writers: int = 8
    """Concurrent writers (PostgreSQL): one connection each, different aggregates ..."""
    writer_accounts: int = 50
    """... this many aggregates per writer ..."""
    writer_rounds: int = 10
    """... and this many rounds of load + deposit + save over them (raw: as many single-row inserts)."""

    @property
    def writer_commands(self) -> int:
        return self.writers * self.writer_accounts * self.writer_rounds

    @property
    def replay_version(self) -> int:
        return self.replay // 2

    @property
    def log_events(self) -> int:
        return self.log_aggregates * self.log_per_aggregate


FULL = Sizes()
QUICK = Sizes(
    accounts=30,
    rounds=2,
    raw_commits=60,
    batch=100,
    batch_reps=2,
    replay=400,
    replay_reps=2,
    log_aggregates=100,
    log_per_aggregate=10,
    page=100,
    writers=3,
    writer_accounts=4,
    writer_rounds=2,
)
