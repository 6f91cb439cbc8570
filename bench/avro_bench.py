"""Avro vs JSON payloads: encode and decode rates, and stored bytes per event.

    .venv/bin/python bench/avro_bench.py            # 50,000 events per measure, medians of 3 runs
    .venv/bin/python bench/avro_bench.py --quick    # 500 events, 1 run: only checks that it runs

Workloads: the core bench's events (bench/model.py: ``Opened(owner)``, ``Deposited(amount, note)``
with a 100-character note) and a rich event (a constrained Decimal, a datetime, a UUID, an enum, an
optional string and a list of three nested lines). Codecs: ``JSONCodec`` and ``AvroCodec``, each
through its ``decoder(cls)`` fast path, as the stores use it. ``avro, resolved`` decodes payloads
written with an earlier schema of the same event (one more field, since removed), so fastavro
resolves each one.
Bytes are the whole stored payload (Avro's includes its 5-byte schema-id header). Every figure goes
to ``bench/results/avro_bench-<time>.jsonl`` (gitignored) as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import fastavro
from pydantic import BaseModel, Field

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # the helper modules beside this script, and the library
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import report  # noqa: E402
from model import NOTE, Account  # noqa: E402
from options import RESULTS  # noqa: E402
from records import Measurement, ResultsFile  # noqa: E402

from eventsourcing import DomainEvent  # noqa: E402
from eventsourcing.avro import AvroCodec  # noqa: E402
from eventsourcing.avro.wire import frame  # noqa: E402
from eventsourcing.serialization import Codec, JSONCodec  # noqa: E402


class Channel(StrEnum):
    web = "web"
    shop = "shop"
    phone = "phone"


class Line(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal = Field(max_digits=9, decimal_places=2)


class Ordered(DomainEvent):
    event_type = "bench.order.ordered"
    order_id: uuid.UUID
    placed_at: dt.datetime
    total: Decimal = Field(max_digits=12, decimal_places=2)
    channel: Channel
    coupon: str | None = None
    lines: list[Line]


def rich(i: int) -> Ordered:
    lines = [Line(sku=f"sku-{i % 97:04d}-{k}", quantity=k + 1, unit_price=Decimal("19.99")) for k in range(3)]
    return Ordered(
        order_id=uuid.UUID(int=i),
        placed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i),
        total=Decimal("119.94"),
        channel=Channel.web,
        coupon="SPRING" if i % 2 else None,
        lines=lines,
    )


WORKLOADS: dict[str, Callable[[int], DomainEvent]] = {
    "Opened": lambda i: Account.Opened(owner=f"owner-{i}"),
    "Deposited": lambda i: Account.Deposited(amount=i, note=NOTE),
    "rich": rich,
}


def older_payloads(codec: AvroCodec, events: list[DomainEvent]) -> list[bytes]:
    """The events as written with an earlier schema of their type: one more field, since removed."""
    cls = type(events[0])
    current = fastavro.parse_schema(codec.schema(cls))
    earlier = codec.schema(cls)
    earlier["fields"].append({"name": "legacy", "type": "string"})
    earlier_id, parsed = codec.registry.register(earlier), fastavro.parse_schema(earlier)
    payloads = []
    for event in events:
        datum = fastavro.schemaless_reader(io.BytesIO(codec.encode(event)[5:]), current, None)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, {**datum, "legacy": "x" * 20})
        payloads.append(frame(earlier_id, out.getvalue()))
    return payloads


def rate(fn: Callable[[Any], object], items: list[Any]) -> float:
    """Calls of ``fn`` per second over ``items``."""
    started = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - started)


def measure(n: int, runs: int, results: ResultsFile) -> list[Measurement]:
    found: list[Measurement] = []

    def emit(impl: str, workload: str, metric: str, value: float, unit: str, run: int) -> None:
        m = Measurement(impl, workload, metric, value, unit, n, run)
        found.append(m)
        results.measurement(m)

    for run in range(runs):
        for workload, make in WORKLOADS.items():
            events = [make(i) for i in range(n)]
            cls = type(events[0])
            codecs: list[tuple[str, Codec]] = [("json", JSONCodec()), ("avro", AvroCodec())]
            for name, codec in codecs:
                encode = codec.encode
                payloads = [encode(e) for e in events]  # warm-up, and what the decode measures read
                emit(name, workload, "encode", rate(encode, events), "ev/s", run)
                decode = codec.decoder(cls)  # type: ignore[attr-defined]
                decoded = [decode(p) for p in payloads]
                assert decoded == events
                emit(name, workload, "decode", rate(decode, payloads), "ev/s", run)
                emit(name, workload, "bytes", statistics.mean(len(p) for p in payloads), "B/ev", run)
                if isinstance(codec, AvroCodec):
                    older = older_payloads(codec, events)
                    decode(older[0])
                    emit("avro, resolved", workload, "decode", rate(decode, older), "ev/s", run)
    return found


def table(found: list[Measurement]) -> str:
    medians = report.Medians(found)
    impls = ["json", "avro", "avro, resolved"]
    rows = [f"{'event':<10} {'codec':<15} {'encode ev/s':>12} {'decode ev/s':>12} {'bytes/ev':>9}"]
    for workload in WORKLOADS:
        for impl in impls:
            encode = medians.get(impl, workload, "encode")
            decode = medians.get(impl, workload, "decode")
            size = medians.get(impl, workload, "bytes")
            rows.append(f"{workload:<10} {impl:<15} {_num(encode):>12} {_num(decode):>12} {_num(size, 1):>9}")
    rows.append("")
    rows.append(f"{'event':<10} {'avro/json':<15} {'encode':>12} {'decode':>12} {'bytes':>9}")
    for workload in WORKLOADS:
        ratios = []
        for metric in ("encode", "decode", "bytes"):
            a, j = medians.get("avro", workload, metric), medians.get("json", workload, metric)
            ratios.append(f"{a / j:.2f}x" if a and j else "—")
        rows.append(f"{workload:<10} {'':<15} {ratios[0]:>12} {ratios[1]:>12} {ratios[2]:>9}")
    return "\n".join(rows)


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="500 events, 1 run: checks that the bench runs")
    p.add_argument("--runs", type=int, default=None, help="runs to take the median of (default 3; --quick: 1)")
    p.add_argument("--events", type=int, default=None, help="events per measure (default 50,000; --quick: 500)")
    p.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON lines go")
    args = p.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    n = args.events or (500 if args.quick else 50_000)
    if runs < 1 or n < 1:
        p.error("--runs and --events must be at least 1")
    results = ResultsFile(args.results_dir, "avro_bench-quick" if args.quick else "avro_bench")
    info = report.machine()
    results.write("machine", **info)
    results.write("config", runs=runs, events=n, quick=args.quick)
    print(f"machine: {info['cores']} cores, {info['cpu']}, {info['python']}, load {info['loadavg_1m']:.2f}")
    print(f"## Avro vs JSON payloads: {n:,} events per measure, median of {runs} run(s)\n")
    found = measure(n, runs, results)
    print(table(found))
    medians = report.Medians(found)
    for m in {(m.impl, m.backend, m.metric): m for m in found}.values():
        results.write("median", impl=m.impl, workload=m.backend, metric=m.metric, value=medians.get(*_key(m)))
    return 0


def _key(m: Measurement) -> tuple[str, str, str]:
    return m.impl, m.backend, m.metric


if __name__ == "__main__":
    sys.exit(main())
