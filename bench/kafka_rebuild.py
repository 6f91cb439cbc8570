"""Child process of the Kafka benchmark: a fresh store opens on existing topics and catches up.

    python bench/kafka_rebuild.py --bootstrap HOST:PORT --prefix P --index memory|PATH --probe STREAM_ID

Prints one JSON line: the seconds ``open()`` took (connect, then read every partition of the prefix
to its end into the index), the resident set before it and the process's peak (``ru_maxrss``), the
probe stream's version, and the median time to load the probe through a repository afterwards. A
process of its own, so the peak RSS is the store's and nothing else's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # the helper modules beside this script, and the parent's library
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from model import Account  # noqa: E402

from eventsourcing import Repository  # noqa: E402
from eventsourcing.stores.kafka import KafkaEventStore  # noqa: E402


def resident_kb() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


async def rebuild(args: argparse.Namespace) -> dict[str, float | int]:
    index = None if args.index == "memory" else args.index
    before = resident_kb()
    store = KafkaEventStore(args.bootstrap, prefix=args.prefix, index=index, codec=args.codec)
    t0 = time.perf_counter()
    await store.open()
    opened = time.perf_counter() - t0
    try:
        version = await store.stream_version(args.probe)
        repo = Repository(Account, store)
        loads = []
        for _ in range(args.reps):
            t1 = time.perf_counter()
            await repo.get(args.probe)
            loads.append(time.perf_counter() - t1)
    finally:
        await store.close()
    return {
        "open_s": opened,
        "rss_before_kb": before,
        "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "probe_version": version,
        "load_ms": statistics.median(loads) * 1e3,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--index", required=True, help="'memory', or the path of a new SQLite index file")
    p.add_argument("--probe", required=True, help="a stream to check and load after the catch-up")
    p.add_argument("--codec", default="avro", help="the codec the store writes with (reading takes both)")
    p.add_argument("--reps", type=int, default=11)
    print(json.dumps(asyncio.run(rebuild(p.parse_args()))))


if __name__ == "__main__":
    main()
