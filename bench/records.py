"""One measurement, and the JSON-lines file every run appends them to (bench/results/, gitignored).

Metric keys are shared by the three implementations measured (``ours``, ``raw``, ``peer``), so a
figure and its anchors line up by ``(backend, metric)``; rows are identified by their key, never by
their position in a table.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OURS, RAW, PEER = "ours", "raw", "peer"


@dataclass(frozen=True, slots=True)
class Measurement:
    impl: str
    """``ours``, ``raw`` (stdlib sqlite3) or ``peer`` (pyeventsourcing)."""
    backend: str
    """``memory`` or ``sqlite`` (the peer's ``popo`` is reported as ``memory``)."""
    metric: str
    """A key of `report.METRICS`."""
    value: float
    unit: str
    n: int
    round: int


class ResultsFile:
    """Appends JSON lines: a header with the machine, every measurement, then medians and verdicts."""

    def __init__(self, directory: Path, label: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = directory / f"{label}-{stamp}.jsonl"

    def write(self, kind: str, **fields: Any) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, "ts": time.time(), **fields}) + "\n")

    def measurement(self, m: Measurement) -> None:
        self.write("measure", **asdict(m))
