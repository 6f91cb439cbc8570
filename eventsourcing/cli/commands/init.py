"""``eventsourcing init``: create the event store's schema (and, when asked, the snapshot store's)."""

from __future__ import annotations

import asyncio

from eventsourcing.cli.options import SnapshotsURL, StoreURL
from eventsourcing.cli.rendering import say
from eventsourcing.cli.stores import open_events, open_snapshots, scheme_of, sqlite_path
from eventsourcing.urls import redact


def command(
    store: StoreURL,
    snapshots: SnapshotsURL = None,
) -> None:
    """Create the store's schema if missing (idempotent).

    Creates the events table; with --snapshots URL, the snapshots table too (only then: pass the
    --store URL to keep snapshots in the same database). A SQLite file is created if it does not
    exist; its directory must exist. A Kafka store is connected to and read (its index file, if
    the URL names one, is created); its topics are created by each aggregate type's first append.
    """
    for line in asyncio.run(_init(store, snapshots)):
        say(line)


async def _init(store: str, snapshots: str | None) -> list[str]:
    done: list[str] = []
    done.append(await _init_one(store, "events"))
    if snapshots is not None:
        done.append(await _init_one(snapshots, "snapshots"))
    return done


async def _init_one(url: str, what: str) -> str:
    scheme = scheme_of(url)
    if scheme == "memory":
        return f"{what}: memory:// keeps nothing between processes; nothing to create"
    if scheme == "kafka" and what == "events":
        async with open_events(url, must_exist=False) as store:
            streams = len(await store.list_streams(limit=1001))
        found = f"{streams:,} streams" if streams <= 1000 else "more than 1,000 streams"
        return (
            f"{what}: Kafka store {redact(url)} is reachable ({found}); a topic per aggregate type is created "
            "by its first append"
        )
    path = sqlite_path(url)
    existed = path is not None and path.is_file()
    opener = open_events(url, must_exist=False) if what == "events" else open_snapshots(url, must_exist=False)
    async with opener:
        pass
    created = f"created SQLite database {path}; " if path is not None and not existed else ""
    table = "events table" if what == "events" else "snapshots table"
    return f"{what}: {created}{table} ready in {redact(url)}"
