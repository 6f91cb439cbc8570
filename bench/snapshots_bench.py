"""Snapshot benchmark: loads from a snapshot on SQLite and PostgreSQL against the peer, and issue 4's targets.

    .venv/bin/python bench/snapshots_bench.py             # medians of 3 runs, peer included (~5 minutes)
    .venv/bin/python bench/snapshots_bench.py --skip-peer
    .venv/bin/python bench/snapshots_bench.py --quick     # small sizes, 1 run, no peer: checks that it runs

The peer's workload (`--measure reconstitute` in ../shared/bench/peer/peer_bench.py): one `Account`
with 10,000 events saved in 10 saves of 1,000, snapshots every 100 events; load the latest state,
load ``version=5000``, then append 99 events and load the latest again (snapshot + 99 events, the
worst case of interval 100). Ours adds an ``as_of`` load of a 100,000-event aggregate (saved 100
events at a time, so a snapshot every 100) at random moments, the cost of writing one snapshot, and
the 10,000-event load without snapshots for contrast. Each figure is the median of ``--reps`` loads
in a run, then the median over runs; every measurement goes to bench/results/ as JSON lines.

SQLite: a file in a temp dir, WAL + synchronous=FULL. PostgreSQL: ours runs on a throwaway cluster
(tests/postgres_server.py, fsync on, TCP on 127.0.0.1); the peer on its own (`run pg start`, unix
socket), both PostgreSQL 15 with default durability.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (HERE, ROOT):  # bench/model.py and records.py; tests/postgres_server.py
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import options  # noqa: E402
import peer  # noqa: E402
from model import Account  # noqa: E402
from records import OURS, PEER, Measurement, ResultsFile  # noqa: E402
from report import describe, machine  # noqa: E402

from eventsourcing import Repository, open_store  # noqa: E402
from eventsourcing.snapshots import EveryNEvents, SQLSnapshotStore  # noqa: E402
from eventsourcing.snapshotting import StateCodec  # noqa: E402
from tests.postgres_server import PostgresServer  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
INTERVAL = 100


@dataclass(frozen=True)
class Sizes:
    events: int = 10_000
    chunk: int = 1_000
    worst_tail: int = INTERVAL - 1
    long_events: int = 100_000
    reps: int = 21
    as_of_reps: int = 25


FULL, QUICK = Sizes(), Sizes(events=1_000, chunk=100, long_events=2_000, reps=3, as_of_reps=5)

# metric key -> (label, the peer's metric or None)
METRICS: dict[str, tuple[str, str | None]] = {
    "latest": (
        "get latest, snapshot at interval 100 (snapshot + 0 events)",
        "recon: get latest, snapshot every 100, ms",
    ),
    "version": ("get(version=5000), snapshot every 100", "recon: get(version=5000), snapshot every 100, ms"),
    "worst": ("get latest, snapshot + 99 events (worst case)", "recon: get latest, snapshot + 99 events, ms"),
    "no_snapshot": ("get latest of 10,000 events, no snapshot", "recon: get latest of 10k events, no snapshot, ms"),
    "as_of": ("get(as_of=random) of a 100,000-event aggregate, snapshot every 100", None),
    "snapshot_write": ("write one snapshot (encode + insert)", None),
}


# -- ours --------------------------------------------------------------------------------------------


async def timed(
    fn: Callable[[], Awaitable[Any]], reps: int, p99: dict[str, float] | None = None, key: str = ""
) -> float:
    """Median milliseconds of ``reps`` calls, after one warm-up call; ``p99[key + "_p99"]`` gets the
    nearest-rank 99th percentile (of 21 calls: the slowest)."""
    await fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    if p99 is not None:
        p99[f"{key}_p99"] = _p99(times) * 1000
    return statistics.median(times) * 1000


def _p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, -(-len(ordered) * 99 // 100) - 1)]


async def measure_ours(url: str, sizes: Sizes, rng: random.Random) -> dict[str, float]:
    out: dict[str, float] = {}
    async with open_store(url) as events, SQLSnapshotStore(url) as snapshots:
        repo = Repository(Account, events, snapshots=snapshots, snapshot_policy=EveryNEvents(INTERVAL))
        plain = Repository(Account, events)
        account = Account.open("big")
        while account.version < sizes.events:
            for _ in range(min(sizes.chunk, sizes.events - account.version)):
                account.deposit(1)
            await repo.save(account)  # a snapshot after each save that crosses a multiple of 100
        big = account.id
        out["latest"] = await timed(lambda: repo.get(big), sizes.reps, out, "latest")
        out["version"] = await timed(lambda: repo.get(big, version=sizes.events // 2), sizes.reps, out, "version")
        out["no_snapshot"] = await timed(lambda: plain.get(big), max(3, sizes.reps // 4))
        loaded = await repo.get(big)
        codec = StateCodec.of(Account)
        out["snapshot_write"] = await timed(lambda: snapshots.save(codec.take(loaded)), sizes.reps)
        out["snapshot_bytes"] = float(len(codec.take(loaded).state))
        for _ in range(sizes.worst_tail):
            loaded.deposit(1)
        await repo.save(loaded)  # 10,099 events: 99 after the newest snapshot
        assert (await snapshots.latest(big, fingerprint=codec.fingerprint)).version == sizes.events  # type: ignore[union-attr]
        out["worst"] = await timed(lambda: repo.get(big), sizes.reps, out, "worst")

        long = Account.open("long")
        while long.version < sizes.long_events:
            for _ in range(min(INTERVAL, sizes.long_events - long.version)):
                long.deposit(1)
            await repo.save(long)  # 100 events per save: a snapshot at every multiple of 100
        first = (await events.read(long.id, to_version=1))[0].timestamp
        last = (await events.read(long.id, from_version=sizes.long_events))[0].timestamp
        moments = [first + (last - first) * rng.random() for _ in range(sizes.as_of_reps + 1)]
        times = []
        for when in moments:
            t0 = time.perf_counter()
            past = await repo.get(long.id, as_of=when)
            times.append(time.perf_counter() - t0)
            assert past.last_event_at is not None and past.last_event_at <= when
        out["as_of"] = statistics.median(times[1:]) * 1000  # the first one warms up
        out["as_of_p99"] = _p99(times[1:]) * 1000
    return out


async def fresh_pg_database(server: PostgresServer, name: str) -> str:
    admin = await asyncpg.connect(server.url())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute("CHECKPOINT")
    finally:
        await admin.close()
    return server.url(name)


# -- the peer ----------------------------------------------------------------------------------------


class PeerFailed(RuntimeError):
    pass


def ensure_peer_pg(runner: Path) -> None:
    status = subprocess.run([str(runner), "pg", "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        started = subprocess.run([str(runner), "pg", "start"], capture_output=True, text=True, check=False)
        if started.returncode != 0:
            raise PeerFailed(f"cannot start the peer's PostgreSQL: {started.stderr.strip()[-500:]}")


def measure_peer(runner: Path, backend: str, workdir: Path, rnd: int) -> dict[str, float]:
    out_file = workdir / f"peer-{backend}-{rnd}.jsonl"
    out_file.unlink(missing_ok=True)
    peer_backend = {"sqlite": "sqlite", "postgresql": "postgres"}[backend]
    args = [str(runner), "--backend", peer_backend, "--measure", "reconstitute", "--out", str(out_file)]
    done = subprocess.run(
        [*args, "--round", str(rnd)],
        env={**os.environ, "BENCH_TMP": str(workdir / "peer")},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise PeerFailed(f"peer {backend} exited with {done.returncode}: {done.stderr.strip()[-800:]}")
    by_metric = {
        json.loads(line)["metric"]: float(json.loads(line)["value"]) for line in out_file.read_text().splitlines()
    }
    return {key: by_metric[peer] for key, (_, peer) in METRICS.items() if peer is not None and peer in by_metric}


# -- report ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    backend: str
    metric: str
    limit: float
    relative: bool  # a multiple of the peer's figure, or milliseconds

    def check(self, ours: float | None, peer: float | None) -> tuple[str, str, bool | None]:
        if ours is None:
            return "n/a", self.wanted(peer), None
        if self.relative:
            if peer is None:
                return f"{ours:.3f} ms", self.wanted(peer), None
            return f"{ours / peer:.2f}x ({ours:.3f} / {peer:.3f} ms)", self.wanted(peer), ours <= self.limit * peer
        return f"{ours:.3f} ms", self.wanted(peer), ours <= self.limit

    def wanted(self, peer: float | None) -> str:
        if not self.relative:
            return f"<= {self.limit:g} ms"
        return f"<= {self.limit:.1f}x peer" + (f" (<= {self.limit * peer:.3f} ms)" if peer is not None else "")


TARGETS = [
    Target("load latest, snapshot at interval 100, SQLite", "sqlite", "latest", 1.0, True),
    Target("load latest, snapshot at interval 100, PostgreSQL", "postgresql", "latest", 1.0, True),
    Target("worst case, snapshot + 99 events, SQLite", "sqlite", "worst", 0.3, True),
    Target("worst case, snapshot + 99 events, PostgreSQL", "postgresql", "worst", 0.3, True),
    Target("as_of load, 100,000 events, snapshots every 100, SQLite", "sqlite", "as_of", 5.0, False),
    Target("as_of load, 100,000 events, snapshots every 100, PostgreSQL", "postgresql", "as_of", 5.0, False),
]


def median_of(runs: dict[tuple[str, str, str], list[float]], impl: str, backend: str, metric: str) -> float | None:
    values = runs.get((impl, backend, metric))
    return statistics.median(values) if values else None


def table(runs: dict[tuple[str, str, str], list[float]]) -> str:
    lines = [
        "| backend | measure | ours (ms) | peer (ms) | ours / peer | spread of ours over runs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for backend in BACKENDS:
        for key, (label, _) in METRICS.items():
            ours = median_of(runs, OURS, backend, key)
            peer = median_of(runs, PEER, backend, key)
            values = runs.get((OURS, backend, key), [])
            spread = f"{(max(values) - min(values)) / statistics.median(values):.0%}" if len(values) > 1 else "-"
            ratio = f"{ours / peer:.2f}x" if ours is not None and peer else "-"
            lines.append(f"| {backend} | {label} | {_ms(ours)} | {_ms(peer)} | {ratio} | {spread} |")
        size = median_of(runs, OURS, backend, "snapshot_bytes")
        if size is not None:
            lines.append(f"| {backend} | snapshot size (Account state, JSON) | {size:.0f} bytes | | | |")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# -- main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_run_options(p, peer_runner=peer.DEFAULT_RUNNER)
    args = p.parse_args(argv)
    options.check_run_options(p, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    with_peer = not (args.quick or args.skip_peer)
    results = ResultsFile(args.results_dir, "snapshots_bench-quick" if args.quick else "snapshots_bench")
    info = machine()
    results.write("machine", **info)
    results.write("config", runs=args.runs, quick=args.quick, peer=with_peer, sizes=repr(sizes))
    workdir = Path(tempfile.mkdtemp(prefix="snapshots-bench-"))
    runs: dict[tuple[str, str, str], list[float]] = {}
    notes: list[str] = []

    def record(impl: str, backend: str, figures: dict[str, float], rnd: int) -> None:
        for metric, value in figures.items():
            runs.setdefault((impl, backend, metric), []).append(value)
            unit = "bytes" if metric == "snapshot_bytes" else "ms"
            results.measurement(Measurement(impl, backend, metric, value, unit, sizes.events, rnd))

    server = PostgresServer(settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
    try:
        server.start()
        if with_peer:
            ensure_peer_pg(args.peer)
        for rnd in range(1, args.runs + 1):
            rng = random.Random(rnd)
            for backend in BACKENDS:
                t0 = time.perf_counter()
                print(f"run {rnd}/{args.runs}: ours {backend} ...", end="", file=sys.stderr, flush=True)
                if backend == "sqlite":
                    url = f"sqlite:///{workdir / f'ours-{rnd}.db'}"
                else:
                    url = asyncio.run(fresh_pg_database(server, f"snapshots_bench_{rnd}"))
                record(OURS, backend, asyncio.run(measure_ours(url, sizes, rng)), rnd)
                print(f" {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
                if with_peer:  # right after ours: on a busy machine, ratios are fair only close in time
                    t0 = time.perf_counter()
                    print(f"run {rnd}/{args.runs}: peer {backend} ...", end="", file=sys.stderr, flush=True)
                    try:
                        record(PEER, backend, measure_peer(args.peer, backend, workdir, rnd), rnd)
                    except PeerFailed as err:
                        notes.append(f"WARNING: {err} (run {rnd}); its figures are missing")
                    print(f" {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    if args.quick:
        notes.append("QUICK MODE: small sizes, one run, no peer: the figures and verdicts are not meaningful")
    storage = "SQLite = file, WAL + synchronous=FULL; PostgreSQL 15, fsync on"
    print(f"# async-eventsourcing snapshot benchmark ({results.path.name})")
    print(describe(info, args.runs, notes, storage=storage))
    print()
    print(table(runs))
    print("\n## Targets (issue 4, this run)")
    for target in TARGETS:
        ours = median_of(runs, OURS, target.backend, target.metric)
        peer = median_of(runs, PEER, target.backend, target.metric)
        measured, wanted, passed = target.check(ours, peer)
        verdict = "n/a " if passed is None else "PASS" if passed else "MISS"
        print(f"{verdict}  {target.name}: {measured}; target {wanted}")
        results.write("target", name=target.name, measured=ours, peer=peer, wanted=wanted, passed=passed)
    for (impl, backend, metric), values in sorted(runs.items()):
        results.write("median", impl=impl, backend=backend, metric=metric, value=statistics.median(values), runs=values)
    print(f"\nraw results: {results.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
