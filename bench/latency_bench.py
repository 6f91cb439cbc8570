"""Command latency (p50/p99) and peak RSS: ours vs the raw driver, SQLite and PostgreSQL.

    .venv/bin/python bench/latency_bench.py            # medians of 3 runs (~3 minutes)
    .venv/bin/python bench/latency_bench.py --quick    # tiny sizes, 1 run: only checks that it runs

core_bench.py and pg_bench.py give throughput; this script times every operation one by one, so
the tail shows, and runs each (implementation, backend, area) in a child process of its own, so its
peak RSS (``ru_maxrss``) is that implementation's alone. Areas:

- ``command``: 500 ``Account``s created, then 4 rounds of ``repo.get`` + ``deposit`` +
  ``repo.save`` (2,000 one-event commands; the repository's aggregate cache as the throughput
  benches set it: SQLite ``cache_size=10_000`` as core_bench.py, PostgreSQL none as pg_bench.py, so
  a PostgreSQL command reads its stream and a SQLite one only checks for newer events); raw: 2,000
  single-row autocommit INSERTs (one committed transaction each) onto existing streams.
- ``writers``: 8 writers at once, each over 25 aggregates of its own, 8 rounds of the same
  command (1,600 commands; one event loop; PostgreSQL: a pool of 8); raw: 8 connections (SQLite:
  8 threads, one connection each, waiting on the write lock with a busy timeout; PostgreSQL: 8
  asyncpg connections in one loop) each doing 200 single-row autocommit INSERTs.

Rows are the rows our store writes, into a table our store created (bench/raw_pg.py's and the same
shape for SQLite). p50/p99 are nearest-rank percentiles of the per-operation times in one run; the
figures printed are medians over runs. PostgreSQL: a throwaway durable cluster (bench/pg_cluster.py).
Every measurement goes to bench/results/latency_bench-<time>.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # the helper modules beside this script, and the library
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import options  # noqa: E402
import pg_cluster  # noqa: E402
import report  # noqa: E402
from model import NOTE, Account  # noqa: E402
from records import OURS, RAW, Measurement, ResultsFile  # noqa: E402

from eventsourcing import JSONCodec, Repository, SQLEventStore  # noqa: E402

BACKENDS = ("sqlite", "postgres")
CACHE = {"sqlite": 10_000, "postgres": 0}
"""Repository(cache_size=...) per backend: the same as core_bench.py (SQLite) and pg_bench.py (PostgreSQL)."""
AREAS = ("command", "writers")


@dataclass(frozen=True, slots=True)
class Sizes:
    accounts: int = 500
    rounds: int = 4
    writers: int = 8
    writer_accounts: int = 25
    writer_rounds: int = 8

    @property
    def commands(self) -> int:
        return self.accounts * self.rounds

    @property
    def writer_commands(self) -> int:
        return self.writers * self.writer_accounts * self.writer_rounds


FULL = Sizes()
QUICK = Sizes(accounts=20, rounds=2, writers=3, writer_accounts=3, writer_rounds=2)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest rank: p99 of 2,000 values is the 1,980th smallest."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * int(pct) // 100) - 1)]


# -- ours ---------------------------------------------------------------------------------------------


async def ours(url: str, area: str, s: Sizes) -> tuple[float, list[float]]:
    """Operations per second and each operation's seconds."""
    backend = "postgres" if url.startswith("postgresql") else "sqlite"
    pool_size = s.writers if backend == "postgres" else 5  # SQLite: the store's default
    async with SQLEventStore(url, pool_size=pool_size) as store:
        repo = Repository(Account, store, cache_size=CACHE[backend])
        await repo.save(Account.open("warmup"))
        groups, per = (1, s.accounts) if area == "command" else (s.writers, s.writer_accounts)
        rounds = s.rounds if area == "command" else s.writer_rounds
        owned = []
        for g in range(groups):
            ids = []
            for i in range(per):
                account = Account.open(f"o{g}-{i}")
                await repo.save(account)
                ids.append(account.id)
            owned.append(ids)
        times: list[float] = []

        async def writer(ids: list[Any]) -> None:
            for _ in range(rounds):
                for account_id in ids:
                    t0 = time.perf_counter()
                    account = await repo.get(account_id)
                    account.deposit(1, NOTE)
                    await repo.save(account)
                    times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(ids) for ids in owned))
        elapsed = time.perf_counter() - t0
    return len(times) / elapsed, times


