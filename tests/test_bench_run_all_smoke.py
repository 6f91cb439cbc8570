"""The one-command suite still runs on tiny sizes and prints its tables and targets (not a timed assertion)."""

from __future__ import annotations

from pathlib import Path

from tests.bench_quick import run_quick


def test_run_all_quick_prints_tables_and_targets(tmp_path: Path) -> None:
    out = run_quick("run_all.py", "--areas", "core,projections", "--results-dir", str(tmp_path), timeout=300)
    assert "- machine: " in out and "QUICK MODE" in out
    for title in (
        "## Append:",
        "## Replay without and with snapshots",
        "## read_all + decode",
        "## Projection catch-up",
    ):
        assert title in out, f"missing table {title!r}:\n{out}"
    assert "| sqlite | sequential load+change+save | cmd/s |" in out
    assert "## The scripts of this run" in out and "| core | core_bench.py |" in out
    assert "## Targets" in out
    assert "| 2 | SQLite replay, no snapshot |" in out and "| 5 | SQLite projection catch-up |" in out
    assert out.count("**PASS**") + out.count("**MISS**") >= 6
    (run_dir,) = tmp_path.glob("run_all-quick-*")
    assert (run_dir / "summary.md").read_text(encoding="utf-8").strip() == out.strip()
    assert list(run_dir.glob("core_bench-quick-*.jsonl")) and list(run_dir.glob("projections_bench-quick-*.jsonl"))
