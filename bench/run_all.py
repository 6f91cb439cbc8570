"""The whole benchmark suite in one command: one table per area, every issue's targets as PASS/MISS.

    .venv/bin/python bench/run_all.py                      # medians of 3 runs, peer included (~60 min, 2 cores)
    .venv/bin/python bench/run_all.py --quick              # tiny sizes, 1 run, no peer: only checks that it runs
    .venv/bin/python bench/run_all.py --areas core,snapshots --runs 5

It runs the area scripts one after the other, each in a process of its own with ``--results-dir``
pointing at one directory for this run (bench/results/run_all-<time>/), then reads their JSON-lines
records back and prints:

- the machine (cores, CPU, Python, SQLite, load average before and after);
- one table per area (append; replay without and with snapshots; ``as_of`` loads; read_all +
  decode; projection catch-up; the Kafka store), each row with our figure, the raw driver's and the
  peer's measured in the same run on the same workload shape, and the ratios;
- a table of the area scripts themselves (wall time, peak RSS of the script's process tree);
- every target of issues 2, 3, 4, 5, 7 and 9 as PASS/MISS with the measured figure.

The same text (Markdown) is written to ``summary.md`` in the run's directory, next to each script's
own printed output (``<area>.txt``) and records (``*.jsonl``). Areas and their scripts:

    core         core_bench.py         memory + SQLite vs stdlib sqlite3 vs the peer
    pg           pg_bench.py           PostgreSQL vs asyncpg vs the peer (incl. 8 concurrent writers)
    latency      latency_bench.py      p50/p99 command latency and peak RSS, SQLite + PostgreSQL, vs raw
    snapshots    snapshots_bench.py    loads from snapshots, as_of, vs the peer
    projections  projections_bench.py  catch-up into a counter view, vs the peer's follower
    kafka        kafka_bench.py        the Kafka store vs raw aiokafka (no peer: it has no Kafka store)
    curves       curves.py             scaling curves, CSV + PNG (docs/charts/, --quick: the run dir)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import options  # noqa: E402
import report  # noqa: E402

PEER_RUNNER = ROOT.parent / "shared" / "bench" / "peer" / "run"


@dataclass(frozen=True, slots=True)
class Area:
    name: str
    script: str
    label: str
    """The results-file prefix the script writes (``<label>-<time>.jsonl``)."""
    peer: bool = True
    """The script takes --skip-peer."""
    runs: bool = True
    """The script takes --runs."""


AREAS = (
    Area("core", "core_bench.py", "core_bench"),
    Area("pg", "pg_bench.py", "pg_bench"),
    Area("latency", "latency_bench.py", "latency_bench", peer=False),
    Area("snapshots", "snapshots_bench.py", "snapshots_bench"),
    Area("projections", "projections_bench.py", "projections_bench"),
    Area("kafka", "kafka_bench.py", "kafka_bench", peer=False),
    Area("curves", "curves.py", "curves", peer=False, runs=False),
)
BY_NAME = {a.name: a for a in AREAS}


# -- running the scripts -------------------------------------------------------------------------------


@dataclass(slots=True)
class Ran:
    area: Area
    seconds: float
    peak_rss_mib: float
    returncode: int | None
    note: str = ""


def run_area(area: Area, args: argparse.Namespace, run_dir: Path) -> Ran:
    script = HERE / area.script
    if not script.exists():
        return Ran(area, 0.0, 0.0, None, f"{area.script} not found: not run")
    command = [sys.executable, str(script)]
    if area.name == "curves":
        command += ["--out", str(args.charts)]
    else:
        command += ["--results-dir", str(run_dir)]
    if args.quick:
        command.append("--quick")
    if area.runs and args.runs is not None:
        command += ["--runs", str(args.runs)]
    if area.peer and args.skip_peer:
        command.append("--skip-peer")
    print(f"== {area.name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    peer_pg_was_up = _peer_pg_up() if area.name == "snapshots" and not args.quick and not args.skip_peer else None
    t0 = time.perf_counter()
    with (run_dir / f"{area.name}.txt").open("w", encoding="utf-8") as out:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=sys.stderr)
        # wait4: the child's own rusage; its ru_maxrss is the largest peak RSS in its process tree
        # (the script, or a child it waited for: the peer, an RSS probe).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    note = ""
    if peer_pg_was_up is False and _peer_pg_up():
        subprocess.run([str(PEER_RUNNER), "pg", "stop"], capture_output=True, check=False)
        note = "stopped the peer's PostgreSQL cluster it started"
    if child.returncode != 0:
        note = f"exited with {child.returncode}: see {area.name}.txt and stderr; its figures may be missing"
    print(f"== {area.name}: {seconds:.0f}s, exit {child.returncode}", file=sys.stderr, flush=True)
    return Ran(area, seconds, usage.ru_maxrss / 1024, child.returncode, note)


def _peer_pg_up() -> bool:
    if not PEER_RUNNER.exists():
        return False
    done = subprocess.run([str(PEER_RUNNER), "pg", "status"], capture_output=True, check=False)
    return done.returncode == 0


# -- reading the records back --------------------------------------------------------------------------

Key = tuple[str, str, str, str]
"""(area, impl, backend, metric)."""


@dataclass(slots=True)
class Records:
    runs: dict[Key, list[float]] = field(default_factory=dict)
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, run_dir: Path, areas: Iterable[Area]) -> Records:
        records = cls()
        for area in areas:
            for path in sorted(run_dir.glob(f"{area.label}*.jsonl")):
                for line in path.read_text(encoding="utf-8").splitlines():
                    row = json.loads(line)
                    if row["kind"] == "machine":
                        records.machines[area.name] = row
                    elif row["kind"] == "measure":
                        key = (area.name, row["impl"], row["backend"], row["metric"])
                        records.runs.setdefault(key, []).append(float(row["value"]))
        return records

    def get(self, area: str, impl: str, backend: str, metric: str) -> float | None:
        values = self.runs.get((area, impl, backend, metric))
        return statistics.median(values) if values else None

    def metrics(self, area: str, prefix: str) -> list[str]:
        return sorted({k[3] for k in self.runs if k[0] == area and k[3].startswith(prefix)})


# -- the tables ---------------------------------------------------------------------------------------

LOWER_IS_BETTER = ("ms", "MiB", "MB")


@dataclass(frozen=True, slots=True)
class Row:
    backend: str
    label: str
    unit: str
    area: str
    metric: str
    raw_metric: str | None = None
    """The raw anchor's metric when it differs (e.g. COPY); ``""``: no raw column."""
    ratios: bool = True