# -- raw ----------------------------------------------------------------------------------------------

_codec = JSONCodec()
DEPOSITED = _codec.encode(Account.Deposited(amount=1, note=NOTE))
COLUMNS = "stream_id, stream_type, version, event_id, event_type, schema_version, timestamp, metadata, payload"


def raw_rows(streams: int, per_stream: int, postgres: bool) -> list[tuple[Any, ...]]:
    """Deposits onto existing streams (versions from 2), as our store writes them."""
    out = []
    ids = [str(uuid.uuid4()) for _ in range(streams)]
    for i in range(streams * per_stream):
        now = dt.datetime.now(dt.UTC)
        out.append(
            (
                ids[i % streams],
                Account.type_name,
                2 + i // streams,
                uuid.uuid4() if postgres else uuid.uuid4().bytes,
                Account.Deposited.event_type,
                1,
                now if postgres else now.isoformat(timespec="microseconds"),
                None,
                DEPOSITED,
            )
        )
    return out


async def create_table(url: str) -> None:
    async with SQLEventStore(url):
        pass


def raw_sqlite(path: Path, area: str, s: Sizes) -> tuple[float, list[float]]:
    asyncio.run(create_table(f"sqlite:///{path}"))
    insert = f"INSERT INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    workers = 1 if area == "command" else s.writers
    per_worker = s.commands if area == "command" else s.writer_accounts * s.writer_rounds
    streams = s.accounts if area == "command" else s.writer_accounts
    work = [raw_rows(streams, per_worker // streams, postgres=False) for _ in range(workers)]
    times: list[float] = []
    lock = threading.Lock()

    def worker(rows: list[tuple[Any, ...]]) -> None:
        db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        mine = []
        for r in rows:
            t0 = time.perf_counter()
            db.execute(insert, r)
            mine.append(time.perf_counter() - t0)
        db.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=worker, args=(rows,)) for rows in work]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(times) / (time.perf_counter() - t0), times


async def raw_pg(url: str, area: str, s: Sizes) -> tuple[float, list[float]]:
    import asyncpg

    await create_table(url)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    insert = f"INSERT INTO events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    workers = 1 if area == "command" else s.writers
    per_worker = s.commands if area == "command" else s.writer_accounts * s.writer_rounds
    streams = s.accounts if area == "command" else s.writer_accounts
    conns = [await asyncpg.connect(dsn) for _ in range(workers)]
    times: list[float] = []
    try:
        work = [raw_rows(streams, per_worker // streams, postgres=True) for _ in conns]

        async def worker(conn: Any, rows: list[tuple[Any, ...]]) -> None:
            await conn.prepare(insert)
            for r in rows:
                t0 = time.perf_counter()
                await conn.execute(insert, *r)
                times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c, rows) for c, rows in zip(conns, work, strict=True)))
        elapsed = time.perf_counter() - t0
    finally:
        for c in conns:
            await c.close()
    return len(times) / elapsed, times


# -- the child ----------------------------------------------------------------------------------------


def child(impl: str, backend: str, area: str, target: str, quick: bool) -> None:
    """Measure one thing in this process; print its figures and this process's peak RSS as JSON."""
    s = QUICK if quick else FULL
    if impl == OURS:
        url = target if backend == "postgres" else f"sqlite:///{target}"
        rate, times = asyncio.run(ours(url, area, s))
    elif backend == "sqlite":
        rate, times = raw_sqlite(Path(target), area, s)
    else:
        rate, times = asyncio.run(raw_pg(target, area, s))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"rate": rate, "p50": percentile(times, 50) * 1000, "p99": percentile(times, 99) * 1000, "rss": rss}
    print(json.dumps({"n": len(times), **figures}))


