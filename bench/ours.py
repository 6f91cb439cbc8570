"""Our library on the peer's workload shapes, through the public API only (Repository + store)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from model import NOTE, Account
from pg_cluster import fresh_database
from records import OURS, Measurement
from sizes import Sizes

from eventsourcing import EventStore, MemoryEventStore, Repository, SQLEventStore

Emit = Callable[[Measurement], None]


class StoreFactory:
    """A fresh, empty store per area, so areas never see each other's rows.

    PostgreSQL: a new database per area on the server of ``pg_url``, and a pool big enough for
    the concurrent writers. ``cache_size``: the command areas' repository aggregate cache (0: off).
    """

    def __init__(
        self, backend: str, workdir: Path, pg_url: str | None = None, pool_size: int = 8, cache_size: int = 0
    ) -> None:
        if backend not in ("memory", "sqlite", "postgres"):
            raise ValueError(f"unknown backend {backend!r}")
        if backend == "postgres" and pg_url is None:
            raise ValueError("the postgres backend needs the server's URL")
        self.backend = backend
        self.workdir = workdir
        self.pg_url = pg_url
        self.pool_size = pool_size
        self.cache_size = cache_size

    @asynccontextmanager
    async def fresh(self, name: str) -> AsyncIterator[EventStore]:
        store: EventStore
        if self.backend == "memory":
            store = MemoryEventStore()
        elif self.backend == "postgres":
            assert self.pg_url is not None
            url = await fresh_database(self.pg_url, f"ours_{name}")
            store = SQLEventStore(url, pool_size=self.pool_size)
        else:
            store = SQLEventStore(f"sqlite:///{_fresh_file(self.workdir / f'ours-{name}.db')}")
        async with store:
            yield store


def _fresh_file(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


async def sequential_commands(stores: StoreFactory, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """The peer's ``append``: create N accounts, then rounds of load + deposit + save, one event each.

    With ``stores.cache_size`` the repository keeps that many aggregates: a load then reads only the
    events stored after the cached version (none here) instead of replaying the stream."""
    async with stores.fresh("append") as store:
        repo = Repository(Account, store, cache_size=stores.cache_size)
        await repo.save(Account.open("warmup"))
        t0 = time.perf_counter()
        ids = []
        for i in range(sizes.accounts):
            account = Account.open(f"owner-{i}")
            await repo.save(account)
            ids.append(account.id)
        t1 = time.perf_counter()
        for _ in range(sizes.rounds):
            for account_id in ids:
                account = await repo.get(account_id)
                account.deposit(1, NOTE)
                await repo.save(account)
        t2 = time.perf_counter()
        assert (await repo.get(ids[-1])).version == 1 + sizes.rounds
        commands = sizes.accounts * sizes.rounds
        emit(Measurement(OURS, stores.backend, "create", sizes.accounts / (t1 - t0), "cmd/s", sizes.accounts, rnd))
        emit(Measurement(OURS, stores.backend, "command", commands / (t2 - t1), "cmd/s", commands, rnd))


async def one_big_save(stores: StoreFactory, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """The peer's ``batch``: one save of an aggregate with 1,000 pending events, median of reps."""
    async with stores.fresh("batch") as store:
        repo = Repository(Account, store)
        await repo.save(Account.open("warmup"))
        times = []
        for _ in range(sizes.batch_reps):
            account = Account.open("batch")
            for _ in range(sizes.batch - 1):
                account.deposit(1, NOTE)
            t0 = time.perf_counter()
            await repo.save(account)
            times.append(time.perf_counter() - t0)
        rate = sizes.batch / statistics.median(times)
        emit(Measurement(OURS, stores.backend, "batch", rate, "ev/s", sizes.batch, rnd))


