"""The demo clinic's calendar: the period, public holidays and clinic days.

Days are handled as integer day numbers (days since 1970-01-01) so that
whole arrays of dates move at once: :class:`Calendar` moves a day forward
to the next clinic day (a weekday that is not one of :func:`demo_holidays`)
and draws start days; :func:`day_dates` turns day numbers back into dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


def demo_holidays(first: str | date, last: str | date) -> pd.DatetimeIndex:
    """Public holidays on which the demo clinic is closed.

    New Year's Day, Good Friday, Easter Monday, 1 May, Christmas Day and
    St Stephen's / Boxing Day of every year, limited to ``first``..``last``.

    Returns
    -------
    DatetimeIndex
        The holidays, sorted.
    """
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    days = []
    for year in range(first.year, last.year + 1):
        easter = _easter_sunday(year)
        days += [date(year, 1, 1), easter - pd.Timedelta(days=2), easter + pd.Timedelta(days=1)]
        days += [date(year, 5, 1), date(year, 12, 25), date(year, 12, 26)]
    index = pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in days))
    return index[(index >= first) & (index <= last)]


def _easter_sunday(year: int) -> pd.Timestamp:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return pd.Timestamp(year, month, day + 1)


def _day_number(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


@dataclass(frozen=True)
class Calendar:
    """Clinic days as integer day numbers (days since 1970-01-01)."""

    first_day: int
    last_day: int
    next_open: np.ndarray  # next_open[d - first_day]: first clinic day >= d

    @classmethod
    def for_period(cls, end: pd.Timestamp, months: int) -> Calendar:
        start = end + pd.Timedelta(days=1) - pd.DateOffset(months=months)
        horizon = end + pd.Timedelta(days=60)
        days = pd.date_range(start, horizon, freq="D")
        closed = (days.day_of_week >= 5) | days.isin(demo_holidays(start, horizon))
        first = _day_number(start)
        numbers = first + np.arange(len(days))
        # For each day, the next open day: a backward running minimum.
        candidate = np.where(closed, np.iinfo(np.int64).max, numbers)
        next_open = np.minimum.accumulate(candidate[::-1])[::-1]
        next_open = np.where(next_open == np.iinfo(np.int64).max, numbers + 7, next_open)
        return cls(first, _day_number(end), next_open)

    @property
    def last_year(self) -> int:
        return int(np.datetime64(self.last_day, "D").astype(object).year)

    def snap(self, days: np.ndarray) -> np.ndarray:
        """Move each day forward to a clinic day (days past the table stay)."""
        index = days - self.first_day
        inside = index < len(self.next_open)
        return np.where(inside, self.next_open[np.clip(index, 0, len(self.next_open) - 1)], days)

    def random_open_days(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` clinic days drawn uniformly from the period."""
        span = self.next_open[: self.last_day - self.first_day + 1]
        open_days = np.unique(span[span <= self.last_day])
        return open_days[rng.integers(0, len(open_days), n)]


def day_dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Integer day numbers as ``datetime64[ns]`` (NaT where not ``valid``)."""
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out