def run_child(impl: str, backend: str, area: str, target: str, quick: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", impl, backend, area, target]
    done = subprocess.run([*args, *(["--quick"] if quick else [])], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{impl} {backend} {area} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


UNITS = {"rate": "op/s", "p50": "ms", "p99": "ms", "rss": "MiB"}
SUFFIX = {"rate": "", "p50": "_p50", "p99": "_p99", "rss": "_rss"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=None, help="runs to take the median of (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 run: checks that it runs")
    p.add_argument("--results-dir", type=Path, default=options.RESULTS, help="where the JSON lines go")
    p.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    p.add_argument("--child", nargs=4, metavar=("IMPL", "BACKEND", "AREA", "TARGET"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    options.check_run_options(p, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        impl, backend, area, target = args.child
        child(impl, backend, area, target, quick=args.quick)
        return 0
    s = QUICK if args.quick else FULL
    backends = ("sqlite",) if args.skip_postgres else BACKENDS
    results = ResultsFile(args.results_dir, "latency_bench-quick" if args.quick else "latency_bench")
    info = report.machine()
    results.write("machine", **info)
    results.write("config", runs=args.runs, quick=args.quick, sizes=repr(s))
    runs: dict[tuple[str, str, str], list[float]] = {}
    server = None if args.skip_postgres else pg_cluster.start_server()
    work = Path(tempfile.mkdtemp(prefix="latency-bench-"))
    try:
        for rnd in range(1, args.runs + 1):
            for backend in backends:
                for area in AREAS:
                    for impl in (RAW, OURS):  # the anchor right beside ours: the machine drifts
                        print(f"  run {rnd}: {backend} {area} {impl} ...", end="", file=sys.stderr, flush=True)
                        t0 = time.perf_counter()
                        if server is not None and backend == "postgres":
                            target = asyncio.run(pg_cluster.fresh_database(server.url(), f"latency_{impl}_{area}"))
                        else:
                            target = str(work / f"{impl}-{area}-{rnd}.db")
                        figures = run_child(impl, backend, area, target, args.quick)
                        print(f" {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
                        for key, unit in UNITS.items():
                            metric = f"{area}{SUFFIX[key]}"
                            runs.setdefault((impl, backend, metric), []).append(figures[key])
                            m = Measurement(impl, backend, metric, figures[key], unit, int(figures["n"]), rnd)
                            results.measurement(m)
    finally:
        if server is not None:
            server.stop()
        for f in work.iterdir():
            f.unlink()
        work.rmdir()

    def med(impl: str, backend: str, metric: str) -> float | None:
        values = runs.get((impl, backend, metric))
        return statistics.median(values) if values else None

    extra = ["QUICK MODE: tiny sizes, one run: not meaningful"] if args.quick else []
    print(f"# async-eventsourcing command latency ({results.path.name})")
    storage = "SQLite = file, WAL + synchronous=FULL; PostgreSQL 15, fsync + synchronous_commit on"
    print(report.describe(info, args.runs, extra, storage=storage))
    print(
        f"\ncommand: {s.commands:,} sequential load+change+save commands (raw: single-row autocommit INSERTs); "
        f"writers: {s.writers} at once, {s.writer_commands:,} commands; repository cache_size per backend: {CACHE}"
    )
    print(f"{'backend':<9} {'area':<8} {'impl':<5} {'op/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'peak RSS MiB':>13}")
    for backend in backends:
        for area in AREAS:
            for impl in (OURS, RAW):
                cells = [med(impl, backend, f"{area}{SUFFIX[k]}") for k in UNITS]
                shown = [f"{v:,.0f}" if v is not None and v >= 100 else f"{v:.3g}" for v in cells if v is not None]
                print(f"{backend:<9} {area:<8} {impl:<5} {shown[0]:>9} {shown[1]:>8} {shown[2]:>8} {shown[3]:>13}")
    for (impl, backend, metric), values in sorted(runs.items()):
        results.write("median", impl=impl, backend=backend, metric=metric, value=statistics.median(values), runs=values)
    print(f"\nraw results: {results.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
