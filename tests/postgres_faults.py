"""Faults for a throwaway PostgreSQL cluster: a cluster that serves TLS, and ways to hurt it.

`tls_server()` starts a `PostgresServer` with ``ssl=on`` and a self-signed certificate for
127.0.0.1 (its file doubles as the root certificate for ``sslmode=verify-full``). `Faults` injects
what the fault suite needs: terminate every session of a database (``pg_terminate_backend``),
stop and start the server, and freeze it (SIGSTOP the postmaster and every backend, then SIGCONT).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from tests.postgres_server import PostgresServer, PostgresServerError, _children


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (the certificate is its own root), readable by the server."""
    cert, key = directory / "server.crt", directory / "server.key"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise PostgresServerError(f"cannot make a test certificate with openssl: {done.stderr.strip()}")
    key.chmod(0o600)
    if os.geteuid() == 0:  # the cluster belongs to the postgres OS user (see PostgresServer)
        entry = pwd.getpwnam("postgres")
        for path in (directory, cert, key):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    cert.chmod(0o644)
    return cert, key


def tls_server() -> tuple[PostgresServer, Path, Path]:
    """A started cluster serving TLS; returns it, its certificate (the root for clients) and the temp dir."""
    directory = Path(tempfile.mkdtemp(prefix="es-pg-tls-"))
    cert, key = self_signed_certificate(directory)
    server = PostgresServer(
        settings={
            "fsync": "off",
            "full_page_writes": "off",
            "ssl": "on",
            "ssl_cert_file": str(cert),
            "ssl_key_file": str(key),
        }
    )
    try:
        server.start()
    except PostgresServerError:
        server.stop()
        raise
    return server, cert, directory


class Faults:
    """Fault injection on ``server`` for the sessions of one ``database``."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        self.server = server
        self.database = database
        self._frozen: list[int] = []

    async def terminate_sessions(self) -> list[str]:
        """``pg_terminate_backend`` every session of the database but ours; their application names."""
        conn = await asyncpg.connect(self.server.url("postgres"))
        try:
            rows = await conn.fetch(
                "SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                self.database,
            )
        finally:
            await conn.close()
        return sorted(row[0] for row in rows if row[1])

    def stop(self) -> None:
        """A fast shutdown (sessions terminated, a shutdown checkpoint); blocking: run it in a thread."""
        self.server.stop(remove=False)

    def start(self) -> None:
        """Start the stopped (or killed) server again on the same port; blocking."""
        self.server.restart()

    def crash(self) -> None:
        """SIGKILL the postmaster and its backends (crash recovery runs on `start`); blocking."""
        self.server.kill()

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: the server accepts TCP connections (the kernel
        does) and receives bytes, but answers nothing."""
        pid = self.server.postmaster_pid()
        os.kill(pid, signal.SIGSTOP)  # first: a stopped postmaster forks no new backend
        self._frozen = [pid, *_children(pid)]
        for victim in self._frozen[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGSTOP)

    def thaw(self) -> None:
        for victim in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGCONT)
        self._frozen = []
