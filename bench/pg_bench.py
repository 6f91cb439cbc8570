"""PostgreSQL benchmark: our store vs raw asyncpg vs the peer library, same shapes, same server.

    .venv/bin/python bench/pg_bench.py            # full: medians of 3 runs, peer included
    .venv/bin/python bench/pg_bench.py --quick    # tiny sizes, 1 run, no peer (the smoke test)

Starts its own throwaway PostgreSQL 15 cluster (tests/postgres_server.py) with fsync,
synchronous_commit and full_page_writes on, and runs ours, the raw driver and the peer on it, each
measure in a fresh database. Areas: sequential load + change + save commands, 8 concurrent writers,
one save of 1,000 events, replay of a 10,000-event aggregate, read_all + decode of a 100,000-event
log. Prints one table per area and issue 3's targets as PASS/MISS; writes every measurement as JSON
lines under bench/results/ (gitignored). The helper modules are core_bench.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helper modules beside this script
    sys.path.insert(0, str(HERE))

import options  # noqa: E402
import ours  # noqa: E402
import peer  # noqa: E402
import pg_cluster  # noqa: E402
import raw_pg  # noqa: E402
import report  # noqa: E402
from records import Measurement, ResultsFile  # noqa: E402
from sizes import FULL, QUICK  # noqa: E402

BACKEND = "postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_run_options(p, peer_runner=peer.DEFAULT_RUNNER)
    p.add_argument(
        "--areas",
        default=",".join(ours.PG_AREAS),
        help=f"comma-separated subset of {','.join(ours.PG_AREAS)} (default: all)",
    )
    p.add_argument("--skip-raw", action="store_true", help="do not run the raw asyncpg anchors")
    args = p.parse_args(argv)
    options.check_run_options(p, args)
    args.areas = [a.strip() for a in args.areas.split(",") if a.strip()]
    unknown = set(args.areas) - set(ours.PG_AREAS)
    if unknown:
        p.error(f"unknown areas: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    with_peer = not (args.quick or args.skip_peer)
    results = ResultsFile(args.results_dir, "pg_bench-quick" if args.quick else "pg_bench")
    info = report.machine()
    workdir = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    measurements: list[Measurement] = []
    notes: list[str] = []

    def emit(m: Measurement) -> None:
        measurements.append(m)
        results.measurement(m)

    def step(name: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        fn()
        print(f" {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)

    server = pg_cluster.start_server()
    try:
        url = server.url()
        info |= asyncio.run(pg_cluster.settings(url))
        results.write("machine", **info)
        results.write("config", runs=args.runs, quick=args.quick, peer=with_peer, sizes=repr(sizes))

        def before_peer(measure: str) -> None:
            if measure == "seed":  # the peer writes its seeded log into an existing database
                asyncio.run(pg_cluster.fresh_database(url, peer.PG_SEEDED))

        for rnd in range(1, args.runs + 1):
            print(f"run {rnd}/{args.runs} (server {url})", file=sys.stderr)
            # Area by area, the raw anchor right beside our figure (a noisy machine drifts).
            for area in args.areas:
                if not args.skip_raw:
                    step(f"{area}: raw asyncpg", lambda: raw_pg.run(area, url, sizes, emit, rnd))  # noqa: B023
                step(f"{area}: ours", lambda: ours.run(area, BACKEND, workdir, sizes, emit, rnd, pg_url=url))  # noqa: B023
            if with_peer:
                try:
                    step(
                        "peer postgres",
                        lambda: peer.run(
                            args.peer,
                            BACKEND,
                            workdir,
                            sizes,
                            emit,
                            rnd,  # noqa: B023
                            pg=("127.0.0.1", server.port),
                            before=before_peer,
                        ),
                    )
                except peer.PeerFailed as err:
                    print(f" FAILED: {err}", file=sys.stderr)
                    notes.append(f"WARNING: {err} (run {rnd}); its figures are missing")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    medians = report.Medians(measurements)
    extra = [
        f"server:  PostgreSQL {info['server_version']} (throwaway cluster, same machine), fsync={info['fsync']}, "
        f"synchronous_commit={info['synchronous_commit']}, full_page_writes={info['full_page_writes']}, "
        f"shared_buffers={info['shared_buffers']}",
        *notes,
    ]
    if args.quick:
        extra.append("QUICK MODE: tiny sizes, one run, no peer: the figures and verdicts below are not meaningful")
    print(f"# async-eventsourcing PostgreSQL benchmark ({results.path.name})")
    print(report.describe(info, args.runs, extra, storage="PostgreSQL, one server for ours, raw and peer"))
    footer = [
        "raw = asyncpg on a table created by our store (same columns, same indexes, same rows), statements prepared;",
        "peer = PyPI eventsourcing 9.5.6, --backend postgres (psycopg), on the same server.",
    ]
    print(report.tables(medians, sizes, backends=(BACKEND,), footer=footer))
    print("\n## Targets (issue 3; PostgreSQL, fsync + synchronous_commit on, this run)")
    report.record(results, medians, report.pg_targets(medians))
    print(f"\nraw results: {results.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
