"""Views built as of a time (`ProjectionRunner.rebuild_as_of`): find them, and drop them when done.

An as-of build of projector ``P`` with suffix ``S`` is the tables ``<table>S`` of each of ``P``'s
tables and the checkpoint ``PS``. Nothing else records it, so a build is recognised by its
checkpoint in the view database (``P`` followed by a suffix of letters, digits and underscores) or
by its tables. Live views are never dropped: not a suffix-less name, not the checkpoint or a table
of any projector given (so give every projector that shares the database).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.clock import require_aware
from eventsourcing.errors import InvalidArgument
from eventsourcing.projections.checkpoints import Checkpoint
from eventsourcing.projections.errors import ProjectionError
from eventsourcing.projections.projector import Projector
from eventsourcing.projections.sql import SQLCheckpointStore
from eventsourcing.projections.sql.ddl import CHECKPOINTS
from eventsourcing.projections.view import table_copies

_SUFFIX = re.compile(r"[A-Za-z0-9_]+")
_DEFAULT = re.compile(r"_asof_(\d{8}_\d{6})(?:_(\d{6}))?")


class AsOfViewNotFound(ProjectionError):
    """No as-of build of that projector with that suffix in the view database."""


class LiveView(ProjectionError):
    """Refused: the tables or checkpoint named are a live projector's."""


@dataclass(frozen=True)
class AsOfView:
    """One as-of build: its projector, suffix, tables (logical name -> real name) and checkpoint."""

    projector: str
    suffix: str
    tables: dict[str, str]
    """The build's tables that exist in the database."""
    missing: tuple[str, ...]
    """The projector's tables with no copy under this suffix (a build interrupted, or made by an older class)."""
    checkpoint: Checkpoint | None
    """Where the build got to, and when (``updated_at``); None if its checkpoint row is gone."""

    @property
    def name(self) -> str:
        """The build's checkpoint name: the projector's name and the suffix."""
        return f"{self.projector}{self.suffix}"

    @property
    def as_of(self) -> dt.datetime | None:
        """The time the build is as of, when its suffix is the default one (``_asof_YYYYMMDD_HHMMSS[_micros]``)."""
        return as_of_of(self.suffix)


def default_suffix(as_of: dt.datetime) -> str:
    """The suffix `ProjectionRunner.rebuild_as_of` names tables with when given none."""
    moment = require_aware(as_of, "as_of").astimezone(dt.UTC)
    return moment.strftime("_asof_%Y%m%d_%H%M%S") + (f"_{moment.microsecond:06d}" if moment.microsecond else "")


def as_of_of(suffix: str) -> dt.datetime | None:
    """The time a default suffix names, or None for a suffix of the user's own."""
    found = _DEFAULT.fullmatch(suffix)
    if found is None:
        return None
    try:
        moment = dt.datetime.strptime(found.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return moment.replace(microsecond=int(found.group(2) or 0))


async def list_as_of_views(views: SQLCheckpointStore, projectors: Sequence[Projector]) -> list[AsOfView]:
    """Every as-of build of ``projectors`` in ``views``, by projector then suffix."""
    live = _live(projectors)
    tables = await views.table_names()
    checkpoints = {name for (name,) in await views.fetch(f"SELECT name FROM {CHECKPOINTS}")}
    found: list[AsOfView] = []
    for projector in projectors:
        suffixes = {name[len(projector.name) :] for name in checkpoints if name.startswith(projector.name)}
        for table in projector.tables:
            suffixes |= {name[len(table.name) :] for name in tables if name.startswith(table.name)}
        for suffix in sorted(s for s in suffixes if _SUFFIX.fullmatch(s)):
            build = await _build(views, projector, suffix, tables, checkpoints)
            is_live = build.name in live.checkpoints or bool(set(build.tables.values()) & live.tables)
            if not is_live and (build.tables or build.checkpoint is not None):
                found.append(build)
    return found


async def drop_as_of_view(
    views: SQLCheckpointStore, projectors: Sequence[Projector], projector: str, suffix: str
) -> AsOfView:
    """Drop the tables and the checkpoint of ``projector``'s as-of build ``suffix``; return what was dropped.

    Refuses (`LiveView`) an empty suffix and any name that is a live projector's table or checkpoint
    among ``projectors``; raises `AsOfViewNotFound` when there is no such build.
    """
    if not suffix:
        raise LiveView(f"{projector!r} without a suffix is the live view: name an as-of build's suffix")
    if not _SUFFIX.fullmatch(suffix):
        raise InvalidArgument(f"suffix {suffix!r}: use letters, digits and underscores")
    chosen = next((p for p in projectors if p.name == projector), None)
    if chosen is None:
        known = ", ".join(sorted(p.name for p in projectors)) or "none"
        raise AsOfViewNotFound(f"no projector named {projector!r} (known: {known})")
    live = _live(projectors)
    copies = table_copies(chosen.tables, suffix)
    clash = [f"checkpoint {projector + suffix!r}"] if projector + suffix in live.checkpoints else []
    clash += [f"table {t.name!r}" for t in copies if t.name in live.tables]
    if clash:
        raise LiveView(f"refusing to drop {', '.join(clash)}: a live projector's (not an as-of build)")
    tables = await views.table_names()
    checkpoints = {name for (name,) in await views.fetch(f"SELECT name FROM {CHECKPOINTS}")}
    build = await _build(views, chosen, suffix, tables, checkpoints)
    if not build.tables and build.checkpoint is None:
        raise AsOfViewNotFound(f"{projector!r} has no as-of build with suffix {suffix!r}")
    await views.forget(build.name, drop=copies)
    return build


@dataclass(frozen=True)
class _Live:
    checkpoints: set[str]
    tables: set[str]


def _live(projectors: Sequence[Projector]) -> _Live:
    return _Live({p.name for p in projectors}, {t.name for p in projectors for t in p.tables})


async def _build(
    views: SQLCheckpointStore, projector: Projector, suffix: str, tables: set[str], checkpoints: set[str]
) -> AsOfView:
    present = {t.name: f"{t.name}{suffix}" for t in projector.tables if f"{t.name}{suffix}" in tables}
    missing = tuple(t.name for t in projector.tables if t.name not in present)
    name = f"{projector.name}{suffix}"
    checkpoint = await views.load(name) if name in checkpoints else None
    return AsOfView(projector.name, suffix, present, missing, checkpoint)
