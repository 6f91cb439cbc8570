"""Unit tier (issue 15 item 4): where the shop's data lives, and commands printed so that they run as printed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from eventsourcing.sample_shopping_cart.runnable import console_script, python, shortest_path
from eventsourcing.sample_shopping_cart.storage import default_store_url, default_views_url, describe

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


def test_the_default_store_is_in_the_users_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "async-eventsourcing-shop"
    assert default_store_url(create_folder=False) == f"sqlite:///{folder / 'shop.db'}"
    assert not folder.exists()
    assert default_store_url() == f"sqlite:///{folder / 'shop.db'}"
    assert folder.is_dir()  # SQLite creates the file, not its folder
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_url(create_folder=False).startswith(f"sqlite:///{Path.home() / '.local' / 'share'}")


def test_describe_says_where_events_and_views_live_and_never_a_password() -> None:
    assert describe("sqlite:////srv/shop.db") == "events in /srv/shop.db; views in /srv/shop-views.db"
    here = Path.cwd()
    assert describe("sqlite:///shop.db", "sqlite:///v.db") == f"events in {here / 'shop.db'}; views in {here / 'v.db'}"
    assert describe("memory://") == (
        "events in memory (gone when the process stops); views in rebuilt from the log at each start"
    )
    line = describe("postgresql://shop:s3cret@db:5432/shop")
    assert "s3cret" not in line and line.startswith("events in postgresql://shop:") and "views in postgresql" in line
    assert default_views_url("kafka://k:9092?prefix=p&index=/var/i.db") == "sqlite:////var/i-views.db"
    assert default_views_url("kafka://k:9092?prefix=p") is None


def test_a_console_script_beside_the_interpreter_is_named_by_its_path_unless_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = os.path.join(VENV_BIN, "eventsourcing")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert console_script("eventsourcing", "eventsourcing.cli") == [shortest_path(script)]
    assert python() == [shortest_path(os.path.abspath(sys.executable))]
    assert console_script("no-such-script", "some.module") == [*python(), "-m", "some.module"]
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/usr/bin:/bin")
    assert console_script("eventsourcing", "eventsourcing.cli") == ["eventsourcing"]


def test_shortest_path_is_relative_when_shorter_and_always_a_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert shortest_path(str(tmp_path / "a" / "b" / "tool")) == "a/b/tool"
    assert shortest_path(str(tmp_path / "tool")) == "./tool"  # a bare name would be looked up on PATH
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert shortest_path("/x") == "/x"
