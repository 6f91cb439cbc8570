"""Fixtures of the app's tiers: a real `serve` process on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = Path(os.environ.get("SHOP_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    store: str
    process: subprocess.Popen[str]
    log: Path


def start_server(store: str | None, log: Path, *options: str, env: dict[str, str] | None = None) -> Server:
    """``python -m eventsourcing.sample_shopping_cart serve [options]`` in a child process, once it answers
    (``store`` None: the default store, the demo's; ``env``: the child's environment variables)."""
    port = free_port()
    out = log.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eventsourcing.sample_shopping_cart",
            "serve",
            "--port",
            str(port),
            *(["--store", store] if store is not None else []),
            *options,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return Server(url, store or "(default)", process, log)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not answer within 20 s:\n{log.read_text()}", pytrace=False)
        time.sleep(0.05)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shop serving an embedded SQLite store, for one test module."""
    directory = tmp_path_factory.mktemp("shop")
    running = start_server(f"sqlite:///{directory / 'shop.db'}", directory / "server.log")
    yield running
    stop_server(running)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test needs Debian's chromium. Run ./scripts/setup as root "
            "(it installs it), or `apt-get install -y chromium`, or set SHOP_TEST_CHROMIUM to a Chromium binary.",
            pytrace=False,
        )
    return CHROMIUM
