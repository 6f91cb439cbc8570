"""A throwaway PostgreSQL 15 cluster for the tests: initdb + pg_ctl in a temp dir, on a free port.

The tests never rely on a server someone started by hand. initdb refuses to run as root, so when
the tests run as root the cluster belongs to the ``postgres`` OS user (commands run through
``runuser``); otherwise it belongs to the current user. The server listens on 127.0.0.1 only, with
its unix socket inside the temp dir, and trusts local connections (it lives only for the test run).

If the cluster cannot start, `PostgresServer.start` raises `PostgresServerError` saying why: the
tests fail, they never skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("EVENTSOURCING_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresServerError(RuntimeError):
    """The throwaway cluster could not be created, started or stopped."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One cluster. ``start()`` creates and starts it; ``stop()`` stops it and removes its files.

    ``settings`` are passed to the server as ``-c name=value`` (e.g. ``{"fsync": "off"}``).
    """

    def __init__(self, *, settings: dict[str, str] | None = None, user: str = "postgres") -> None:
        self.settings = dict(settings or {})
        self.user = user  # the database superuser (trust auth)
        self.port = 0
        self.root: Path | None = None
        self._os_user = "postgres" if os.geteuid() == 0 else None

    # -- paths and URLs -------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "the server is not started"
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "the server is not started"
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        assert self.root is not None, "the server is not started"
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        for binary in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / binary).exists():
                raise PostgresServerError(
                    f"PostgreSQL 15 server binaries not found: {PG_BIN / binary} is missing "
                    "(install postgresql-15 or set EVENTSOURCING_PG_BIN)"
                )
        self.root = Path(tempfile.mkdtemp(prefix="es-pg-"))
        self.socket_dir.mkdir()
        if self._os_user is not None:
            try:
                entry = pwd.getpwnam(self._os_user)
            except KeyError as err:
                raise PostgresServerError(
                    "running as root, and initdb refuses root: the 'postgres' OS user is needed to own the "
                    "test cluster but does not exist"
                ) from err
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # initdb's own files only; the server keeps its fsync settings
            "--no-instructions",
        )
        self._start_server()
        return self

    def _start_server(self) -> None:
        last_error: PostgresServerError | None = None
        for _ in range(3):  # a free port can be taken between the probe and the bind: retry
            if not self.port or last_error is not None:
                self.port = free_port()
            try:
                self._pg_ctl_start()
                return
            except PostgresServerError as err:
                last_error = err
        assert last_error is not None
        raise last_error

    def _pg_ctl_start(self) -> None:
        options = [
            f"-p {self.port}",
            f"-k {self.socket_dir}",
            "-c listen_addresses=127.0.0.1",
            *(f"-c {name}={value}" for name, value in self.settings.items()),
        ]
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            " ".join(options),
        )

    def restart(self) -> None:
        """Start again after `stop(remove=False)` or `kill()` (crash recovery runs on start)."""
        self._pg_ctl_start()

    def stop(self, *, remove: bool = True) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            # Files about to be removed need no shutdown checkpoint: stop at once.
            mode = "immediate" if remove else "fast"
            with contextlib.suppress(PostgresServerError):
                self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data_dir))
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])

    def kill(self) -> None:
        """SIGKILL the postmaster and its children at once: a crash, no shutdown checkpoint.

        Children are killed too so that the restart does not wait for orphaned backends to notice
        the postmaster's death (they would exit on their own, a little later).
        """
        pid = self.postmaster_pid()
        children = _children(pid)
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in (pid, *children)):
            if time.monotonic() > deadline:
                raise PostgresServerError(f"postgres processes {pid} {children} survived SIGKILL")
            time.sleep(0.01)
        # A dead postmaster stays a zombie until init reaps it, and the server refuses to start while
        # the pid in postmaster.pid exists. Give init a moment; then the lock file is stale: remove it.
        deadline = time.monotonic() + 2
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if Path(f"/proc/{pid}").exists():
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "(no server log)"

    def _run(self, binary: str, *args: str) -> None:
        command = [str(PG_BIN / binary), *args]
        if self._os_user is not None:
            command = ["runuser", "-u", self._os_user, "--", *command]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PostgresServerError(f"cannot run {' '.join(command)}: {err}") from err
        if done.returncode != 0:
            raise PostgresServerError(
                f"{binary} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}\n"
                f"server log:\n{self.log_tail()}"
            )


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The ppid is the second field after the parenthesised command name.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
