"""Command-line options every bench script shares (runs, quick mode, the peer, where results go)."""

from __future__ import annotations

import argparse
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def add_run_options(p: argparse.ArgumentParser, *, peer_runner: Path) -> None:
    p.add_argument("--runs", type=int, default=None, help="runs to take the median of (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 run, no peer: checks that the bench runs")
    p.add_argument("--skip-peer", action="store_true", help="do not run the peer library")
    p.add_argument("--peer", type=Path, default=peer_runner, help="the peer's run script")
    p.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON lines go")


def check_run_options(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in the default number of runs (1 with --quick, else 3) and refuse fewer than one."""
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        p.error("--runs must be at least 1")
