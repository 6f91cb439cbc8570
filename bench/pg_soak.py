"""Durability soak for the PostgreSQL store: many kill -9 / restart rounds (not a test; run by hand).

    .venv/bin/python bench/pg_soak.py --rounds 50

Starts a throwaway cluster with durable settings (fsync=on, synchronous_commit=on), then each
round: writers append batches of 1-20 events, the postmaster and its backends are SIGKILLed at a
random moment, the server restarts (crash recovery), and every acknowledged batch is checked to be
there, entire and at its versions; batches in flight are all there or absent; streams have no
holes. The same round as tests/integration/test_postgres_durability.py, repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.test_postgres_durability import crash_round
from tests.postgres_server import PostgresServer


async def soak(rounds: int, seed: int, min_run: float, max_run: float) -> int:
    rng = random.Random(seed)
    server = PostgresServer(settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
    server.start()
    acknowledged = in_doubt = 0
    started = time.monotonic()
    try:
        for index in range(1, rounds + 1):
            try:
                outcome, _ = await crash_round(server, rng, run_for=rng.uniform(min_run, max_run))
            except AssertionError as err:
                print(f"round {index}: FAILED: {err}\nserver log:\n{server.log_tail()}", file=sys.stderr)
                return 1
            acknowledged += len(outcome.acknowledged)
            in_doubt += len(outcome.in_doubt)
            print(
                f"round {index:4d}/{rounds}: {len(outcome.acknowledged):5d} acknowledged batches intact, "
                f"{len(outcome.in_doubt)} in flight whole or absent"
            )
    finally:
        server.stop()
    print(
        f"{rounds} crashes survived in {time.monotonic() - started:.0f}s: {acknowledged} acknowledged batches, "
        f"{in_doubt} in-flight batches, no loss, no partial batch, no hole"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-run", type=float, default=0.2, help="seconds of writing before a crash (min)")
    parser.add_argument("--max-run", type=float, default=2.0, help="seconds of writing before a crash (max)")
    args = parser.parse_args()
    return asyncio.run(soak(args.rounds, args.seed, args.min_run, args.max_run))


if __name__ == "__main__":
    sys.exit(main())
