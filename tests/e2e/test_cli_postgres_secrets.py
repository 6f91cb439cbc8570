"""No PostgreSQL password in anything the CLI prints (issue 14 item 9, the PostgreSQL part).

The session's cluster trusts local connections, so a URL with a planted password connects: the
commands below succeed or fail for other reasons, and none of them may show the password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.postgres_server import PostgresServer, free_port

PASSWORD = "pl4nted-S3cret"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("EVENTSOURCING_STORE", None)
    env.pop("EVENTSOURCING_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "eventsourcing.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_no_cli_command_shows_the_password_of_a_postgresql_url(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    url = postgres_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in url
    init = run("init", "--store", url)
    assert init.returncode == 0, init.stderr
    assert "***" in init.stdout  # it says where, without the secret
    commands = [
        ("events", "--store", url),
        ("events", "--store", url.replace("/eventsourcing_test", "/no_such_database")),
        ("events", "--store", f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/db?connect_timeout=2"),
        ("events", "--store", f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/db"),
        ("events", "--store", url.replace("postgresql://", "postgresql+psycopg://", 1)),
        ("events", "--store", f"{url}?sslmode=nonsense"),
        ("schemas", "list", "--store", url),
        ("snapshots", "list", "--store", url, "--snapshots", url),
        ("init", "--store", url, "--snapshots", url),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda args: run(*args), commands))
    for args, result in zip([("init", "--store", url), *commands], [init, *done], strict=True):
        shown = result.stdout + result.stderr
        assert PASSWORD not in shown, (args, shown)
        assert "Traceback" not in shown, (args, shown)
