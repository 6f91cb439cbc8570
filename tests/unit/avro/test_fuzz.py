"""10,000 mutated payloads give only CorruptEvent, SchemaMismatch or UnknownSchema: no other error, hang or crash.

The run happens in a child process (tests/unit/avro/fuzzing.py) with a time limit, because a hang in
fastavro's C reader could not be interrupted in-process, and a crash would take pytest down with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_fuzzed_payloads_fail_only_with_our_errors_and_quickly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.avro.fuzzing", "10000", "20240501"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the fuzzing run died (exit {done.returncode}):\n{done.stderr[-3000:]}"
    summary = json.loads(done.stdout)
    assert summary["unexpected"] == []
    outcomes = summary["outcomes"]
    assert sum(outcomes.values()) == 20_000
    assert {"CorruptEvent", "SchemaMismatch", "UnknownSchema"} <= outcomes.keys(), outcomes
    assert outcomes["CorruptEvent"] > 5_000
    assert summary["slowest"] < 0.5, f"one decode took {summary['slowest']:.3f}s"
