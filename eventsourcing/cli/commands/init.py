"""``eventsourcing init``: create the event store's schema (and, when asked, the snapshot store's)."""

from __future__ import annotations

import asyncio

from eventsourcing.cli.options import SnapshotsURL, StoreURL
from eventsourcing.cli.rendering import say
from eventsourcing.cli.stores import open_events, open_snapshots, scheme_of, sqlite_path


def command(
    store: StoreURL,
    snapshots: SnapshotsURL = None,
) -> None:
    """Create the store's schema if missing (idempotent).

    Creates the events table; with --snapshots URL, the snapshots table too (only then: pass the
    --store URL to keep snapshots in the same database). A SQLite file is created if it does not
    exist; its directory must exist.
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
    if scheme_of(url) == "memory":
        return f"{what}: memory:// keeps nothing between processes; nothing to create"
    path = sqlite_path(url)
    existed = path is not None and path.is_file()
    opener = open_events(url, must_exist=False) if what == "events" else open_snapshots(url, must_exist=False)
    async with opener:
        pass
    created = f"created SQLite database {path}; " if path is not None and not existed else ""
    table = "events table" if what == "events" else "snapshots table"
    return f"{what}: {created}{table} ready in {url}"
