"""bench/avro_bench.py still runs end to end on tiny sizes (a smoke test, not a timed assertion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "avro_bench.py"


def test_avro_bench_quick_prints_its_table(tmp_path: Path) -> None:
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
    assert "## Avro vs JSON payloads: 500 events per measure" in out
    for workload in ("Opened", "Deposited", "rich"):
        for codec in ("json ", "avro ", "avro, resolved"):
            assert any(line.startswith(f"{workload:<10} {codec}") for line in out.splitlines()), (workload, codec)
    lines = [json.loads(line) for line in next((tmp_path / "results").glob("*.jsonl")).read_text().splitlines()]
    kinds = {line["kind"] for line in lines}
    assert {"machine", "config", "measure", "median"} <= kinds
    sizes = {(m["impl"], m["backend"]): m["value"] for m in lines if m["kind"] == "measure" and m["metric"] == "bytes"}
    assert sizes["avro", "rich"] < sizes["json", "rich"]
