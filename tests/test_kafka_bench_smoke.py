"""bench/kafka_bench.py still runs end to end on tiny sizes against the broker it starts (a smoke test,
not a timed assertion: the figures of a --quick run mean nothing)."""

from __future__ import annotations

from pathlib import Path

from tests.bench_quick import records, run_quick


def test_kafka_bench_quick_prints_its_tables_and_targets(tmp_path: Path) -> None:
    out = run_quick("kafka_bench.py", "--results-dir", str(tmp_path / "results"))
    assert "machine: " in out and "broker:  " in out
    for area in (
        "## Sequential commands",
        "concurrent writer tasks",
        "## One append of",
        "## One partition",
        "## The index",
    ):
        assert area in out, f"missing table {area!r}:\n{out}"
    for row in ("load+change+save", "latency p99", "pipelined produce", "load, partition of 20,000", "read_all"):
        assert row in out, f"missing row {row!r}:\n{out}"
    assert out.count("PASS") + out.count("MISS") == 3

    lines = records(tmp_path / "results")
    assert {"machine", "config", "measure", "median", "target"} <= {line["kind"] for line in lines}
    measured = {(line["impl"], line["metric"]) for line in lines if line["kind"] == "measure"}
    for metric in ("command", "writers", "batch"):
        assert ("ours", metric) in measured and ("raw", metric) in measured
    for metric in ("pipelined", "command_p99"):
        assert ("raw", metric) in measured
    for metric in ("seed", "load_20000", "read_all", "rebuild_memory", "rebuild_file", "rss_memory"):
        assert ("ours", metric) in measured
