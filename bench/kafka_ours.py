"""Our Kafka store's measures for the Kafka benchmark, through the public API (Repository + store).

Each area opens a store on a prefix of its own (so its topics hold only its records), with a file
index in the work directory unless ``index`` is ``"memory"``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka_raw import BACKEND, deposits, emit_latencies
from kafka_sizes import KafkaSizes
from model import NOTE, Account
from records import OURS, Measurement

from eventsourcing import Repository
from eventsourcing.stores.kafka import KafkaEventStore

Emit = Callable[[Measurement], None]
Progress = Callable[[str], None]
HERE = Path(__file__).resolve().parent
STREAM_TYPE = Account.type_name


class OurMeasures:
    """Our measures of one run. ``prefix`` is the run's; each area adds its own suffix."""

    def __init__(
        self,
        bootstrap_servers: str,
        prefix: str,
        sizes: KafkaSizes,
        emit: Emit,
        rnd: int,
        workdir: Path,
        *,
        index: str = "file",
        codec: str = "avro",
        cache_size: int = 10_000,
        progress: Progress | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.prefix = prefix
        self.sizes = sizes
        self.emit = emit
        self.rnd = rnd
        self.workdir = workdir
        self.index = index
        self.codec = codec
        self.cache_size = cache_size
        self.progress = progress or (lambda _: None)

    def store(self, area: str, partitions: int = 8) -> KafkaEventStore:
        index = None if self.index == "memory" else str(self.workdir / f"{self.prefix}-{area}.db")
        return KafkaEventStore(
            self.bootstrap_servers, prefix=f"{self.prefix}-{area}", partitions=partitions, index=index, codec=self.codec
        )

    def _measure(self, metric: str, value: float, unit: str, n: int) -> None:
        self.emit(Measurement(OURS, BACKEND, metric, value, unit, n, self.rnd))

    async def sequential_commands(self) -> None:
        """``accounts`` aggregates created, then rounds of get + deposit + save over them, one at a time."""
        s = self.sizes
        async with self.store("cmd") as store:
            repo = Repository(Account, store, cache_size=self.cache_size)
            for i in range(20):  # warm-up: topic, connections
                await repo.save(Account.open(f"warm-up-{i}"))
            ids = []
            for i in range(s.accounts):
                account = Account.open(f"owner-{i}")
                await repo.save(account)
                ids.append(account.id)
            latencies = []
            started = time.perf_counter()
            for _ in range(s.rounds):
                for account_id in ids:
                    t0 = time.perf_counter()
                    account = await repo.get(account_id)
                    account.deposit(1, NOTE)
                    await repo.save(account)
                    latencies.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - started
            assert (await repo.get(ids[-1])).version == 1 + s.rounds
        self._measure("command", s.commands / elapsed, "cmd/s", s.commands)
        emit_latencies(self.emit, OURS, "command", latencies, self.rnd)

    async def concurrent_appends(self) -> None:
        """``writers`` tasks on one store, each appending one event at a time to streams of its own."""
        s = self.sizes
        async with self.store("writers") as store:
            owned = []
            for _ in range(s.writers):
                ids = [str(uuid.uuid4()) for _ in range(s.writer_streams)]
                for stream_id in ids:
                    await store.append(stream_id, deposits(1, opened=True), 0, stream_type=STREAM_TYPE)
                owned.append(ids)
            latencies: list[float] = []

            async def writer(ids: list[str]) -> None:
                version = dict.fromkeys(ids, 1)
                for i in range(s.writer_appends):
                    stream_id = ids[i % len(ids)]
                    t0 = time.perf_counter()
                    await store.append(stream_id, deposits(1), version[stream_id], stream_type=STREAM_TYPE)
                    latencies.append(time.perf_counter() - t0)
                    version[stream_id] += 1

            started = time.perf_counter()
            await asyncio.gather(*(writer(ids) for ids in owned))
            elapsed = time.perf_counter() - started
            per_stream = s.writer_appends // s.writer_streams
            assert await store.stream_version(owned[0][0]) >= 1 + per_stream
        self._measure("writers", s.writer_total / elapsed, "appends/s", s.writer_total)
        emit_latencies(self.emit, OURS, "writers", latencies, self.rnd)

    async def big_append(self) -> None:
        """``repo.save`` of an aggregate with ``batch`` pending events (one record), median of reps."""
        s = self.sizes
        async with self.store("batch") as store:
            repo = Repository(Account, store)
            await repo.save(Account.open("warm-up"))
            times = []
            for _ in range(s.batch_reps):
                account = Account.open("batch")
                for _ in range(s.batch - 1):
                    account.deposit(1, NOTE)
                t0 = time.perf_counter()
                await repo.save(account)
                times.append(time.perf_counter() - t0)
        self._measure("batch", s.batch / statistics.median(times), "ev/s", s.batch)

    async def big_partition(self) -> None:
        """One partition grown through ``levels`` events by appends of ``seed_record`` events to filler
        streams; at each level, a stream of ``stream`` events (10 appends spread over that level's
        seeding) is loaded; at the top, ``read_all`` from the start, then fresh stores rebuild the index."""
        s = self.sizes
        area = "part"
        async with self.store(area, partitions=1) as store:
            repo = Repository(Account, store, cache_size=0)
            held, seeding = 0, 0.0
            probe = ""
            for level in s.levels:
                probe = str(uuid.uuid4())
                fill = level - held - s.stream
                records = [s.seed_record] * (fill // s.seed_record)
                if fill % s.seed_record:
                    records.append(fill % s.seed_record)
                chunks = [s.stream // 10] * 9 + [s.stream - 9 * (s.stream // 10)]
                every = max(1, len(records) // len(chunks))
                t0 = time.perf_counter()
                version = 0
                for i, size in enumerate(records):
                    if i % every == 0 and chunks:
                        chunk = chunks.pop(0)
                        await store.append(
                            probe, deposits(chunk, opened=version == 0), version, stream_type=STREAM_TYPE
                        )
                        version += chunk
                    await store.append(f"fill-{uuid.uuid4()}", deposits(size, opened=True), 0, stream_type=STREAM_TYPE)
                for chunk in chunks:
                    await store.append(probe, deposits(chunk, opened=version == 0), version, stream_type=STREAM_TYPE)
                    version += chunk
                seeding += time.perf_counter() - t0
                held = level
                assert version == s.stream and await store.stream_version(probe) == s.stream
                loads = []
                for _ in range(s.load_reps + 1):
                    t1 = time.perf_counter()
                    account = await repo.get(probe)
                    loads.append(time.perf_counter() - t1)
                assert account.version == s.stream
                self._measure(f"load_{level}", statistics.median(loads[1:]) * 1e3, "ms", s.load_reps)
                self.progress(f"{level:,} events, seeding {level / seeding:,.0f} ev/s")
            self._measure("seed", s.top / seeding, "ev/s", s.top)
            total, after = 0, None
            t2 = time.perf_counter()
            while total < s.read_all and (page := await store.read_all(after=after, limit=1000)):
                for recorded in page:  # the typed event: the figure includes decoding
                    _ = recorded.event
                total += len(page)
                after = page[-1].position
            self._measure("read_all", total / (time.perf_counter() - t2), "ev/s", total)
        for kind in ("memory", "file"):
            found = self.rebuild(f"{self.prefix}-{area}", kind, probe)
            assert found["probe_version"] == s.stream, found
            self._measure(f"rebuild_{kind}", s.top / found["open_s"], "ev/s", s.top)
            self._measure(f"rss_{kind}", found["rss_peak_kb"] / 1024, "MB", s.top)
            self._measure(f"reload_{kind}", found["load_ms"], "ms", s.top)

    def rebuild(self, prefix: str, kind: str, probe: str) -> dict[str, float]:
        """A fresh store (``memory`` or a new ``file`` index) opening on ``prefix``, in a child process."""
        index = "memory" if kind == "memory" else str(self.workdir / f"{prefix}-rebuild-{uuid.uuid4().hex[:8]}.db")
        done = subprocess.run(
            [
                sys.executable,
                str(HERE / "kafka_rebuild.py"),
                "--bootstrap",
                self.bootstrap_servers,
                "--prefix",
                prefix,
                "--index",
                index,
                "--probe",
                probe,
                "--codec",
                self.codec,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {kind}-index rebuild failed: {done.stderr[-2000:]}")
        found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return found


AREAS = ("command", "writers", "batch", "partition")


async def run(area: str, measures: OurMeasures) -> None:
    if area == "command":
        await measures.sequential_commands()
    elif area == "writers":
        await measures.concurrent_appends()
    elif area == "batch":
        await measures.big_append()
    elif area == "partition":
        await measures.big_partition()
    else:
        raise ValueError(f"unknown area {area!r}")
