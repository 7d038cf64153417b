"""Time-zone conversion checked against the standard library's zoneinfo, around daylight-saving changes.

Every timestamp an export can carry (``Z``, an offset, or naive local
time) must give the clinic's local calendar day and time of day. The
reference is Python's own ``datetime.astimezone(ZoneInfo(...))``, computed
independently of pandas, for instants drawn near the daylight-saving
changes of both hemispheres.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needling_analytics.load.coerce import parse_dates, parse_times

#: Zones with daylight saving in the south (Melbourne, Auckland, Santiago) and the north, and one without.
ZONES = ["Australia/Melbourne", "Pacific/Auckland", "America/Santiago", "Europe/London", "America/New_York",
         "Asia/Kolkata"]  # fmt: skip
#: Daylight-saving changes (UTC) of those zones in 2026, and two more years.
CHANGES = [
    dt.datetime(2026, 4, 4, 16, 0),  # Melbourne ends (05 Apr 03:00 local)
    dt.datetime(2026, 10, 3, 16, 0),  # Melbourne starts (04 Oct 02:00 local)
    dt.datetime(2026, 4, 4, 14, 0),  # Auckland ends
    dt.datetime(2026, 9, 26, 14, 0),  # Auckland starts
    dt.datetime(2026, 4, 5, 3, 0),  # Santiago ends
    dt.datetime(2026, 9, 6, 4, 0),  # Santiago starts
    dt.datetime(2026, 3, 29, 1, 0),  # London starts
    dt.datetime(2026, 10, 25, 1, 0),  # London ends
    dt.datetime(2026, 3, 8, 7, 0),  # New York starts
    dt.datetime(2026, 11, 1, 6, 0),  # New York ends
    dt.datetime(2025, 4, 5, 16, 0),
    dt.datetime(2027, 10, 2, 16, 0),
]

instants = st.builds(
    lambda change, minutes: (change + dt.timedelta(minutes=minutes)).replace(tzinfo=dt.UTC),
    st.sampled_from(CHANGES),
    st.integers(min_value=-36 * 60, max_value=36 * 60),
)


def _expected(instant: dt.datetime, zone: str) -> tuple[str, str]:
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M")


def _parsed(text: list[str], zone: str | None) -> tuple[list[str], list[str]]:
    values = pd.Series(text, dtype=object)
    dates, bad_dates = parse_dates(values, (), zone)
    times, bad_times = parse_times(values, timezone=zone)
    assert not bad_dates.any() and not bad_times.any()
    return dates.dt.strftime("%Y-%m-%d").tolist(), times.tolist()


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(instants, min_size=1, max_size=8), st.sampled_from(ZONES))
def test_utc_timestamps_give_the_clinic_local_day_and_time(moments, zone):
    text = [m.strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments]
    dates, times = _parsed(text, zone)
    assert list(zip(dates, times, strict=True)) == [_expected(m, zone) for m in moments]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(instants, min_size=1, max_size=8), st.sampled_from(ZONES), st.sampled_from(ZONES))
def test_any_offset_names_the_same_instant(moments, written_in, zone):
    """A timestamp written with another zone's offset (as FHIR servers do) is the same instant."""
    text = [m.astimezone(ZoneInfo(written_in)).isoformat() for m in moments]  # e.g. 2026-04-05T02:30:00+11:00
    dates, times = _parsed(text, zone)
    assert list(zip(dates, times, strict=True)) == [_expected(m, zone) for m in moments]


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.lists(instants, min_size=1, max_size=8), st.sampled_from(ZONES))
def test_naive_local_timestamps_are_taken_as_written(moments, zone):
    """A local wall time (Nookal, Jane, a workbook) is already the clinic's: never shifted."""
    local = [m.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for m in moments]
    dates, times = _parsed([t.strftime("%Y-%m-%d %H:%M:%S") for t in local], zone)
    assert dates == [t.strftime("%Y-%m-%d") for t in local]
    assert times == [t.strftime("%H:%M") for t in local]


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.lists(instants, min_size=1, max_size=8))
def test_without_a_zone_an_offset_timestamp_keeps_the_day_it_was_written_on(moments):
    text = [m.astimezone(ZoneInfo("Australia/Melbourne")).isoformat() for m in moments]
    dates, times = _parsed(text, None)
    assert dates == [t[:10] for t in text] and times == [t[11:16] for t in text]


def test_timezone_aware_cells_from_parquet_or_a_database_are_converted():
    stamps = pd.Series(pd.to_datetime(["2026-04-04T15:30:00Z", "2026-04-04T16:30:00Z"], utc=True))
    dates, _ = parse_dates(stamps, (), "Australia/Melbourne")
    times, _ = parse_times(stamps, timezone="Australia/Melbourne")
    # 15:30Z is 02:30 AEDT (+11) on 5 April; 16:30Z is 02:30 AEST (+10), after the clocks went back
    assert dates.dt.strftime("%Y-%m-%d").tolist() == ["2026-04-05", "2026-04-05"]
    assert times.tolist() == ["02:30", "02:30"]
