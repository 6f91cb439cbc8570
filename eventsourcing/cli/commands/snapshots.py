"""``eventsourcing snapshots {take,list,prune}``. The ``snapshots`` package is imported only when one runs."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from eventsourcing.cli.failures import UsageError
from eventsourcing.cli.loading import load_apps, resolve_aggregate
from eventsourcing.cli.options import AggregateType, AppModules, OptionalAppModules, SnapshotsURL, StoreURL, StreamID
from eventsourcing.cli.rendering import compact, say, stdout, write_json
from eventsourcing.cli.stores import open_events, open_snapshots
from eventsourcing.cli.timeparse import iso
from eventsourcing.registry import aggregates_registry
from eventsourcing.repository import Repository
from eventsourcing.snapshotting import Snapshot, StateCodec
from eventsourcing.urls import redact

app = typer.Typer(
    name="snapshots",
    help="Take, list and prune snapshots.\n\n--snapshots defaults to the --store URL.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("take")
def take(
    aggregate_type: AggregateType,
    stream_id: StreamID,
    store: StoreURL,
    app_: AppModules,
    snapshots: SnapshotsURL = None,
) -> None:
    """Snapshot an aggregate's latest state now."""
    load_apps(app_)
    cls = resolve_aggregate(aggregate_type)
    snapshot = asyncio.run(_take(cls, store, snapshots or store, stream_id))
    say(
        f"snapshot of {aggregate_type} {stream_id!r} at version {snapshot.version} "
        f"(fingerprint {snapshot.fingerprint}) saved to {redact(snapshots or store)}"
    )


async def _take(cls: type, store_url: str, snapshots_url: str, stream_id: str) -> Snapshot:
    # Taking a snapshot may create the snapshot store (a separate SQLite file, say); reading never does.
    async with open_events(store_url) as store, open_snapshots(snapshots_url, must_exist=False) as snapshots:
        return await Repository(cls, store, snapshots=snapshots).take_snapshot(stream_id)


@app.command("list")
def list_(
    store: StoreURL,
    snapshots: SnapshotsURL = None,
    stream: Annotated[str | None, typer.Option("--stream", metavar="ID", help="Only this stream's snapshots.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", metavar="AGGREGATE_TYPE", help="Only snapshots of this aggregate type.")
    ] = None,
    app_: OptionalAppModules = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per line.")] = False,
) -> None:
    """List snapshots, and with --app whether each is current or stale.

    Shows stream, type, version, timestamp, fingerprint, status and size of each snapshot.
    """
    load_apps(app_ or [])
    found = asyncio.run(_list(snapshots or store, stream, type_))
    current = _current_fingerprints()
    rows = [
        {
            "stream_id": s.stream_id,
            "type": s.stream_type,
            "version": s.version,
            "timestamp": iso(s.timestamp),
            "fingerprint": s.fingerprint,
            "status": _status(s, current),
            "bytes": len(s.state),
        }
        for s in found
    ]
    if as_json:
        for row in rows:
            write_json(row)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} snapshots", title_justify="left")
    for column in ("stream", "type", "version", "timestamp (UTC)", "fingerprint", "status", "bytes"):
        right = column in ("version", "bytes")
        table.add_column(column, justify="right" if right else "left", overflow="fold", no_wrap=column[0] == "t")
    for snapshot, row in zip(found, rows, strict=True):
        table.add_row(
            snapshot.stream_id,
            snapshot.stream_type,
            str(snapshot.version),
            compact(snapshot.timestamp),
            snapshot.fingerprint[:12],  # enough to tell fingerprints apart; --json has the whole one
            str(row["status"]),
            str(row["bytes"]),
        )
    stdout().print(table)


async def _list(url: str, stream: str | None, type_: str | None) -> list[Snapshot]:
    async with open_snapshots(url) as snapshots:
        return await snapshots.list(stream_id=stream, stream_type=type_)


@app.command("prune")
def prune(
    store: StoreURL,
    app_: OptionalAppModules = None,
    stale: Annotated[
        bool,
        typer.Option(
            "--stale",
            help="Remove the snapshots whose fingerprint differs from their aggregate class's current one "
            "(needs --app).",
        ),
    ] = False,
    keep: Annotated[
        int | None,
        typer.Option("--keep", metavar="N", min=1, help="Keep only the N newest snapshots of each stream."),
    ] = None,
    stream: Annotated[str | None, typer.Option("--stream", metavar="ID", help="With --keep: only this stream.")] = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", metavar="AGGREGATE_TYPE", help="With --keep: only streams of this aggregate type."),
    ] = None,
    snapshots: SnapshotsURL = None,
) -> None:
    """Remove stale snapshots, or all but the newest N of each stream, and print how many.

    --stale covers every aggregate type the --app modules declare; snapshots of types that no --app
    module declares are left alone. --keep N counts every snapshot of a stream, newest version first
    (run --stale first to keep N current ones). Both together: --stale, then --keep.
    """
    if (stream is not None or type_ is not None) and keep is None:
        raise UsageError("--stream and --type choose what --keep N trims: pass --keep N too")
    if not stale and keep is None:
        raise UsageError(
            "snapshots prune needs --stale (remove snapshots that no longer match their class) or --keep N"
        )
    if stale and not app_:
        raise UsageError("snapshots prune --stale needs --app (the modules whose classes say what is current)")
    load_apps(app_ or [])
    current = _current_fingerprints() if stale else None
    removed, trimmed = asyncio.run(_prune(snapshots or store, current, keep, stream, type_))
    if current is not None:
        total = sum(removed.values())
        detail = ", ".join(f"{name}: {count}" for name, count in removed.items() if count)
        say(f"removed {total} stale snapshot{'' if total == 1 else 's'}" + (f" ({detail})" if detail else ""))
    if keep is not None:
        plural = "" if trimmed == 1 else "s"
        say(f"removed {trimmed} older snapshot{plural}, keeping the newest {keep} of each stream")


async def _prune(
    url: str, current: dict[str, str] | None, keep: int | None, stream: str | None, type_: str | None
) -> tuple[dict[str, int], int]:
    async with open_snapshots(url) as snapshots:
        removed = {
            name: await snapshots.prune(stream_type=name, keep_fingerprint=fingerprint)
            for name, fingerprint in (current or {}).items()
        }
        trimmed = 0 if keep is None else await snapshots.keep_newest(keep, stream_id=stream, stream_type=type_)
        return removed, trimmed


def _current_fingerprints() -> dict[str, str]:
    """Aggregate type name → the fingerprint of its class's state schema, for every registered type."""
    return {name: StateCodec.of(resolve_aggregate(name)).fingerprint for name in aggregates_registry.names()}


def _status(snapshot: Snapshot, current: dict[str, str]) -> str:
    fingerprint = current.get(snapshot.stream_type)
    if fingerprint is None:
        return "unknown type"
    return "current" if fingerprint == snapshot.fingerprint else "stale"
