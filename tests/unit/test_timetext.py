"""One rule for timestamps written as text (CLI and HTTP API), and the relative forms of the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from eventsourcing import InvalidTimestamp, clock
from eventsourcing.timetext import FORMS, RULE, parse_instant, parse_moment

NOW = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1))
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
UNITS = {
    "s": dt.timedelta(seconds=1),
    "seconds": dt.timedelta(seconds=1),
    "min": dt.timedelta(minutes=1),
    "minutes": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "hours": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "days": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
    "weeks": dt.timedelta(weeks=1),
}


def _offset_text(zone: dt.tzinfo) -> str:
    text = dt.datetime(2000, 1, 1, tzinfo=zone).isoformat()[-6:]
    return "Z" if text == "+00:00" else text


@given(now=NOW, amount=st.integers(min_value=0, max_value=10_000), unit=st.sampled_from(sorted(UNITS)))
def test_n_units_ago_is_now_minus_that_much(now: dt.datetime, amount: int, unit: str) -> None:
    with freeze_time(now):
        expected = clock.now() - amount * UNITS[unit]
        assert parse_moment(f"{amount} {unit} ago", "--at") == expected
        assert parse_moment(f" {amount}{unit}  AGO ", "--at") == expected


@given(now=NOW)
def test_now_and_yesterday_read_the_application_clock(now: dt.datetime) -> None:
    with freeze_time(now):
        assert parse_moment("now", "--at") == now.replace(tzinfo=dt.UTC)
        assert parse_moment("Yesterday", "--at") == now.replace(tzinfo=dt.UTC) - dt.timedelta(days=1)


@given(now=NOW, at=st.times(), zone=OFFSETS, day=st.sampled_from(["today", "yesterday"]))
def test_a_clock_time_on_today_or_yesterday_is_that_time_on_that_date_in_its_own_offset(
    now: dt.datetime, at: dt.time, zone: dt.timezone, day: str
) -> None:
    with freeze_time(now):
        parsed = parse_moment(f"{day} {at.isoformat()}{_offset_text(zone)}", "--until")
    local = parsed.astimezone(zone)
    today_there = now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    assert local.date() == (today_there - dt.timedelta(days=1) if day == "yesterday" else today_there)
    assert local.timetz().replace(tzinfo=None) == at
    assert parsed.tzinfo is dt.UTC


@given(moment=st.datetimes(min_value=dt.datetime(1900, 1, 1), timezones=OFFSETS))
def test_iso_8601_with_an_offset_is_that_instant_in_utc(moment: dt.datetime) -> None:
    for parse in (parse_instant, parse_moment):
        parsed = parse(moment.isoformat(), "as_of")
        assert parsed == moment and parsed.tzinfo is dt.UTC


@given(moment=st.datetimes(min_value=dt.datetime(1900, 1, 1)))
def test_a_time_without_a_timezone_is_refused_everywhere_saying_how_to_write_it(moment: dt.datetime) -> None:
    text = moment.isoformat(timespec="minutes")
    for parse in (parse_instant, parse_moment):
        with pytest.raises(InvalidTimestamp) as caught:
            parse(text, "--at")
        message = str(caught.value)
        assert message.startswith(f"--at: {text!r} has no timezone") and "\n" not in message
        assert f"{text}Z" in message and f"{text}+01:00" in message and RULE in message
    with pytest.raises(InvalidTimestamp, match=r"2024-05-01T00:00Z for UTC"):
        parse_moment("2024-05-01", "--since")  # a date alone: midnight where?
    with pytest.raises(InvalidTimestamp, match=r"write 'yesterday 14:00Z' for UTC or 'yesterday 14:00\+01:00'"):
        parse_moment("yesterday 14:00", "--at")


@pytest.mark.parametrize(
    "text", ["yesterdays", "2h", "in 2h", "2 fortnights ago", "-2h ago", "1.5h ago", "tomorrow", "today", "noon"]
)
def test_anything_else_is_refused_listing_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidTimestamp) as caught:
        parse_moment(text, "--at")
    message = str(caught.value)
    assert message.startswith(f"--at: {text!r}") and "\n" not in message
    assert FORMS in message or "with its offset" in message or "needs a time" in message


def test_iso_only_surfaces_do_not_read_relative_times() -> None:
    with pytest.raises(InvalidTimestamp, match="not an ISO 8601 timestamp"):
        parse_instant("2h ago", "as_of")


def test_the_python_api_refuses_a_naive_datetime_saying_how_to_make_it_aware() -> None:
    with pytest.raises(InvalidTimestamp) as caught:
        clock.require_aware(dt.datetime(2026, 3, 1, 10), "as_of")
    assert "has no timezone" in str(caught.value) and "astimezone()" in str(caught.value)
    assert RULE in str(caught.value)
