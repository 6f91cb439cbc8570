"""bench/avro_bench.py still runs end to end on tiny sizes (a smoke test, not a timed assertion)."""

from __future__ import annotations

from pathlib import Path

from tests.bench_quick import records, run_quick


def test_avro_bench_quick_prints_its_table(tmp_path: Path) -> None:
    out = run_quick("avro_bench.py", "--results-dir", str(tmp_path / "results"))
    assert "machine: " in out
    assert "## Avro vs JSON payloads: 500 events per measure" in out
    for workload in ("Opened", "Deposited", "rich"):
        for codec in ("json ", "avro ", "avro, resolved"):
            assert any(line.startswith(f"{workload:<10} {codec}") for line in out.splitlines()), (workload, codec)
    lines = records(tmp_path / "results")
    kinds = {line["kind"] for line in lines}
    assert {"machine", "config", "measure", "median"} <= kinds
    sizes = {(m["impl"], m["backend"]): m["value"] for m in lines if m["kind"] == "measure" and m["metric"] == "bytes"}
    assert sizes["avro", "rich"] < sizes["json", "rich"]
