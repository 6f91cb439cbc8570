"""The benchmark script still runs end to end on tiny sizes (a smoke test, not a timed assertion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "core_bench.py"


def test_core_bench_quick_prints_its_tables(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--results-dir", str(tmp_path / "results")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "machine: " in out
    for area in ("## Sequential commands", "## One save of", "## Replay of one", "## Global log", "## Targets"):
        assert area in out, f"missing table {area!r}:\n{out}"
    for row in ("load+change+save", "get latest", "read_all"):
        assert f"memory    {row}" in out
        assert f"sqlite    {row}" in out
    assert out.count("PASS") + out.count("MISS") >= 4

    lines = [json.loads(line) for line in next((tmp_path / "results").glob("*.jsonl")).read_text().splitlines()]
    kinds = {line["kind"] for line in lines}
    assert {"machine", "measure", "median", "target"} <= kinds
    measured = {(line["impl"], line["backend"], line["metric"]) for line in lines if line["kind"] == "measure"}
    assert ("raw", "sqlite", "command") in measured
    assert ("ours", "sqlite", "read_all") in measured


PG_SCRIPT = ROOT / "bench" / "pg_bench.py"


def test_pg_bench_quick_prints_its_tables(tmp_path: Path) -> None:
    """The PostgreSQL bench starts its own throwaway cluster (the binaries CI has) and runs every area."""
    done = subprocess.run(
        [sys.executable, str(PG_SCRIPT), "--quick", "--results-dir", str(tmp_path / "results")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "server:  PostgreSQL 15" in out and "fsync=on, synchronous_commit=on" in out
    for area in ("## Sequential commands", "concurrent writers", "## One save of", "## Replay of one", "## Global log"):
        assert area in out, f"missing table {area!r}:\n{out}"
    for row in ("load+change+save", "3 writers, commands", "get latest", "read_all"):  # quick: 3 writers
        assert f"postgres  {row}" in out
    assert out.count("PASS") + out.count("MISS") >= 4

    lines = [json.loads(line) for line in next((tmp_path / "results").glob("*.jsonl")).read_text().splitlines()]
    measured = {(line["impl"], line["backend"], line["metric"]) for line in lines if line["kind"] == "measure"}
    for metric in ("command", "writers", "batch", "replay_latest", "read_all"):
        assert ("ours", "postgres", metric) in measured
        assert ("raw", "postgres", metric) in measured
