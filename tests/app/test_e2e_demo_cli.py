"""End-to-end tier: the demo as users run it, then the `eventsourcing replay` CLI on the store it wrote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60, check=False)


def run_demo(store: str) -> str:
    done = run(sys.executable, "-m", "eventsourcing.sample_shopping_cart", "demo", "--store", store)
    assert done.returncode == 0, done.stderr
    for heading in ("== Alice's cart, event by event", "== View: popular products", "== Time travel"):
        assert heading in done.stdout
    assert "(duplicate: nothing changed)" in done.stdout and "refused: cart_closed" in done.stdout
    return done.stdout


def test_the_demo_then_a_replay_with_the_cli(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'shop.db'}"
    out = run_demo(store)
    suggested = re.search(r"eventsourcing replay (.*) --at (\S+)", out)
    assert suggested is not None
    cart_id = suggested.group(1).split()[-1]
    events = re.findall(r"^\s+v(\d+)\s+\S+\s+(cart\.\w+)", out, re.MULTILINE)
    assert [e for _, e in events][-1] == "cart.checked_out"

    eventsourcing = str(Path(sys.executable).with_name("eventsourcing"))
    replay = run(
        eventsourcing, "replay", "--store", store, "--app", "eventsourcing.sample_shopping_cart.domain", "cart", cart_id
    )
    replay_at = run(*[eventsourcing, "replay", *suggested.group(1).split(), "--at", suggested.group(2), "--json"])
    assert replay.returncode == 0 and replay_at.returncode == 0, replay.stderr + replay_at.stderr
    past = json.loads(replay_at.stdout)
    assert (past["type"], past["id"], past["stream_version"]) == ("cart", cart_id, 8)
    assert past["version"] == 5 and past["state"]["status"] == "open"  # at the quantity change, before checkout
    assert past["state"]["lines"]["coffee-beans"]["quantity"] == 3 and "mug" in past["state"]["lines"]
    assert "checked_out" in replay.stdout


def test_the_demo_runs_unchanged_on_postgresql_and_in_memory(postgres_url: str) -> None:
    run_demo(postgres_url)
    run_demo("memory://")
