"""`ProjectionStatus`: where a projection stands against the head of the log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """A projection's checkpoint, the head of the log it reads, and the lag between them.

    ``lag_events`` counts the events after the checkpoint (those the projector reads: its stream
    types only); if there are more than the runner was asked to scan, it is that many and
    ``lag_exact`` is False. ``lag_seconds`` is the age of the oldest event not yet applied (0 when
    caught up). ``state`` is ``"idle"``, ``"running"``, ``"stopped"`` (a poison event: ``error``
    says which), ``"failed"`` (another error) or ``"retrying"`` (a following runner cannot reach
    the event store or the view database: ``error`` is the last error, ``outage_since`` when the
    outage began; it resumes by itself). When the view database cannot be read now, the status is
    this runner's own last knowledge of the checkpoint, with the error, and ``state`` is
    ``"retrying"`` if this runner's `run` is retrying, else ``"unavailable"``.
    """

    name: str
    checkpoint: Any
    head: Any
    lag_events: int
    lag_exact: bool
    lag_seconds: float
    updated_at: dt.datetime | None
    state: str
    error: str | None = None
    dead_letters: int = 0
    outage_since: dt.datetime | None = None