async def replay(stores: StoreFactory, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """The peer's ``reconstitute`` without snapshots: get latest and get(version=half) of one long stream
    (no aggregate cache: every get replays the whole stream)."""
    async with stores.fresh("replay") as store:
        repo = Repository(Account, store, cache_size=0)
        account = Account.open("big")
        while account.version < sizes.replay:  # saved in chunks of 1,000, as the peer builds it
            for _ in range(min(1_000, sizes.replay - account.version)):
                account.deposit(1, NOTE)
            await repo.save(account)
        latest, half = [], []
        for _ in range(sizes.replay_reps):
            t0 = time.perf_counter()
            a = await repo.get(account.id)
            t1 = time.perf_counter()
            b = await repo.get(account.id, version=sizes.replay_version)
            t2 = time.perf_counter()
            assert a.version == sizes.replay and b.version == sizes.replay_version
            latest.append(t1 - t0)
            half.append(t2 - t1)
        n, h = sizes.replay, sizes.replay_version
        emit(Measurement(OURS, stores.backend, "replay_latest", n / statistics.median(latest), "ev/s", n, rnd))
        emit(Measurement(OURS, stores.backend, "replay_version", h / statistics.median(half), "ev/s", h, rnd))


async def seed_and_read_all(stores: StoreFactory, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """The peer's ``seed`` + ``notiflog``: N aggregates x 10 events, one save each; then the whole
    log through ``read_all`` in pages (decoding is part of ``read_all``: it returns typed events)."""
    async with stores.fresh("log") as store:
        repo = Repository(Account, store)
        t0 = time.perf_counter()
        for i in range(sizes.log_aggregates):
            account = Account.open(f"o{i}")
            for _ in range(sizes.log_per_aggregate - 1):
                account.deposit(1, NOTE)
            await repo.save(account)
        t1 = time.perf_counter()
        total, after = 0, None
        t2 = time.perf_counter()
        while page := await store.read_all(after=after, limit=sizes.page):
            for recorded in page:  # touch the typed event: the figure must include decoding, even a lazy one
                _ = recorded.event
            total += len(page)
            after = page[-1].position
        t3 = time.perf_counter()
        assert total == sizes.log_events, (total, sizes.log_events)
        emit(Measurement(OURS, stores.backend, "seed", total / (t1 - t0), "ev/s", total, rnd))
        emit(Measurement(OURS, stores.backend, "read_all", total / (t3 - t2), "ev/s", total, rnd))


async def concurrent_writers(stores: StoreFactory, sizes: Sizes, emit: Emit, rnd: int) -> None:
    """W writers at once (one event loop, a pool of W connections), each running load + deposit +
    save commands over its own aggregates: commands/s over all writers."""
    async with stores.fresh("writers") as store:
        repo = Repository(Account, store, cache_size=stores.cache_size)
        await repo.save(Account.open("warmup"))
        owned: list[list[Any]] = []
        for w in range(sizes.writers):
            ids = []
            for i in range(sizes.writer_accounts):
                account = Account.open(f"w{w}-{i}")
                await repo.save(account)
                ids.append(account.id)
            owned.append(ids)

        async def writer(ids: list[Any]) -> None:
            for _ in range(sizes.writer_rounds):
                for account_id in ids:
                    account = await repo.get(account_id)
                    account.deposit(1, NOTE)
                    await repo.save(account)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(ids) for ids in owned))
        t1 = time.perf_counter()
        assert (await repo.get(owned[-1][-1])).version == 1 + sizes.writer_rounds
        n = sizes.writer_commands
        emit(Measurement(OURS, stores.backend, "writers", n / (t1 - t0), "cmd/s", n, rnd))


AREAS = {
    "command": sequential_commands,
    "batch": one_big_save,
    "replay": replay,
    "log": seed_and_read_all,
}
"""Area name -> measure; the same names as `raw_sqlite.AREAS`, so an area's anchor can run beside it."""

PG_AREAS = {
    "command": sequential_commands,
    "writers": concurrent_writers,
    "batch": one_big_save,
    "replay": replay,
    "log": seed_and_read_all,
}
"""The PostgreSQL bench's areas (the same names as `raw_pg.AREAS`)."""


def run(
    area: str,
    backend: str,
    workdir: Path,
    sizes: Sizes,
    emit: Emit,
    rnd: int,
    pg_url: str | None = None,
    cache_size: int = 0,
) -> None:
    """One area on one backend, in its own event loop (the default asyncio loop)."""
    measure = PG_AREAS[area] if backend == "postgres" else AREAS[area]
    asyncio.run(measure(StoreFactory(backend, workdir, pg_url, cache_size=cache_size), sizes, emit, rnd))
