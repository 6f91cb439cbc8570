"""``eventsourcing schemas check|list`` end to end: a store written with Avro by one version of an app,
then checked against the next versions of its code, each in a fresh interpreter, as a user would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_cli import run

APP_V1 = """
from eventsourcing import DomainEvent

class Deposited(DomainEvent):
    event_type = "schemas_e2e.deposited"
    amount: int
"""

# A new field with a default: every stored event can still be read.
APP_COMPATIBLE = """
from eventsourcing import DomainEvent

class Deposited(DomainEvent):
    event_type = "schemas_e2e.deposited"
    amount: int
    note: str = ""
"""

# A new required field, and a type narrowed: stored events cannot be read.
APP_BREAKING = """
from eventsourcing import DomainEvent

class Deposited(DomainEvent):
    event_type = "schemas_e2e.deposited"
    amount: float
    currency: str
"""

WRITE = """
import asyncio, datetime as dt, sys, uuid
from eventsourcing import NewEvent, open_store
from bank import Deposited

async def main(url):
    async with open_store(url, codec="avro") as store:
        now = dt.datetime.now(dt.UTC)
        await store.append("acc-1", [NewEvent(Deposited(amount=5), uuid.uuid4(), now)], 0, stream_type="bank.Account")

asyncio.run(main(sys.argv[1]))
"""


def app_dir(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "bank.py").write_text(textwrap.dedent(source))
    return folder


def check(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return run("schemas", "check", "--store", url, "--app", "bank", cwd=folder)


@pytest.fixture(params=["sqlite", "kafka"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}?prefix=t{uuid.uuid4().hex[:12]}"
    return f"sqlite:///{tmp_path / 'bank.db'}"


def test_schemas_check_passes_compatible_changes_and_names_breaking_ones(url: str, tmp_path: Path) -> None:
    v1 = app_dir(tmp_path, "v1", APP_V1)
    done = subprocess.run([sys.executable, "-c", WRITE, url], cwd=v1, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    listed = run("schemas", "list", "--store", url, cwd=v1)
    assert listed.returncode == 0, listed.stderr
    assert "schemas_e2e.deposited v1" in listed.stdout

    same = check(url, v1)
    assert (same.returncode, same.stderr) == (0, ""), same.stderr
    assert same.stdout.startswith("ok: the current classes read all 1 Avro schema(s)")

    compatible = check(url, app_dir(tmp_path, "v2", APP_COMPATIBLE))
    assert compatible.returncode == 0, compatible.stdout + compatible.stderr

    breaking = check(url, app_dir(tmp_path, "v3", APP_BREAKING))
    assert breaking.returncode == 1
    assert "currency" in breaking.stdout and "default" in breaking.stdout
    assert "schemas_e2e.deposited" in breaking.stdout
    assert breaking.stderr.startswith("error: 1 incompatible change(s)")  # int -> float is a promotion
    assert breaking.stderr.count("\n") == 1  # one line, no traceback


def test_schemas_on_a_store_without_schema_keeping_is_a_usage_error(tmp_path: Path) -> None:
    done = run("schemas", "list", "--store", "memory://")
    assert done.returncode == 2
    assert "keeps no Avro schemas" in done.stderr
