"""Relative times (``2h ago``, ``yesterday 14:00Z``) on the command line, read against the application clock.

The CLI runs in this process (``eventsourcing.cli.main``) so that freezegun controls the clock it
reads; the store is the shop of test_cli.py (cart-1: 10:00, 10:10, 10:20, 10:30 UTC on 2024-05-01;
cart-2: 11:00, 11:05).
"""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from eventsourcing.cli import main
from tests.e2e.test_cli import ROOT, url_of, write_shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("shop") / "events.db"
    write_shop(path)
    return url_of(path)


def cli(capsys: pytest.CaptureFixture[str], now: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with freeze_time(now), pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture(autouse=True)
def _in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize(
    ("now", "at", "version", "as_of"),
    [
        ("2024-05-01 10:35:00", "now", 4, "2024-05-01T10:35:00"),
        ("2024-05-01 10:35:00", "20 minutes ago", 2, "2024-05-01T10:15:00"),
        ("2024-05-01 10:35:00", "25min ago", 2, "2024-05-01T10:10:00"),  # exactly at event 2
        ("2024-05-01 12:21:00", "2h ago", 3, "2024-05-01T10:21:00"),
        ("2024-05-01 10:40:00", "1800 s ago", 2, "2024-05-01T10:10:00"),
        ("2024-05-02 10:25:00", "yesterday", 3, "2024-05-01T10:25:00"),  # 24 hours ago
        ("2024-05-02 09:00:00", "yesterday 10:15Z", 2, "2024-05-01T10:15:00"),
        ("2024-05-02 09:00:00", "yesterday 12:25+02:00", 3, "2024-05-01T10:25:00"),
        ("2024-05-01 23:00:00", "today 10:15Z", 2, "2024-05-01T10:15:00"),
        ("2024-05-01 23:00:00", "today 06:20-04:00", 3, "2024-05-01T10:20:00"),  # 23:00Z is 19:00 there: May 1
        ("2024-05-08 10:30:00", "1 week ago", 4, "2024-05-01T10:30:00"),
    ],
)
def test_replay_at_a_relative_time(
    capsys: pytest.CaptureFixture[str], shop: str, now: str, at: str, version: int, as_of: str
) -> None:
    code, out, err = cli(capsys, now, "replay", "--store", shop, "--app", "tests.e2e.cli_app", "e2e.Cart", "cart-1",
                         "--at", at, "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["version"], doc["as_of"]) == (version, f"{as_of}.000000+00:00")


def test_a_relative_time_before_the_first_event_is_not_found(capsys: pytest.CaptureFixture[str], shop: str) -> None:
    code, out, err = cli(capsys, "2024-05-02 09:00", "replay", "--store", shop, "--app", "tests.e2e.cli_app",
                         "e2e.Cart", "cart-1", "--at", "yesterday")  # fmt: skip
    assert (code, out) == (3, "")
    assert err == "error: e2e.Cart 'cart-1' has no events at or before 2024-05-01T09:00:00+00:00\n"


def test_events_since_and_until_relative(capsys: pytest.CaptureFixture[str], shop: str) -> None:
    code, out, err = cli(capsys, "2024-05-01 12:40", "events", "--store", shop, "--json",
                         "--since", "2h ago", "--until", "today 11:01Z")  # fmt: skip
    assert code == 0, err
    assert [(e["stream_id"], e["version"]) for e in map(json.loads, out.splitlines())] == [
        ("order-1", 1),
        ("cart-2", 1),
    ]


@pytest.mark.parametrize(
    ("option", "text", "message"),
    [
        ("--at", "2024-05-01T10:25", "--at: '2024-05-01T10:25' has no timezone; write it with its offset: "),
        ("--at", "yesterday 14:00", "--at: 'yesterday 14:00' has no timezone; write 'yesterday 14:00Z' for UTC"),
        ("--at", "in 2 hours", "--at: 'in 2 hours' is not a time; accepted: ISO 8601 with an offset"),
        ("--at", "3 fortnights ago", "--at: '3 fortnights ago': unknown unit 'fortnights'; accepted: "),
        ("--since", "2024-05-01", "--since: '2024-05-01' has no timezone"),
    ],
)
def test_bad_times_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], shop: str, option: str, text: str, message: str
) -> None:
    if option == "--at":
        args = ("replay", "--store", shop, "--app", "tests.e2e.cli_app", "e2e.Cart", "cart-1", "--at", text)
    else:
        args = ("events", "--store", shop, option, text)
    code, out, err = cli(capsys, "2024-05-02 09:00", *args)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"error: {message}"), err
