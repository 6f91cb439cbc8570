"""Running a bench script on tiny sizes for the smoke tests (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script: str, *args: str, timeout: float = 120) -> str:
    """``bench/<script> --quick ARGS`` from the repository root: its stdout (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def records(results_dir: Path) -> list[dict[str, Any]]:
    """The JSON lines a bench wrote into ``results_dir`` (its one results file)."""
    return [json.loads(line) for line in next(results_dir.glob("*.jsonl")).read_text().splitlines()]