def row_cells(rec: Records, row: Row) -> list[str] | None:
    ours = rec.get(row.area, "ours", row.backend, row.metric)
    raw_key = row.metric if row.raw_metric is None else row.raw_metric
    raw = rec.get(row.area, "raw", row.backend, raw_key) if raw_key else None
    # A row against another raw anchor (COPY, pipelined produce) repeats ours: its peer is on the row above.
    peer = rec.get(row.area, "peer", row.backend, row.metric) if row.raw_metric is None else None
    if ours is None and raw is None and peer is None:
        return None
    return [
        "postgres" if row.backend == "postgresql" else row.backend,
        row.label,
        row.unit,
        _num(ours),
        _num(raw),
        _num(peer),
        _speedup(ours, raw, row.unit) if row.ratios else "—",
        _speedup(ours, peer, row.unit) if row.ratios else "—",
    ]


def _speedup(ours: float | None, other: float | None, unit: str) -> str:
    """How many times as fast as the other: for times and sizes, theirs / ours."""
    if ours is None or other is None or ours == 0 or other == 0:
        return "—"
    ratio = other / ours if unit in LOWER_IS_BETTER else ours / other
    return f"{ratio:.2f}x"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1 else f"{value:.3f}"


def markdown(header: list[str], lines: list[list[str]], right: Iterable[int] = range(3, 8)) -> str:
    """A Markdown table; the columns numbered in ``right`` are right-aligned (figures)."""
    right = set(right)
    align = ["---:" if i in right else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


HEADER = ["backend", "measure", "unit", "ours", "raw driver", "peer", "ours/raw", "ours/peer"]


def area_rows(rec: Records) -> dict[str, list[Row]]:
    """Issue 9's areas, each a list of rows drawn from the scripts' records."""
    all3, sql_pg = ("memory", "sqlite", "postgres"), ("sqlite", "postgres")

    def src(backend: str) -> str:
        return "pg" if backend == "postgres" else "core"

    append: list[Row] = []
    for b in all3:
        append.append(Row(b, "sequential load+change+save", "cmd/s", src(b), "command"))
        if b != "memory":
            for q in ("p50", "p99"):
                append.append(Row(b, f"  command latency {q} (raw: one INSERT)", "ms", "latency", f"command_{q}"))
            append.append(Row(b, "  peak RSS of that process", "MiB", "latency", "command_rss", ratios=False))
        append.append(Row(b, "create (save only)", "cmd/s", src(b), "create"))
    for b in sql_pg:
        if b == "postgres":
            append.append(Row(b, "8 concurrent writers (raw: 8 conns of INSERTs)", "cmd/s", "pg", "writers"))
        append.append(Row(b, "8 concurrent writers, latency bench", "cmd/s", "latency", "writers"))
        for q in ("p50", "p99"):
            append.append(Row(b, f"  writer command latency {q}", "ms", "latency", f"writers_{q}"))
        append.append(Row(b, "  peak RSS of that process", "MiB", "latency", "writers_rss", ratios=False))
    for b in all3:
        append.append(Row(b, "one save of 1,000 events (raw: executemany)", "ev/s", src(b), "batch"))
    append.append(Row("postgres", "  the same, raw: COPY", "ev/s", "pg", "batch", raw_metric="batch_copy"))

    replay: list[Row] = []
    for b in all3:
        replay.append(Row(b, "replay 10,000 events, no snapshot, get latest", "ev/s", src(b), "replay_latest"))
        replay.append(Row(b, "  get(version=5,000), no snapshot", "ev/s", src(b), "replay_version"))
    for sb in ("sqlite", "postgresql"):
        replay += [
            Row(sb, "get latest, snapshot at interval 100", "ms", "snapshots", "latest"),
            Row(sb, "  p99 of 21 loads (the slowest)", "ms", "snapshots", "latest_p99"),
            Row(sb, "get(version=5,000), snapshot every 100", "ms", "snapshots", "version"),
            Row(sb, "get latest, snapshot + 99 events (worst case)", "ms", "snapshots", "worst"),
            Row(sb, "  p99 of 21 loads (the slowest)", "ms", "snapshots", "worst_p99"),
            Row(sb, "get latest of 10,000 events, no snapshot", "ms", "snapshots", "no_snapshot"),
        ]
    as_of = []
    for sb in ("sqlite", "postgresql"):
        as_of += [
            Row(sb, "get(as_of=random), 100,000 events, snapshot every 100", "ms", "snapshots", "as_of"),
            Row(sb, "  p99 of 25 loads", "ms", "snapshots", "as_of_p99"),
            Row(sb, "write one snapshot (encode + insert)", "ms", "snapshots", "snapshot_write"),
        ]
    log = []
    for b in all3:
        log.append(Row(b, "read_all + decode, 100,000 events, pages of 1,000", "ev/s", src(b), "read_all"))
    for b in all3:
        log.append(Row(b, "seed: 10,000 aggregates x 10 events, one save each", "ev/s", src(b), "seed"))
    projections = []
    for b in sql_pg:
        projections += [
            Row(b, "catch-up, counter view, view.add (peer: ProcessApplication)", "ev/s", "projections", "add"),
            Row(b, "  catch-up, upsert per event", "ev/s", "projections", "upsert"),
            Row(b, "  read_all alone, the ceiling", "ev/s", "projections", "read_all"),
        ]
    projections += [
        Row("sqlite", "peak RSS, catch-up of 1,000,000 events", "MiB", "projections", "rss", ratios=False),
        Row("sqlite", "  events/s of that catch-up", "ev/s", "projections", "rss_rate"),
    ]
    k = "kafka"
    kafka = [
        Row(k, "sequential commands (raw: bare send_and_wait)", "op/s", k, "command"),
        Row(k, "  latency p50", "ms", k, "command_p50"),
        Row(k, "  latency p99", "ms", k, "command_p99"),
        Row(k, "8 writers, appends (raw: 8 tasks send_and_wait)", "op/s", k, "writers"),
        Row(k, "  the same vs raw pipelined produce", "op/s", k, "writers", raw_metric="pipelined"),
        Row(k, "  latency p50", "ms", k, "writers_p50"),
        Row(k, "  latency p99", "ms", k, "writers_p99"),
        Row(k, "one append of 1,000 events (raw: send_and_wait)", "ev/s", k, "batch"),
        Row(k, "seed the big partition, appends of 1,000", "ev/s", k, "seed"),
    ]
    for metric in sorted(rec.metrics(k, "load_"), key=lambda m: int(m.split("_")[1])):
        kafka.append(Row(k, f"load a 100-event stream, partition of {int(metric[5:]):,}", "ms", k, metric))
    kafka += [
        Row(k, "read_all + decode, pages of 1,000", "ev/s", k, "read_all"),
        Row(k, "fresh store opens on the partition, memory index", "ev/s", k, "rebuild_memory"),
        Row(k, "  the same, file index", "ev/s", k, "rebuild_file"),
        Row(k, "  peak RSS of that process, memory index", "MB", k, "rss_memory", ratios=False),
        Row(k, "  peak RSS of that process, file index", "MB", k, "rss_file", ratios=False),
    ]
    return {
        "Append: sequential commands, 8 concurrent writers, one save of 1,000 events": append,
        "Replay without and with snapshots": replay,
        "as_of loads": as_of,
        "read_all + decode (the global log)": log,
        "Projection catch-up (100,000 events stored)": projections,
        "Kafka store (Tansu broker, memory storage)": kafka,
    }


# -- the targets ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    issue: str
    name: str
    measured: float | None
    wanted: float
    at_most: bool = False
    unit: str = ""
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        ok = self.measured <= self.wanted if self.at_most else self.measured >= self.wanted
        return "PASS" if ok else "MISS"

    def cells(self) -> list[str]:
        shown = _num(self.measured) + (f" {self.unit}" if self.measured is not None and self.unit else "")
        want = f"{'<=' if self.at_most else '>='} {_num(self.wanted)}{f' {self.unit}' if self.unit else ''}"
        return [self.issue, self.name, shown, want, f"**{self.verdict}**", self.detail]


def targets(rec: Records) -> list[Target]:
    g = rec.get

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    def vs(a: float | None, b: float | None, unit: str) -> str:
        return f"{_num(a)} vs {_num(b)} {unit}"

    out: list[Target] = []
    # Issue 2: SQLite core.
    c = "core"
    out += [
        Target("2", "SQLite replay, no snapshot", g(c, "ours", "sqlite", "replay_latest"), 150_000, unit="ev/s"),
        Target(
            "2",
            "SQLite sequential commands / raw per-row commit",
            ratio(g(c, "ours", "sqlite", "command"), g(c, "raw", "sqlite", "command")),
            0.6,
            unit="x",
            detail=vs(g(c, "ours", "sqlite", "command"), g(c, "raw", "sqlite", "command"), "cmd/s"),
        ),
        Target(
            "2",
            "SQLite one save of 1,000 events / raw executemany",
            ratio(g(c, "ours", "sqlite", "batch"), g(c, "raw", "sqlite", "batch")),
            0.8,
            unit="x",
            detail=vs(g(c, "ours", "sqlite", "batch"), g(c, "raw", "sqlite", "batch"), "ev/s"),
        ),
        Target("2", "SQLite read_all + decode", g(c, "ours", "sqlite", "read_all"), 200_000, unit="ev/s"),
    ]
    p = "pg"
    out += [
        Target(
            "3",
            "PostgreSQL 8 writers / raw single-row inserts on 8 connections",
            ratio(g(p, "ours", "postgres", "writers"), g(p, "raw", "postgres", "writers")),
            0.4,
            unit="x",
            detail=vs(g(p, "ours", "postgres", "writers"), g(p, "raw", "postgres", "writers"), "/s"),
        ),
        Target(
            "3",
            "PostgreSQL sequential commands / peer",
            ratio(g(p, "ours", "postgres", "command"), g(p, "peer", "postgres", "command")),
            2.0,
            unit="x",
            detail=vs(g(p, "ours", "postgres", "command"), g(p, "peer", "postgres", "command"), "cmd/s"),
        ),
        Target("3", "PostgreSQL one save of 1,000 events", g(p, "ours", "postgres", "batch"), 60_000, unit="ev/s"),
        Target("3", "PostgreSQL read_all + decode", g(p, "ours", "postgres", "read_all"), 200_000, unit="ev/s"),
    ]
    s = "snapshots"
    for backend, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        for metric, label, limit in (("latest", "load latest, snapshot at 100", 1.0), ("worst", "worst case", 0.3)):
            ours, peer = g(s, "ours", backend, metric), g(s, "peer", backend, metric)
            out.append(
                Target(
                    "4",
                    f"{name} {label}: time / the peer's",
                    ratio(ours, peer),
                    limit,
                    at_most=True,
                    unit="x",
                    detail=vs(ours, peer, "ms"),
                )
            )
    for backend, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        out.append(
            Target("4", f"{name} as_of, 100,000 events", g(s, "ours", backend, "as_of"), 5.0, at_most=True, unit="ms")
        )
    j = "projections"
    out += [
        Target("5", "SQLite projection catch-up", g(j, "ours", "sqlite", "add"), 50_000, unit="ev/s"),
        Target("5", "PostgreSQL projection catch-up", g(j, "ours", "postgres", "add"), 30_000, unit="ev/s"),
        Target("5", "peak RSS, 1,000,000-event catch-up", g(j, "ours", "sqlite", "rss"), 80, at_most=True, unit="MiB"),
    ]
    k = "kafka"
    top = max((int(m[5:]) for m in rec.metrics(k, "load_")), default=None)
    out += [
        Target(
            "7",
            "Kafka sequential commands / raw send_and_wait",
            ratio(g(k, "ours", k, "command"), g(k, "raw", k, "command")),
            0.5,
            unit="x",
            detail=vs(g(k, "ours", k, "command"), g(k, "raw", k, "command"), "/s"),
        ),
        Target(
            "7",
            "Kafka 8 writers / raw pipelined produce",
            ratio(g(k, "ours", k, "writers"), g(k, "raw", k, "pipelined")),
            0.5,
            unit="x",
            detail=vs(g(k, "ours", k, "writers"), g(k, "raw", k, "pipelined"), "/s"),
        ),
        Target(
            "7",
            f"Kafka load of 100 events, partition of {top or 0:,}",
            g(k, "ours", k, f"load_{top}") if top else None,
            5.0,
            at_most=True,
            unit="ms",
        ),
    ]
    # Issue 9: every area >= 3x the peer (snapshot loads >= 1x), replay >= 0.5x the raw read rate.
    for area, backends, metric, label in (
        ("core", ("memory", "sqlite"), "command", "sequential commands"),
        ("pg", ("postgres",), "command", "sequential commands"),
        ("core", ("memory", "sqlite"), "create", "create (save only)"),
        ("pg", ("postgres",), "create", "create (save only)"),
        ("core", ("memory", "sqlite"), "batch", "one save of 1,000 events"),
        ("pg", ("postgres",), "batch", "one save of 1,000 events"),
        ("core", ("memory", "sqlite"), "replay_latest", "replay, no snapshot"),
        ("pg", ("postgres",), "replay_latest", "replay, no snapshot"),
        ("core", ("memory", "sqlite"), "replay_version", "get(version=5,000), no snapshot"),
        ("pg", ("postgres",), "replay_version", "get(version=5,000), no snapshot"),
        ("core", ("sqlite",), "read_all", "read_all + decode"),
        ("pg", ("postgres",), "read_all", "read_all + decode"),
        ("core", ("sqlite",), "seed", "seed (one save per aggregate)"),
        ("pg", ("postgres",), "seed", "seed (one save per aggregate)"),
        ("projections", ("sqlite",), "add", "projection catch-up"),
    ):
        for backend in backends:
            ours, peer = g(area, "ours", backend, metric), g(area, "peer", backend, metric)
            out.append(
                Target("9", f"{backend} {label} / peer", ratio(ours, peer), 3.0, unit="x", detail=vs(ours, peer, "/s"))
            )
    for backend in ("sqlite", "postgresql"):
        for metric, label in (("latest", "load latest"), ("version", "get(version=5,000)"), ("worst", "worst case")):
            ours, peer = g(s, "ours", backend, metric), g(s, "peer", backend, metric)
            out.append(
                Target(
                    "9",
                    f"{backend} snapshot {label}: peer's time / ours",
                    ratio(peer, ours),
                    1.0,
                    unit="x",
                    detail=vs(ours, peer, "ms"),
                )
            )
    for name, area, backend, metric, why in (
        ("postgres 8 concurrent writers", "pg", "postgres", "writers", "the peer has no concurrent-writer measure"),
        ("as_of loads", "snapshots", "sqlite", "as_of", "the peer has no as_of load"),
        ("postgres projection catch-up", "projections", "postgres", "add", "the peer's PostgreSQL projection not run"),
        ("kafka store", "kafka", "kafka", "command", "the peer has no Kafka store"),
    ):
        ours, peer = g(area, "ours", backend, metric), g(area, "peer", backend, metric)
        detail = why if peer is None else vs(ours, peer, "/s")
        out.append(Target("9", f"{name} / peer", ratio(ours, peer), 3.0, unit="x", detail=detail))
    for area, backend in (("core", "sqlite"), ("pg", "postgres")):
        for metric, label in (("replay_latest", "replay"), ("replay_version", "get(version=5,000)")):
            ours, raw = g(area, "ours", backend, metric), g(area, "raw", backend, metric)
            out.append(
                Target(
                    "9",
                    f"{backend} {label} / raw read of the same rows",
                    ratio(ours, raw),
                    0.5,
                    unit="x",
                    detail=vs(ours, raw, "ev/s"),
                )
            )
    return out


# -- main -----------------------------------------------------------------------------------------------


def describe_machine(info: dict[str, Any], load_after: float, runs: int, quick: bool) -> list[str]:
    lines = [
        f"- machine: {info['cores']} cores, {info['cpu']}; {info['python']}; {info['os']}",
        f"- SQLite {info['sqlite']}, pydantic {info['pydantic']}, SQLAlchemy {info['sqlalchemy']}; "
        "PostgreSQL 15 (throwaway cluster on the same machine, fsync and synchronous_commit on)",
        f"- load average (1 min): {info['loadavg_1m']:.2f} at the start, {load_after:.2f} at the end "
        "(a shared machine: other jobs run beside the bench)",
        f"- figures: medians of {runs} run(s) per script; ratios between medians; peer = PyPI eventsourcing 9.5.6",
    ]
    if quick:
        lines.append("- **QUICK MODE**: tiny sizes, one run, no peer: the figures and verdicts are not meaningful")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=None, help="runs per script (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 run, no peer: checks that the suite runs")
    p.add_argument("--skip-peer", action="store_true", help="do not run the peer library")
    p.add_argument("--areas", default=",".join(a.name for a in AREAS), help="comma-separated subset (default: all)")
    p.add_argument("--results-dir", type=Path, default=options.RESULTS, help="parent of this run's directory")
    p.add_argument("--charts", type=Path, default=None, help="where curves.py writes (default: docs/charts)")
    p.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run into this existing run's directory (its records of the areas run again are replaced)",
    )
    p.add_argument(
        "--report-only", type=Path, default=None, metavar="RUN_DIR", help="print the tables of an earlier run's dir"
    )
    args = p.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        p.error("--runs must be at least 1")
    names = [a.strip() for a in args.areas.split(",") if a.strip()]
    unknown = set(names) - set(BY_NAME)
    if unknown:
        p.error(f"unknown areas: {', '.join(sorted(unknown))} (known: {', '.join(BY_NAME)})")
    args.areas = [BY_NAME[n] for n in names]
    return args


