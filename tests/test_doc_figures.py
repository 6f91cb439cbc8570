"""Measured figures live in one place: docs/performance.md, whose results are printed by bench/run_all.py.

A figure quoted in a guide goes stale the day the code changes (time-travel.md kept saying an
``as_of`` load scanned the rest of the stream, 21 ms, after the loader was changed and measured at
about 1 ms). So the guides describe behaviour and link to docs/performance.md for figures, and this
test fails when any other page (README.md, docs/*.md, prose and code blocks alike) quotes a measured
figure: a number with a unit of time, a rate (``/s``), a ratio (``x`` or the multiplication sign), a
size or a percentage.

Configured values are not measurements (a default timeout, a poll interval, a size limit): the few
that pages state are listed in ``CONFIGURED`` by the phrase that states them, with a check that the
code still has that value; each phrase must still be on its page, so the list cannot outlive the text.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THE_PLACE = ROOT / "docs" / "performance.md"
PAGES = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if p != THE_PLACE)

_NUMBER = r"(?<![\w.:/-])\d[\d,]*(?:\.\d+)?"
FIGURE = re.compile(
    _NUMBER
    + r"(?:"
    + r"\s?(?:ms|µs|us|ns|[kKMG]i?B|%|\u00d7)(?!\w)"  # time below a second, sizes, percentages, ratios
    + r"|x(?!\w)"  # ratios: 0.14x, 22x
    + r"|\s(?:s|min)(?!\w)"  # seconds, minutes (with a space: `0s` in a sample table is output, not a figure)
    + r"|\s?(?:/s|ev/s|cmd/s|rows/s|appends/s|events/s)(?!\w)"  # rates
    + r"|\s(?:events|appends|commands|rows) (?:per|a) (?:second|CPU second)"
    + r")"
)


def _default(function: Callable[..., object], parameter: str) -> object:
    return inspect.signature(function).parameters[parameter].default


def _runner_default(parameter: str) -> object:
    from eventsourcing.projections import ProjectionRunner

    return _default(ProjectionRunner.__init__, parameter)


def _max_body() -> object:
    from eventsourcing.sample_shopping_cart.api.limits import DEFAULT_MAX_BODY

    return DEFAULT_MAX_BODY


def _kafka_default(parameter: str) -> object:
    from eventsourcing.stores.kafka import KafkaEventStore

    return _default(KafkaEventStore.__init__, parameter)


def _kafka_index_commit_interval() -> object:
    from eventsourcing.stores.kafka.index import KafkaIndex

    return _default(KafkaIndex.__init__, "commit_interval")


def _cli_kafka_timeout() -> object:
    from eventsourcing.cli.stores import KAFKA_TIMEOUT

    return KAFKA_TIMEOUT


def _sqlite_max_lock_wait() -> object:
    from eventsourcing.stores.sql import sqlite_runner

    return sqlite_runner.MAX_LOCK_WAIT


# page -> {phrase that states a configured value (a default, a limit, an interval): the check that the
# code still has that value}. Configured values are not measurements, but they must agree with the code.
CONFIGURED: dict[str, dict[str, Callable[[], bool]]] = {
    "README.md": {"over 1 MiB": lambda: _max_body() == 1 << 20},
    "docs/tutorial.md": {"(1 MiB;": lambda: _max_body() == 1 << 20},
    "docs/kafka.md": {
        "(default 1 MiB)": lambda: _kafka_default("max_record_bytes") == 1 << 20,
        "50 ms, on every poll": lambda: _kafka_index_commit_interval() == 0.05,
    },
    "docs/cli.md": {"within 5 s": lambda: _cli_kafka_timeout() == 5.0},
    "docs/processes.md": {"(1 s by default)": lambda: _runner_default("deadline_interval") == 1.0},
    "docs/projections.md": {
        "(5 ms, doubling to 250 ms while nothing happens)": lambda: (
            (
                _runner_default("poll_interval"),
                _runner_default("max_poll_interval"),
            )
            == (0.005, 0.25)
        ),
        "(5 ms, backing off to 250 ms while idle;": lambda: (
            (
                _runner_default("poll_interval"),
                _runner_default("max_poll_interval"),
            )
            == (0.005, 0.25)
        ),
        "(`retry_interval`, 50 ms, doubling up to `max_retry_interval`, 5 s)": lambda: (
            (
                _runner_default("retry_interval"),
                _runner_default("max_retry_interval"),
            )
            == (0.05, 5.0)
        ),
    },
    "docs/stores.md": {"at most 5 ms": lambda: _sqlite_max_lock_wait() == 0.005},
}


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def figures_in(text: str, configured: Sequence[str] = ()) -> list[str]:
    """``line: figure`` for each measured figure in ``text`` (configured phrases taken out first)."""
    for phrase in configured:
        text = text.replace(phrase, " " * len(phrase))
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        found += [f"{n}: {m.group(0)!r} in {line.strip()[:100]!r}" for m in FIGURE.finditer(line)]
    return found


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_only_performance_md_quotes_measured_figures(page: Path) -> None:
    text = page.read_text()
    configured = CONFIGURED.get(_page_id(page), {})
    missing = [phrase for phrase in configured if phrase not in text]
    assert not missing, f"{_page_id(page)}: CONFIGURED lists phrases no longer on the page: {missing}"
    wrong = [phrase for phrase, agrees in configured.items() if not agrees()]
    assert not wrong, f"{_page_id(page)}: the code no longer has the values these phrases state: {wrong}"
    found = figures_in(text, list(configured))
    assert not found, (
        f"{_page_id(page)} quotes measured figures; put them in docs/performance.md (with the run that "
        "measured them) and link there, or, for a configured value, add its phrase to CONFIGURED:\n" + "\n".join(found)
    )


def test_performance_md_is_where_the_figures_are() -> None:
    assert len(figures_in(THE_PLACE.read_text())) > 100  # the check below would pass if the pattern matched nothing


@pytest.mark.parametrize(
    "text",
    [
        "about 21 ms on SQLite",
        "0.060 ms | 0.415 ms | 0.14x",
        "costs 7.5 µs per event",
        "2.6\u00d7 raw inserts (1,969/s)",
        "89,136 ev/s, peak RSS 68.5 MiB",
        "about 20% faster",
        "acknowledged again 0.01\u20130.3 s after",
        "reaches 5,155 appends/s",
        "about 75 MB of memory",
        "140,214 events per second",
    ],
)
def test_the_pattern_finds_measured_figures(text: str) -> None:
    assert figures_in(text), text


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://postgres@127.0.0.1:5432/scratch",
        "v2 of the event, schema version 3",
        "│ cart_summaries │ 13 │ 13 │ 0 │ 0s │",
        "Exit codes: 0 success, 1 failure, 2 usage (bad option)",
        "idle_in_transaction_session_timeout = '30s'",
        "a 100,000-event aggregate, snapshot every 100",
        "10 seconds unless given",
    ],
)
def test_the_pattern_leaves_other_numbers_alone(text: str) -> None:
    assert not figures_in(text), text
