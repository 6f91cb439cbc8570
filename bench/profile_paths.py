"""Profile one hot path of the core benchmark under cProfile and print where the time goes.

    .venv/bin/python bench/profile_paths.py command  [--backend sqlite] [--n 3000] [--top 25] [--cache-size 1000]
    .venv/bin/python bench/profile_paths.py batch | replay | read_all
    .venv/bin/python bench/profile_paths.py read_all --backend postgres   # starts a throwaway cluster

Each path is set up untimed, then only the measured loop runs under the profiler (the same shapes as
core_bench.py). Profiling inflates pure-Python call costs, so read the output for shares, and the
unprofiled per-event cost printed first for absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from model import NOTE, Account  # noqa: E402
from ours import StoreFactory  # noqa: E402
from pg_cluster import start_server  # noqa: E402

from eventsourcing import EventStore, Repository  # noqa: E402

Loop = Callable[[], Awaitable[int]]


async def prepare(path: str, store: EventStore, n: int, cache_size: int = 0) -> Loop:
    """Set the path up; return the loop to measure (it returns how many events/commands it did)."""
    repo = Repository(Account, store, cache_size=cache_size if path == "command" else 0)
    if path == "command":
        ids = []
        for i in range(500):
            account = Account.open(f"owner-{i}")
            await repo.save(account)
            ids.append(account.id)

        async def commands() -> int:
            for i in range(n):
                account = await repo.get(ids[i % len(ids)])
                account.deposit(1, NOTE)
                await repo.save(account)
            return n

        return commands
    if path == "batch":

        async def batches() -> int:
            for _ in range(max(1, n // 1000)):
                account = Account.open("batch")
                for _ in range(999):
                    account.deposit(1, NOTE)
                await repo.save(account)
            return max(1, n // 1000) * 1000

        return batches
    if path == "replay":
        account = Account.open("big")
        while account.version < 10_000:
            for _ in range(min(1_000, 10_000 - account.version)):
                account.deposit(1, NOTE)
            await repo.save(account)

        async def replays() -> int:
            for _ in range(max(1, n // 10_000)):
                await repo.get(account.id)
            return max(1, n // 10_000) * 10_000

        return replays
    if path == "read_all":
        for i in range(n // 10):
            account = Account.open(f"o{i}")
            for _ in range(9):
                account.deposit(1, NOTE)
            await repo.save(account)

        async def read_all() -> int:
            total, after = 0, None
            while page := await store.read_all(after=after, limit=1000):
                total += len(page)
                after = page[-1].position
            return total

        return read_all
    raise ValueError(path)


async def main_async(args: argparse.Namespace, workdir: Path) -> None:
    async with StoreFactory(args.backend, workdir, args.pg_url).fresh(f"profile_{args.path}") as store:
        loop = await prepare(args.path, store, args.n, args.cache_size)
        t0 = time.perf_counter()
        done = await loop()
        elapsed = time.perf_counter() - t0
        unit = "command" if args.path == "command" else "event"
        print(f"{args.path} on {args.backend}: {done:,} {unit}s, {elapsed * 1e6 / done:.1f} µs per {unit} unprofiled")
        profiler = cProfile.Profile()
        profiler.enable()
        done = await loop()
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(args.sort)
        stats.print_stats(args.top)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", choices=["command", "batch", "replay", "read_all"])
    p.add_argument("--backend", choices=["memory", "sqlite", "postgres"], default="sqlite")
    p.add_argument(
        "--pg-url", default=None, help="postgres: a running server (default: start a throwaway durable cluster)"
    )
    p.add_argument("--n", type=int, default=None, help="commands or events per measured loop")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--cache-size", type=int, default=0, help="command: the repository's aggregate cache (0: off)")
    p.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    args = p.parse_args()
    if args.n is None:
        args.n = {"command": 3_000, "batch": 5_000, "replay": 30_000, "read_all": 100_000}[args.path]
    server = None
    if args.backend == "postgres" and args.pg_url is None:
        server = start_server()
        args.pg_url = server.url()
    try:
        with tempfile.TemporaryDirectory(prefix="profile-") as workdir:
            asyncio.run(main_async(args, Path(workdir)))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
