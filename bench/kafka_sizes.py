"""Workload sizes of the Kafka benchmark: full (issue 7's targets) and tiny ones for ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KafkaSizes:
    accounts: int = 200
    """Sequential commands: aggregates created first (one save each) ..."""
    rounds: int = 5
    """... then this many rounds of get + deposit + save over all of them (one event each)."""
    raw_sends: int = 1_000
    """Bare acknowledged ``send_and_wait`` calls, one at a time (the sequential anchor)."""
    writers: int = 8
    """Concurrent writer tasks (one store, one event loop) ..."""
    writer_streams: int = 8
    """... each appending to this many streams of its own ..."""
    writer_appends: int = 150
    """... this many one-event appends in all (raw: as many ``send_and_wait`` calls per task)."""
    pipelined: int = 20_000
    """Records sent without waiting, then all acknowledgements awaited (the batched-produce anchor)."""
    batch: int = 1_000
    """Events in one append (one record of ~300 KB)."""
    batch_reps: int = 5
    levels: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    """Partition sizes (events) at which one stream is loaded; the partition grows through them."""
    seed_record: int = 1_000
    """Events per seeding append (one record each)."""
    stream: int = 100
    """Events of the stream that is loaded (written in 10 appends spread over its level's seeding)."""
    load_reps: int = 51
    read_all: int = 100_000
    """Events read through ``read_all`` (pages of 1,000) from the start of the seeded partition."""

    @property
    def commands(self) -> int:
        return self.accounts * self.rounds

    @property
    def writer_total(self) -> int:
        return self.writers * self.writer_appends

    @property
    def top(self) -> int:
        return self.levels[-1]


FULL = KafkaSizes()
QUICK = KafkaSizes(
    accounts=20,
    rounds=2,
    raw_sends=60,
    writers=8,
    writer_streams=2,
    writer_appends=8,
    pipelined=1_000,
    batch=1_000,
    batch_reps=2,
    levels=(5_000, 20_000),
    stream=100,
    load_reps=5,
    read_all=5_000,
)
