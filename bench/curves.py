"""Scaling curves: how cost grows with stream length, log size and writer count (CSV + PNG charts).

    .venv/bin/python bench/curves.py                 # full sizes, SQLite and PostgreSQL, into docs/charts/
    .venv/bin/python bench/curves.py --quick --out /tmp/charts   # tiny sizes: only checks that it runs
    .venv/bin/python bench/curves.py --curves load,writers --skip-postgres

Three curves, each written as ``<name>.csv`` (one row per point: backend, series, x, value, unit)
and drawn as ``<name>.png`` (matplotlib, Agg backend):

- ``load``: ``repo.get(id)`` of one ``Account`` grown to 10 ... 100,000 events (saves of at most
  1,000 events), through a repository without snapshots and one with a snapshot every 100 events
  (``EveryNEvents(100)``: the stream lengths are multiples of 100 from 100 up, so the newest snapshot
  is at the head; at 10 events there is none). Median of ``--reps`` loads, no aggregate cache.
- ``catchup``: a counter projection (``view.add``, bench/projections_bench.py) catching up from zero
  on a SQLite log of 10,000 ... 1,000,000 events (streams of 100 events), into a fresh SQLite view
  file at each size. Time and events/s.
- ``writers``: 1, 2, 4, 8 and 16 writer tasks in one event loop, each running load + deposit + save
  commands over 10 aggregates of its own (no aggregate cache: every command reads its stream), the
  same total of commands at every count; commands/s and the p50/p99 command latency. SQLite (one
  file, WAL + synchronous=FULL) and PostgreSQL (a pool of one connection per writer).

PostgreSQL runs on a throwaway durable cluster (bench/pg_cluster.py: fsync, synchronous_commit and
full_page_writes on), a new database per point. One run: a curve shows a shape, not a median.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (HERE, ROOT):  # the helper modules beside this script, and the library
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import pg_cluster  # noqa: E402
import report  # noqa: E402
from model import NOTE, Account  # noqa: E402
from projections_bench import STREAM_TYPE, AddCounter, Deposited  # noqa: E402

from eventsourcing import EventStore, NewEvent, Repository, SQLEventStore  # noqa: E402
from eventsourcing.projections import ProjectionRunner  # noqa: E402
from eventsourcing.snapshots import EveryNEvents, SQLSnapshotStore  # noqa: E402

CHARTS = ROOT / "docs" / "charts"
CURVES = ("load", "catchup", "writers")
INTERVAL = 100


@dataclass(frozen=True, slots=True)
class Sizes:
    lengths: tuple[int, ...] = (10, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)
    load_reps: int = 7
    log_sizes: tuple[int, ...] = (10_000, 30_000, 100_000, 300_000, 1_000_000)
    writer_counts: tuple[int, ...] = (1, 2, 4, 8, 16)
    writer_commands: int = 1_600
    """Commands per point, split evenly between the writers."""
    writer_aggregates: int = 10


FULL = Sizes()
QUICK = Sizes(
    lengths=(10, 100, 1_000),
    load_reps=2,
    log_sizes=(1_000, 3_000),
    writer_counts=(1, 2, 4),
    writer_commands=80,
    writer_aggregates=2,
)


@dataclass(frozen=True, slots=True)
class Point:
    curve: str
    backend: str
    series: str
    x: int
    value: float
    unit: str


# -- the measures --------------------------------------------------------------------------------------


async def load_curve(url: str, backend: str, sizes: Sizes) -> list[Point]:
    """One aggregate grown through every length; both repositories load it at each length."""
    points: list[Point] = []
    async with SQLEventStore(url) as events, SQLSnapshotStore(url) as snaps:
        with_snapshots = Repository(Account, events, snapshots=snaps, snapshot_policy=EveryNEvents(INTERVAL))
        plain = Repository(Account, events)
        account = Account.open("long")
        for length in sizes.lengths:
            while account.version < length:
                for _ in range(min(1_000, length - account.version)):
                    account.deposit(1, NOTE)
                await with_snapshots.save(account)
            for series, repo in (("no snapshot", plain), (f"snapshot every {INTERVAL}", with_snapshots)):
                await repo.get(account.id)  # warm-up
                times = []
                for _ in range(sizes.load_reps):
                    t0 = time.perf_counter()
                    loaded = await repo.get(account.id)
                    times.append(time.perf_counter() - t0)
                    assert loaded.version == length
                points.append(Point("load", backend, series, length, statistics.median(times) * 1000, "ms"))
            _progress(f"load {backend} {length:,}")
    return points


async def seed(store: EventStore, start: int, stop: int, per_stream: int) -> None:
    """Events ``start`` to ``stop`` of the log: new streams of ``per_stream`` events, one append each."""
    now = dt.datetime.now(dt.UTC)
    for s in range(start // per_stream, stop // per_stream):
        batch = [NewEvent(Deposited(amount=1, note=NOTE), uuid.uuid4(), now) for _ in range(per_stream)]
        await store.append(f"acc-{s}", batch, 0, stream_type=STREAM_TYPE)


async def catchup_curve(workdir: Path, sizes: Sizes) -> list[Point]:
    """One SQLite log grown through every size; a fresh projection catches up from zero at each."""
    points: list[Point] = []
    async with SQLEventStore(f"sqlite:///{workdir / 'catchup-events.db'}") as store:
        stored = 0
        for size in sizes.log_sizes:
            await seed(store, stored, size, per_stream=100)
            stored = size
            views = workdir / f"catchup-views-{size}.db"
            async with ProjectionRunner(store, f"sqlite:///{views}", [AddCounter()]) as runner:
                t0 = time.perf_counter()
                n = await runner.catch_up()
                elapsed = time.perf_counter() - t0
            assert n == size, (n, size)
            views.unlink()
            points.append(Point("catchup", "sqlite", "catch-up time", size, elapsed, "s"))
            points.append(Point("catchup", "sqlite", "events/s", size, size / elapsed, "ev/s"))
            _progress(f"catch-up {size:,}")
    return points


async def writers_point(url: str, backend: str, writers: int, sizes: Sizes) -> list[Point]:
    pool_size = writers if backend == "postgres" else 5  # SQLite: the store's default
    async with SQLEventStore(url, pool_size=pool_size) as store:
        repo = Repository(Account, store)
        owned: list[list[str]] = []
        for w in range(writers):
            ids = []
            for i in range(sizes.writer_aggregates):
                account = Account.open(f"w{w}-{i}")
                await repo.save(account)
                ids.append(account.id)
            owned.append(ids)
        per_writer = sizes.writer_commands // writers
        latencies: list[float] = []

        async def writer(ids: list[str]) -> None:
            for i in range(per_writer):
                t0 = time.perf_counter()
                account = await repo.get(ids[i % len(ids)])
                account.deposit(1, NOTE)
                await repo.save(account)
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(ids) for ids in owned))
        elapsed = time.perf_counter() - t0
    n = per_writer * writers
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    _progress(f"writers {backend} {writers}")
    return [
        Point("writers", backend, "commands/s", writers, n / elapsed, "cmd/s"),
        Point("writers", backend, "p50 latency", writers, p50 * 1000, "ms"),
        Point("writers", backend, "p99 latency", writers, p99 * 1000, "ms"),
    ]


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats
    return ordered[int(rank) - 1]


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# -- output -------------------------------------------------------------------------------------------


def write_csv(path: Path, points: Sequence[Point]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["backend", "series", "x", "value", "unit"])
        for p in points:
            w.writerow([p.backend, p.series, p.x, f"{p.value:.6g}", p.unit])


def draw(path: Path, curve: str, points: Sequence[Point], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(backend: str, name: str) -> tuple[list[int], list[float]]:
        chosen = [p for p in points if p.backend == backend and p.series == name]
        return [p.x for p in chosen], [p.value for p in chosen]

    backends = sorted({p.backend for p in points}, key=lambda b: (b != "sqlite", b))
    color = {"sqlite": "tab:blue", "postgres": "tab:orange"}
    if curve == "load":
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for backend in backends:
            for name, style in (("no snapshot", "-o"), (f"snapshot every {INTERVAL}", "--s")):
                xs, ys = series(backend, name)
                ax.plot(xs, ys, style, color=color[backend], label=f"{backend}, {name}")
        ax.set(xscale="log", yscale="log", xlabel="events in the stream", ylabel="repo.get(id), ms (median)")
    elif curve == "catchup":
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
        xs, ys = series("sqlite", "catch-up time")
        ax.plot(xs, ys, "-o", label="sqlite, catch-up time")
        ax.set(xscale="log", yscale="log", xlabel="events in the log", ylabel="catch-up from zero, s")
        xs, ys = series("sqlite", "events/s")
        ax2.plot(xs, ys, "-o", color="tab:green", label="sqlite, events/s")
        ax2.set(xscale="log", xlabel="events in the log", ylabel="events/s", ylim=(0, max(ys) * 1.15))
        ax2.grid(True, which="both", alpha=0.3)
        ax2.legend()
    else:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
        for backend in backends:
            xs, ys = series(backend, "commands/s")
            ax.plot(xs, ys, "-o", color=color[backend], label=backend)
            for name, style in (("p50 latency", "-o"), ("p99 latency", "--s")):
                xs, ys = series(backend, name)
                ax2.plot(xs, ys, style, color=color[backend], label=f"{backend}, {name}")
        ax.set(xscale="log", xlabel="concurrent writers", ylabel="load+change+save commands/s", ylim=(0, None))
        ax2.set(xscale="log", yscale="log", xlabel="concurrent writers", ylabel="command latency, ms")
        for a in (ax, ax2):
            a.set_xticks(sorted({p.x for p in points}), minor=False)
            a.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax2.grid(True, which="both", alpha=0.3)
        ax2.legend()
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


TITLES = {
    "load": "Load time vs stream length (Account, 100-char notes; no aggregate cache)",
    "catchup": "Projection catch-up vs log size (counter view, view.add; SQLite)",
    "writers": "Append throughput vs concurrent writers (load+change+save, no cache)",
}


# -- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: only checks that it runs")
    p.add_argument("--out", type=Path, default=CHARTS, help="where the CSV and PNG files go (default: docs/charts)")
    p.add_argument("--curves", default=",".join(CURVES), help=f"comma-separated subset of {','.join(CURVES)}")
    p.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    args = p.parse_args(argv)
    args.curves = [c.strip() for c in args.curves.split(",") if c.strip()]
    unknown = set(args.curves) - set(CURVES)
    if unknown:
        p.error(f"unknown curves: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="curves-"))
    server = None
    points: dict[str, list[Point]] = {curve: [] for curve in args.curves}
    info = report.machine()
    try:
        if not args.skip_postgres and {"load", "writers"} & set(args.curves):
            server = pg_cluster.start_server()
        if "load" in args.curves:
            points["load"] += asyncio.run(load_curve(f"sqlite:///{workdir / 'load.db'}", "sqlite", sizes))
            if server is not None:
                url = asyncio.run(pg_cluster.fresh_database(server.url(), "curves_load"))
                points["load"] += asyncio.run(load_curve(url, "postgres", sizes))
        if "catchup" in args.curves:
            points["catchup"] += asyncio.run(catchup_curve(workdir, sizes))
        if "writers" in args.curves:
            for writers in sizes.writer_counts:
                db = workdir / f"writers-{writers}.db"
                points["writers"] += asyncio.run(writers_point(f"sqlite:///{db}", "sqlite", writers, sizes))
                if server is not None:
                    url = asyncio.run(pg_cluster.fresh_database(server.url(), f"curves_writers_{writers}"))
                    points["writers"] += asyncio.run(writers_point(url, "postgres", writers, sizes))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"# scaling curves{' (QUICK MODE: tiny sizes, not meaningful)' if args.quick else ''}")
    print(report.describe(info, 1, storage="SQLite = file, WAL + synchronous=FULL; PostgreSQL 15, fsync on"))
    for curve, pts in points.items():
        write_csv(args.out / f"{curve}.csv", pts)
        draw(args.out / f"{curve}.png", curve, pts, TITLES[curve])
        print(f"\n## {TITLES[curve]}  ->  {args.out / curve}.csv, .png")
        print(f"{'backend':<9} {'series':<22} {'x':>10} {'value':>12} unit")
        for p in pts:
            print(f"{p.backend:<9} {p.series:<22} {p.x:>10,} {p.value:>12,.4g} {p.unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
