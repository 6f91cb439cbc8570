"""The scaling-curves script still runs end to end on tiny sizes (a smoke test, not a timed assertion)."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.bench_quick import run_quick


def test_curves_quick_writes_csv_and_png(tmp_path: Path) -> None:
    assert "machine: " in run_quick("curves.py", "--out", str(tmp_path), timeout=300)
    for curve, backends in (
        ("load", {"sqlite", "postgres"}),
        ("catchup", {"sqlite"}),
        ("writers", {"sqlite", "postgres"}),
    ):
        with (tmp_path / f"{curve}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows, curve
        assert {r["backend"] for r in rows} == backends
        assert all(float(r["value"]) > 0 for r in rows)
        assert (tmp_path / f"{curve}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    writers = {int(r["x"]) for r in csv.DictReader((tmp_path / "writers.csv").open(encoding="utf-8"))}
    assert writers == {1, 2, 4}  # --quick's writer counts
