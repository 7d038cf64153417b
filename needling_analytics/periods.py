"""Calendar months: reading the ``month`` a report or a monthly table is for."""

from __future__ import annotations

import re

import pandas as pd

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def parse_month(month) -> pd.Period:
    """A calendar month from ``"YYYY-MM"`` or a monthly :class:`pandas.Period`.

    Raises
    ------
    ValueError
        For anything else (another format, another frequency, a date).
    """
    if isinstance(month, pd.Period):
        if month.freqstr != "M":
            raise ValueError(f"`month` must be a monthly Period (freq 'M'), got {month!r}")
        return month
    if isinstance(month, str) and _MONTH.fullmatch(month):
        return pd.Period(month, freq="M")
    raise ValueError(
        f"`month` must be a month written 'YYYY-MM' (e.g. '2026-10') or a monthly pandas Period, got {month!r}"
    )
