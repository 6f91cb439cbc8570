"""Medians, tables, target verdicts and the machine's description, as printed by the benchmarks."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata

from records import OURS, PEER, RAW, Measurement, ResultsFile
from sizes import Sizes


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    area: str
    label: str
    unit: str


def metrics(s: Sizes) -> list[Metric]:
    """Every row the tables can show, in order, grouped by area (one table per area)."""
    cmd = f"Sequential commands: {s.accounts:,} aggregates, then {s.rounds} rounds of one-event commands"
    batch = f"One save of {s.batch:,} pending events (median of {s.batch_reps})"
    replay = f"Replay of one {s.replay:,}-event aggregate, no snapshot (median of {s.replay_reps})"
    log = f"Global log: {s.log_aggregates:,} aggregates x {s.log_per_aggregate} events, then read_all + decode"
    writers = (
        f"{s.writers} concurrent writers: {s.writer_accounts} aggregates each, {s.writer_rounds} rounds "
        "of load+change+save (raw: single-row autocommit INSERTs)"
    )
    return [
        Metric("command", cmd, "load+change+save", "cmd/s"),
        Metric("create", cmd, "create (save only)", "cmd/s"),
        Metric("writers", writers, f"{s.writers} writers, commands", "cmd/s"),
        Metric("batch", batch, "save (raw: executemany)", "ev/s"),
        Metric("batch_copy", batch, "raw: COPY", "ev/s"),
        Metric("replay_latest", replay, "get latest", "ev/s"),
        Metric("replay_version", replay, f"get(version={s.replay_version:,})", "ev/s"),
        Metric("seed", log, "seed (one save per aggregate)", "ev/s"),
        Metric("read_all", log, f"read_all, pages of {s.page:,}", "ev/s"),
    ]


BACKENDS = ("memory", "sqlite")
RAW_NAME = "raw stdlib sqlite3"
PEER_NAME = {"memory": "peer popo", "sqlite": "peer sqlite"}


class Medians:
    """Median per (impl, backend, metric) over runs, and the spread of the runs."""

    def __init__(self, measurements: Iterable[Measurement]) -> None:
        runs: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for m in measurements:
            runs[m.impl, m.backend, m.metric].append(m.value)
        self.runs = dict(runs)

    def get(self, impl: str, backend: str, metric: str) -> float | None:
        values = self.runs.get((impl, backend, metric))
        return statistics.median(values) if values else None

    def spread(self, impl: str, backend: str, metric: str) -> float | None:
        """(max - min) / median over the runs; None for fewer than two runs."""
        values = self.runs.get((impl, backend, metric), [])
        if len(values) < 2:
            return None
        return (max(values) - min(values)) / statistics.median(values)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def tables(
    medians: Medians,
    sizes: Sizes,
    backends: Sequence[str] = BACKENDS,
    footer: Sequence[str] | None = None,
) -> str:
    header = ("backend", "measure", "unit", "ours", "spread", "raw", "peer", "ours/raw", "ours/peer")
    widths = (8, 30, 6, 10, 7, 10, 10, 9, 9)
    out: list[str] = []
    area = None
    for metric in metrics(sizes):
        if metric.area != area:
            area = metric.area
            out += [
                "",
                f"## {area}",
                "  ".join(
                    h.rjust(w) if i > 2 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
                ),
            ]
        for backend in backends:
            ours = medians.get(OURS, backend, metric.key)
            raw = medians.get(RAW, backend, metric.key)
            peer = medians.get(PEER, backend, metric.key)
            if ours is None and raw is None and peer is None:
                continue
            cells = (
                backend,
                metric.label,
                metric.unit,
                _num(ours),
                _pct(medians.spread(OURS, backend, metric.key)),
                _num(raw),
                _num(peer),
                _ratio(ours, raw),
                _ratio(ours, peer),
            )
            out.append(
                "  ".join(
                    c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                )
            )
    if footer is None:
        footer = [
            f"raw = {RAW_NAME} on the same table and rows (sqlite rows only: the memory rows have no raw anchor);",
            "peer = PyPI eventsourcing 9.5.6 (memory: its popo backend; it cannot seed a log for another process).",
        ]
    out += ["", *footer, "spread = (max - min) / median of our figure over the runs."]
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    measured: float | None
    wanted: float
    detail: str

    @property
    def passed(self) -> bool:
        return self.measured is not None and self.measured >= self.wanted

    def line(self) -> str:
        shown = "—" if self.measured is None else _num(self.measured)
        verdict = "PASS" if self.passed else "MISS"
        return f"{verdict}  {self.name:<44} {shown:>10} (want >= {_num(self.wanted)}) {self.detail}".rstrip()


def targets(medians: Medians) -> list[Verdict]:
    """Issue 2's targets, on SQLite (file, WAL + synchronous=FULL), in this run."""

    def ours(key: str) -> float | None:
        return medians.get(OURS, "sqlite", key)

    def raw(key: str) -> float | None:
        return medians.get(RAW, "sqlite", key)

    def ratio(key: str) -> float | None:
        a, b = ours(key), raw(key)
        return None if a is None or not b else a / b

    return [
        Verdict("replay without snapshot, ev/s", ours("replay_latest"), 150_000, ""),
        Verdict(
            "sequential commands / raw per-row commit",
            ratio("command"),
            0.6,
            f"(ours {_num(ours('command'))} vs raw {_num(raw('command'))} cmd/s)",
        ),
        Verdict(
            "one save of 1,000 events / raw executemany",
            ratio("batch"),
            0.8,
            f"(ours {_num(ours('batch'))} vs raw {_num(raw('batch'))} ev/s)",
        ),
        Verdict("read_all + decode, ev/s", ours("read_all"), 200_000, ""),
    ]


