"""The SQL row helpers: timestamps as fixed-width UTC text whose order is time order."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from eventsourcing.stores.sql.rows import iso_utc

aware = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.sampled_from([dt.UTC])
) | st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=-7))), min_value=dt.datetime(2, 1, 1))


@given(aware, aware)
def test_iso_utc_is_isoformat_in_utc_and_orders_like_time(a: dt.datetime, b: dt.datetime) -> None:
    for value in (a, b):
        assert iso_utc(value) == value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        assert dt.datetime.fromisoformat(iso_utc(value)) == value
    assert (iso_utc(a) < iso_utc(b)) == (a < b)
