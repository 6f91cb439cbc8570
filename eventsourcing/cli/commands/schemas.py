"""``eventsourcing schemas {check,list}``: the Avro schemas a store keeps, and whether the current event
classes can still read every event stored with them. fastavro is imported only when one runs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from eventsourcing.cli.failures import CLIError, ExitCode, UsageError
from eventsourcing.cli.loading import load_apps
from eventsourcing.cli.options import AppModules, StoreURL
from eventsourcing.cli.rendering import say, write_json
from eventsourcing.cli.stores import open_events
from eventsourcing.registry import events_registry
from eventsourcing.urls import redact

app = typer.Typer(
    name="schemas",
    help="Check the event classes against the Avro schemas a store keeps, and list those schemas.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("check")
def check(
    store: StoreURL,
    app_: AppModules,
    across_versions: Annotated[
        bool,
        typer.Option(
            "--across-versions",
            help="Also accept older schema versions that Avro resolution reads without an upcaster.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per problem.")] = False,
) -> None:
    """Check that the current classes can read every event stored with the store's Avro schemas.

    Each stored schema is resolved against the class of its event type (by name or alias), per the
    Avro specification's rules, so the check is transitive: every earlier version is checked, not
    only the last. An older schema version needs an upcaster chain (or --across-versions). Exits 0
    when every stored event can be read, 1 after listing each problem (event type, versions, schema
    id and the field's path).
    """
    load_apps(app_)
    from eventsourcing.avro import check_compatibility
    from eventsourcing.avro.derive import EVENT_TYPE_KEY

    stored = asyncio.run(_stored(store))
    names = {str(s.get(EVENT_TYPE_KEY)) for s in stored}
    classes = [
        events_registry.resolve(name) for name in events_registry.names() if name in names
    ]  # only the classes the store has Avro events of: others may be JSON-only
    problems = check_compatibility(classes, stored, across_versions=across_versions)
    if as_json:
        for p in problems:
            write_json({"event_type": p.event_type, "path": p.path, "problem": str(p)})
    else:
        for p in problems:
            say(str(p))
    if problems:
        raise CLIError(
            f"{len(problems)} incompatible change(s): events stored in {redact(store)} could not be read by the "
            "current classes (see above)",
            ExitCode.FAILURE,
        )
    if not as_json:
        say(f"ok: the current classes read all {len(stored)} Avro schema(s) stored in {redact(store)}")


@app.command("list")
def list_(
    store: StoreURL,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per schema.")] = False,
) -> None:
    """List the Avro schemas the store keeps: id, event type and schema version."""
    from eventsourcing.avro import schema_id
    from eventsourcing.avro.derive import EVENT_TYPE_KEY, SCHEMA_VERSION_KEY

    stored = asyncio.run(_stored(store))
    rows = sorted(
        (
            {
                "schema_id": schema_id(dict(s)),
                "event_type": s.get(EVENT_TYPE_KEY),
                "schema_version": s.get(SCHEMA_VERSION_KEY),
                "fields": len(s.get("fields", ())),
            }
            for s in stored
        ),
        key=lambda row: (str(row["event_type"]), row["schema_version"] or 0, row["schema_id"]),
    )
    if as_json:
        for row in rows:
            write_json(row)
        return
    if not rows:
        say(f"no Avro schemas in {redact(store)} (its events are JSON, or it has none)")
    for row in rows:
        say(f"{row['schema_id']:>10}  {row['event_type']} v{row['schema_version']}  ({row['fields']} fields)")


async def _stored(url: str) -> list[Mapping[str, Any]]:
    async with open_events(url) as store:
        read = getattr(store, "stored_schemas", None)
        if read is None:
            raise UsageError(f"{redact(url)} keeps no Avro schemas (use a SQL or Kafka store)")
        schemas: list[Mapping[str, Any]] = await read()
        return schemas