def pg_targets(medians: Medians) -> list[Verdict]:
    """Issue 3's targets, on PostgreSQL (fsync + synchronous_commit on), in this run."""

    def get(impl: str, key: str) -> float | None:
        return medians.get(impl, "postgres", key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    ours_w, raw_w = get(OURS, "writers"), get(RAW, "writers")
    ours_c, peer_c = get(OURS, "command"), get(PEER, "command")
    return [
        Verdict(
            "8 concurrent writers / raw single-row inserts",
            ratio(ours_w, raw_w),
            0.4,
            f"(ours {_num(ours_w)} cmd/s vs raw {_num(raw_w)} rows/s)",
        ),
        Verdict(
            "sequential commands / peer",
            ratio(ours_c, peer_c),
            2.0,
            f"(ours {_num(ours_c)} vs peer {_num(peer_c)} cmd/s)",
        ),
        Verdict("one save of 1,000 events, ev/s", get(OURS, "batch"), 60_000, ""),
        Verdict("read_all + decode, ev/s", get(OURS, "read_all"), 200_000, ""),
    ]


def record(results: ResultsFile, medians: Medians, verdicts: list[Verdict]) -> None:
    """Print each verdict, then write the verdicts and every median to the results file."""
    for verdict in verdicts:
        print(verdict.line())
        results.write(
            "target", name=verdict.name, measured=verdict.measured, wanted=verdict.wanted, passed=verdict.passed
        )
    for (impl, backend, metric), values in sorted(medians.runs.items()):
        results.write(
            "median", impl=impl, backend=backend, metric=metric, value=medians.get(impl, backend, metric), runs=values
        )


def machine() -> dict[str, str | int | float | None]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "pydantic": version("pydantic"),
        "sqlalchemy": version("sqlalchemy"),
        "async-eventsourcing": version("async-eventsourcing"),
        "loadavg_1m": os.getloadavg()[0],
    }


def describe(
    info: dict[str, str | int | float | None],
    runs: int,
    extra: Sequence[str] = (),
    storage: str = "SQLite = file, WAL + synchronous=FULL",
) -> str:
    lines = [
        f"machine: {info['cores']} cores, {info['cpu']}, {info['python']}, {info['os']}",
        f"         SQLite {info['sqlite']}, pydantic {info['pydantic']}, SQLAlchemy {info['sqlalchemy']}, "
        f"load average at start {info['loadavg_1m']:.2f}",
        f"figures: medians of {runs} run(s); {storage}",
    ]
    return "\n".join([*lines, *extra])