def load_state(run_dir: Path, info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Ran]]:
    """The machine and the scripts already run into ``run_dir`` (its run.json), if any; the machine's
    ``load_after`` is the load average when the last script ended."""
    saved = run_dir / "run.json"
    if not saved.exists():
        return info, {}
    state: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
    ran = {
        r["area"]: Ran(BY_NAME[r["area"]], float(r["seconds"]), float(r["rss"]), r["rc"], str(r["note"]))
        for r in state["ran"]
    }
    machine: dict[str, Any] = state["machine"]
    return machine, ran


def save_state(run_dir: Path, info: dict[str, Any], ran: dict[str, Ran]) -> None:
    info["load_after"] = os.getloadavg()[0]
    rows = [
        {"area": r.area.name, "seconds": r.seconds, "rss": r.peak_rss_mib, "rc": r.returncode, "note": r.note}
        for r in ran.values()
    ]
    (run_dir / "run.json").write_text(json.dumps({"machine": info, "ran": rows}, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only is not None:
        run_dir = args.report_only
        info, ran = load_state(run_dir, report.machine())
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = args.run_dir or args.results_dir / f"run_all{'-quick' if args.quick else ''}-{stamp}"
        run_dir.mkdir(parents=True, exist_ok=True)
        if args.charts is None:
            args.charts = run_dir / "charts" if args.quick else ROOT / "docs" / "charts"
        info, ran = load_state(run_dir, report.machine())
        for area in args.areas:
            for old in run_dir.glob(f"{area.label}*.jsonl"):  # --run-dir: this area's earlier records
                old.unlink()
            ran[area.name] = run_area(area, args, run_dir)
            save_state(run_dir, info, ran)
    runs = args.runs or (1 if args.quick else 3)
    quick = args.quick or "quick" in run_dir.name
    areas = [r.area for r in ran.values()] or args.areas
    rec = Records.read(run_dir, areas)
    load_after = float(info.get("load_after", os.getloadavg()[0]))
    text = render(rec, info, list(ran.values()), runs, quick, run_dir, load_after=load_after)
    print(text)
    (run_dir / "summary.md").write_text(text + "\n", encoding="utf-8")
    return 0 if all(r.returncode in (0, None) for r in ran.values()) else 1


def render(
    rec: Records, info: dict[str, Any], ran: list[Ran], runs: int, quick: bool, run_dir: Path, load_after: float
) -> str:
    out = [f"# async-eventsourcing benchmark suite ({run_dir.name})", ""]
    out += describe_machine(info, load_after, runs, quick)
    for title, rows in area_rows(rec).items():
        lines = [cells for cells in (row_cells(rec, row) for row in rows) if cells is not None]
        out += ["", f"## {title}", ""]
        out.append(markdown(HEADER, lines) if lines else "_not measured in this run_")
    out += [
        "",
        "Ratios read 'times as fast': for events/s and commands/s ours / theirs, for ms and MiB theirs / ours.",
        "A dash: that implementation has no such figure (the peer has no concurrent-writer, as_of or Kafka "
        "measure; the raw driver has no snapshot or projection anchor).",
    ]
    if ran:
        out += ["", "## The scripts of this run", ""]
        lines = [
            [
                r.area.name,
                r.area.script,
                f"{r.seconds / 60:.1f} min",
                f"{r.peak_rss_mib:,.0f} MiB",
                "not run" if r.returncode is None else str(r.returncode),
                r.note,
            ]
            for r in ran
        ]
        header = ["area", "script", "wall time", "peak RSS (process tree)", "exit", "note"]
        out.append(markdown(header, lines, right=(2, 3, 4)))
    verdicts = targets(rec)
    out += ["", "## Targets (issues 2, 3, 4, 5, 7, 9; this run)", ""]
    out.append(
        markdown(["issue", "target", "measured", "wanted", "verdict", "detail"], [t.cells() for t in verdicts], (2, 3))
    )
    counts = {v: sum(t.verdict == v for t in verdicts) for v in ("PASS", "MISS", "n/a")}
    out += ["", f"{counts['PASS']} PASS, {counts['MISS']} MISS, {counts['n/a']} n/a (not measured in this run)."]
    out += ["", f"records: {run_dir}"]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
