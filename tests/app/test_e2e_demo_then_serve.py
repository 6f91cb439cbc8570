"""End-to-end tier (issue 15 item 4): the demo as a newcomer runs it, without `.venv` on PATH and without
`--store`: the replay command it prints runs as printed, and `serve` then opens the demo's store."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import ROOT, start_server, stop_server

VENV_BIN = Path(sys.executable).parent


def user_env(data_home: Path) -> dict[str, str]:
    """A shell where the venv was never activated: its bin/ is not on PATH; the data folder is the test's."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != VENV_BIN)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, "PATH": path, "XDG_DATA_HOME": str(data_home)}


def demo(cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "eventsourcing.sample_shopping_cart", "demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def printed(out: str, heading: str) -> str:
    """The command printed on the line after ``heading``."""
    match = re.search(rf"^{re.escape(heading)}.*\n  (\S.*)$", out, re.MULTILINE)
    assert match is not None, out
    return match.group(1)


@pytest.mark.parametrize("where", ["the repository", "another folder"])
def test_the_printed_replay_command_runs_as_printed_without_the_venv_on_path(tmp_path: Path, where: str) -> None:
    env = user_env(tmp_path / "data")
    assert shutil.which("eventsourcing", path=env["PATH"]) is None  # a bare `eventsourcing` would not be found
    cwd = ROOT if where == "the repository" else tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    out = demo(cwd, env)
    command = printed(out, "Replay it yourself with the CLI")
    assert not command.startswith("eventsourcing ")

    # Pasted into a shell in the same folder, as it is (plus --json to read the answer).
    done = subprocess.run(
        ["bash", "-c", f"{command} --json"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    past = json.loads(done.stdout)
    assert (past["type"], past["version"], past["state"]["status"]) == ("cart", 5, "open")
    store = tmp_path / "data" / "async-eventsourcing-shop" / "shop.db"
    assert store.is_file() and f"events in {store}" in out


def test_serve_opens_the_demos_store_and_says_where_its_data_lives(tmp_path: Path) -> None:
    env = user_env(tmp_path / "data")
    out = demo(tmp_path, env)
    alice = re.search(r"== Alice's cart, event by event \((\S+)\)", out)
    assert alice is not None
    serve = printed(out, "Click through the same carts")
    assert serve.endswith("-m eventsourcing.sample_shopping_cart serve")  # no --store: the default is the demo's

    server = start_server(None, tmp_path / "server.log", env={"XDG_DATA_HOME": str(tmp_path / "data")})
    try:
        folder = tmp_path / "data" / "async-eventsourcing-shop"
        log = server.log.read_text()
        assert f"events in {folder / 'shop.db'}; views in {folder / 'shop-views.db'}" in log
        summaries = httpx.get(f"{server.url}/api/views/cart-summaries", timeout=10).json()
        assert alice.group(1) in [s["cart_id"] for s in summaries]
        cart = httpx.get(f"{server.url}/api/carts/{alice.group(1)}", timeout=10).json()
        assert (cart["status"], cart["version"], cart["total"]) == ("checked_out", 8, "56.16")
    finally:
        stop_server(server)
