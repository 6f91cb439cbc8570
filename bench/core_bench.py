"""Core benchmark: our library vs the raw stdlib sqlite3 driver vs the peer library, same shapes.

    .venv/bin/python bench/core_bench.py            # full: medians of 3 runs, peer included
    .venv/bin/python bench/core_bench.py --quick    # tiny sizes, 1 run, no peer (the smoke test)

Areas (the peer's workloads, ../shared/bench/peer/peer_bench.py): sequential load + change + save
commands, one save of 1,000 events, replay of a 10,000-event aggregate without snapshot, and
read_all + decode of a 100,000-event log. The command areas run with the repository's aggregate
cache (``--cache-size``, default 10,000: the whole working set of 2,000 aggregates; 0 turns it off);
the replay area never uses it. Prints one table per area and issue 2's targets as
PASS/MISS; writes every measurement as JSON lines under bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
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
import raw_sqlite  # noqa: E402
import report  # noqa: E402
from records import Measurement, ResultsFile  # noqa: E402
from sizes import FULL, QUICK  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_run_options(p, peer_runner=peer.DEFAULT_RUNNER)
    p.add_argument("--workdir", type=Path, default=None, help="where the databases go (default: a new temp dir)")
    p.add_argument(
        "--cache-size",
        type=int,
        default=10_000,
        help="Repository(cache_size=...) for the command areas (default: %(default)s; 0: no aggregate cache)",
    )
    args = p.parse_args(argv)
    options.check_run_options(p, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    with_peer = not (args.quick or args.skip_peer)
    results = ResultsFile(args.results_dir, "core_bench-quick" if args.quick else "core_bench")
    info = report.machine()
    results.write("machine", **info)
    results.write(
        "config", runs=args.runs, quick=args.quick, peer=with_peer, sizes=repr(sizes), cache_size=args.cache_size
    )

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="core-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
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

    try:
        for rnd in range(1, args.runs + 1):
            print(f"run {rnd}/{args.runs} (work dir {workdir})", file=sys.stderr)
            # Area by area, the raw anchor right beside our figures: on a noisy machine (other jobs'
            # fsyncs) a ratio is only meaningful between measures taken close together in time.
            for area in ours.AREAS:
                step(f"{area}: raw sqlite3", lambda: raw_sqlite.run(area, workdir, sizes, emit, rnd))  # noqa: B023
                for backend in reversed(report.BACKENDS):
                    step(
                        f"{area}: ours {backend}",
                        lambda: ours.run(area, backend, workdir, sizes, emit, rnd, cache_size=args.cache_size),  # noqa: B023
                    )
            if with_peer:
                for backend in report.BACKENDS:
                    try:
                        step(f"peer {backend}", lambda: peer.run(args.peer, backend, workdir, sizes, emit, rnd))  # noqa: B023
                    except peer.PeerFailed as err:
                        print(f" FAILED: {err}", file=sys.stderr)
                        notes.append(f"WARNING: {err} (run {rnd}); its figures are missing")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    medians = report.Medians(measurements)
    extra = [*notes, f"aggregate cache in the command areas: cache_size={args.cache_size:,}"]
    if args.quick:
        extra.append("QUICK MODE: tiny sizes, one run, no peer: the figures and verdicts below are not meaningful")
    print(f"# async-eventsourcing core benchmark ({results.path.name})")
    print(report.describe(info, args.runs, extra))
    print(report.tables(medians, sizes))
    print("\n## Targets (issue 2; SQLite file, WAL + synchronous=FULL, this run)")
    report.record(results, medians, report.targets(medians))
    print(f"\nraw results: {results.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
