"""The benchmark script still runs end to end on tiny sizes (a smoke test, not a timed assertion)."""

from __future__ import annotations

from pathlib import Path

from tests.bench_quick import records, run_quick


def test_core_bench_quick_prints_its_tables(tmp_path: Path) -> None:
    out = run_quick("core_bench.py", "--results-dir", str(tmp_path / "results"))
    assert "machine: " in out
    for area in ("## Sequential commands", "## One save of", "## Replay of one", "## Global log", "## Targets"):
        assert area in out, f"missing table {area!r}:\n{out}"
    for row in ("load+change+save", "get latest", "read_all"):
        assert f"memory    {row}" in out
        assert f"sqlite    {row}" in out
    assert out.count("PASS") + out.count("MISS") >= 4

    lines = records(tmp_path / "results")
    kinds = {line["kind"] for line in lines}
    assert {"machine", "measure", "median", "target"} <= kinds
    measured = {(line["impl"], line["backend"], line["metric"]) for line in lines if line["kind"] == "measure"}
    assert ("raw", "sqlite", "command") in measured
    assert ("ours", "sqlite", "read_all") in measured


def test_pg_bench_quick_prints_its_tables(tmp_path: Path) -> None:
    """The PostgreSQL bench starts its own throwaway cluster (the binaries CI has) and runs every area."""
    out = run_quick("pg_bench.py", "--results-dir", str(tmp_path / "results"), timeout=300)
    assert "server:  PostgreSQL 15" in out and "fsync=on, synchronous_commit=on" in out
    for area in ("## Sequential commands", "concurrent writers", "## One save of", "## Replay of one", "## Global log"):
        assert area in out, f"missing table {area!r}:\n{out}"
    for row in ("load+change+save", "3 writers, commands", "get latest", "read_all"):  # quick: 3 writers
        assert f"postgres  {row}" in out
    assert out.count("PASS") + out.count("MISS") >= 4

    lines = records(tmp_path / "results")
    measured = {(line["impl"], line["backend"], line["metric"]) for line in lines if line["kind"] == "measure"}
    for metric in ("command", "writers", "batch", "replay_latest", "read_all"):
        assert ("ours", "postgres", metric) in measured
        assert ("raw", "postgres", metric) in measured


def test_processes_bench_quick_prints_its_tables() -> None:
    """Reactor latency, relay and consumer rates on the bench's own broker and cluster."""
    out = run_quick("processes_bench.py", timeout=300)
    for row in (
        "reactor sqlite woken p50 ms",
        "reactor postgres polling p99 ms",
        "relay events/s",
        "consumer projection",
    ):
        assert row in out, f"missing row {row!r}:\n{out}"
    assert out.count("PASS") + out.count("MISS") == 6
