"""Monthly figures against chance: control charts (p-chart, u-chart) and month-over-month tests.

A clinic's monthly rates move from month to month by chance alone, more so
on small numbers. Two tools tell that movement apart from a real change:

- :func:`control_chart` and :func:`monthly_control_chart`: Shewhart control
  charts with 3-sigma limits around the pooled rate, each month's limits
  from its own denominator (Montgomery, *Introduction to Statistical
  Quality Control*, 6th ed., 2009, sections 7.2.1 and 7.3.1: the p-chart
  with variable sample size and the u-chart);
- :func:`month_over_month`: each indicator of the monthly activity table
  this month against the month before, with an exact test (Fisher's exact
  test for shares; the exact conditional test of two Poisson counts for
  counts and for events per session).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..periods import parse_month

CONTROL_COLUMNS = ["month", "numerator", "denominator", "rate", "centre", "lower", "upper", "outside"]

#: Control charts of the monthly activity table: name -> (numerator, denominator, kind, words).
MONTHLY_CHARTS = {
    "responders": (
        "discharged_responders",
        "discharged_assessable",
        "p",
        "share of assessed completed courses improved",
    ),
    "adverse_events": ("adverse_events", "sessions_attended", "u", "adverse events per session attended"),
}

#: Indicators of :func:`~needling_analytics.metrics.monthly_activity` and how a change in each is tested.
#: column -> (kind, numerator, denominator): ``count`` (two Poisson counts, equal exposure),
#: ``share`` (two proportions), ``rate`` (two Poisson counts, exposure = denominator), ``mean`` (not tested).
MONTH_OVER_MONTH = {
    "active_patients": ("count", "active_patients", None),
    "new_patients": ("count", "new_patients", None),
    "new_episodes": ("count", "new_episodes", None),
    "sessions_booked": ("count", "sessions_booked", None),
    "sessions_attended": ("count", "sessions_attended", None),
    "cancelled": ("count", "cancelled", None),
    "no_show": ("count", "no_show", None),
    "unmarked": ("count", "unmarked", None),
    "upcoming": ("count", "upcoming", None),
    "attendance_rate": ("share", "sessions_attended", "marked"),
    "discharges": ("count", "discharges", None),
    "discharged_responder_rate": ("share", "discharged_responders", "discharged_assessable"),
    "mean_pain_reduction": ("mean", None, None),
    "adverse_events": ("count", "adverse_events", None),
    "ae_rate_per_100": ("rate", "adverse_events", "sessions_attended"),
}
_TESTS = {
    "count": "exact test of two Poisson counts (binomial, p = 0.5)",
    "share": "Fisher's exact test",
    "rate": "exact test of two Poisson rates (binomial, p = share of sessions)",
    "mean": "",
}


def control_chart(
    counts: pd.DataFrame,
    *,
    numerator: str,
    denominator: str,
    kind: str = "p",
    sigmas: float = 3.0,
    month: str = "month",
) -> pd.DataFrame:
    """A Shewhart p-chart or u-chart of a monthly rate: centre line, limits per month, points outside.

    Parameters
    ----------
    counts : DataFrame
        One row per month, with the ``month``, ``numerator`` and
        ``denominator`` columns (counts): e.g.
        :func:`~needling_analytics.metrics.monthly_activity`.
    numerator, denominator : str
        Columns of ``counts``: e.g. responders and assessed courses (p), or
        events and sessions (u).
    kind : {"p", "u"}
        ``"p"``: a proportion (numerator <= denominator), limits
        ``p ± sigmas * sqrt(p (1 - p) / n_i)`` clipped to [0, 1]. ``"u"``: a
        rate of events per unit (events can exceed units), limits
        ``u ± sigmas * sqrt(u / n_i)``, the lower one clipped at 0
        (Montgomery 2009, 7.2.1 and 7.3.1).
    sigmas : float
        Width of the limits in standard errors (3: the usual Shewhart limits).

    Returns
    -------
    DataFrame
        ``month``, ``numerator``, ``denominator`` (counts), ``rate``
        (numerator / denominator; missing when the denominator is 0),
        ``centre`` (the pooled rate: all numerators over all denominators),
        ``lower``, ``upper`` (the month's limits; missing without a
        denominator), ``outside`` (True when the rate is strictly above
        ``upper`` or below ``lower``). ``attrs``: ``kind``, ``sigmas``,
        ``centre``.

    Examples
    --------
    >>> t = pd.DataFrame({"month": [1, 2], "x": [12, 22], "n": [50, 50]})
    >>> control_chart(t, numerator="x", denominator="n")["upper"].round(4).tolist()
    [0.541, 0.541]
    """
    if kind not in ("p", "u"):
        raise ValueError(f"`kind` must be 'p' (a proportion) or 'u' (events per unit), got {kind!r}")
    if not np.isfinite(sigmas) or sigmas <= 0:
        raise ValueError(f"`sigmas` must be a positive number, got {sigmas!r}")
    missing = [c for c in (month, numerator, denominator) if c not in counts.columns]
    if missing:
        raise ValueError(f"`counts` lacks column(s) {missing!r}; its columns are {list(counts.columns)}")
    x = counts[numerator].to_numpy(dtype=float)
    n = counts[denominator].to_numpy(dtype=float)
    if np.any(x < 0) or np.any(n < 0):
        raise ValueError("`numerator` and `denominator` must be counts (0 or more); found a negative value")
    if kind == "p" and np.any(x > n):
        raise ValueError(f"a p-chart needs `{numerator}` <= `{denominator}` in every month; use kind='u' for a rate")
    total = n.sum()
    centre = x.sum() / total if total > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        has = n > 0
        rate = np.where(has, x / np.where(has, n, 1), np.nan)
        spread = centre * (1 - centre) if kind == "p" else centre
        half = np.where(has, sigmas * np.sqrt(spread / np.where(has, n, 1)), np.nan)
    lower = np.clip(centre - half, 0, None)
    upper = np.clip(centre + half, None, 1) if kind == "p" else centre + half
    outside = (rate > upper) | (rate < lower)  # NaN compares False: no verdict without a denominator
    out = pd.DataFrame(
        {
            "month": counts[month].to_numpy(),
            "numerator": x.astype("int64"),
            "denominator": n.astype("int64"),
            "rate": rate,
            "centre": np.full(len(x), centre),
            "lower": np.where(has, lower, np.nan),
            "upper": np.where(has, upper, np.nan),
            "outside": outside,
        }
    )
    out.attrs.update(kind=kind, sigmas=float(sigmas), centre=float(centre))
    return out


def monthly_control_chart(
    monthly: pd.DataFrame, indicator: str, *, months: int = 12, sigmas: float = 3.0
) -> pd.DataFrame:
    """The control chart of a monthly rate over the last ``months`` months of the activity table.

    The centre line is the pooled rate over those months.

    Parameters
    ----------
    monthly : DataFrame
        The output of :func:`~needling_analytics.metrics.monthly_activity`.
    indicator : {"responders", "adverse_events"}
        ``"responders"``: a **p-chart** of the share of assessed courses of
        care that ended in the month and improved (the ended courses and
        responder rule of the Outcomes section, counted in the month the
        course ended); ``"adverse_events"``: a **u-chart** of adverse events
        per attended session (a session can be followed by several events,
        so the count is a Poisson count per session, not a proportion).
    months : int
        How many of the last months to chart.
    sigmas : float
        Width of the control limits, in standard errors.

    Returns
    -------
    DataFrame
        :func:`control_chart`'s columns (``month`` ... ``outside``), oldest
        month first; ``attrs`` adds ``indicator`` and ``months``.
    """
    if indicator not in MONTHLY_CHARTS:
        raise ValueError(f"`indicator` must be one of {sorted(MONTHLY_CHARTS)!r}, got {indicator!r}")
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise ValueError(f"`months` must be a whole number of months, 1 or more, got {months!r}")
    numerator, denominator, kind, words = MONTHLY_CHARTS[indicator]
    rows = monthly.sort_values("month").tail(int(months))
    out = control_chart(rows, numerator=numerator, denominator=denominator, kind=kind, sigmas=sigmas)
    out.attrs.update(indicator=indicator, months=int(months), words=words)
    return out


def _exact_binomial(k, n, p) -> float:
    """Two-sided exact binomial p-value (scipy's "minlike" method, as R's binom.test); 1 when ``n`` is 0."""
    return 1.0 if n == 0 else float(stats.binomtest(int(k), int(n), p).pvalue)


def _compare(kind: str, now: dict, before: dict) -> float:
    """The p-value of this month against the month before, for one indicator (NaN when it cannot be tested)."""
    if kind == "count":
        return _exact_binomial(now["x"], now["x"] + before["x"], 0.5)
    if kind == "share":
        if now["n"] == 0 or before["n"] == 0:
            return np.nan
        table = [[now["x"], now["n"] - now["x"]], [before["x"], before["n"] - before["x"]]]
        return float(stats.fisher_exact(table).pvalue)
    if kind == "rate":
        if now["n"] == 0 or before["n"] == 0:
            return np.nan
        return _exact_binomial(now["x"], now["x"] + before["x"], now["n"] / (now["n"] + before["n"]))
    return np.nan


def month_over_month(monthly: pd.DataFrame, month, *, alpha: float = 0.05) -> pd.DataFrame:
    """Each monthly indicator this month against the month before, and whether the change is beyond chance.

    A count (patients, sessions, events) is compared with the exact
    conditional test of two Poisson counts: given their sum, this month's
    count is binomial with p = 0.5 under equal exposure (each calendar month
    counts as one unit; Przyborowski and Wilenski 1940). A share is compared
    with Fisher's exact test (attendance: attended out of attended,
    cancelled and missed; improvement: improved out of assessed). Adverse
    events per session: the same conditional test with p = this month's
    share of the two months' attended sessions. The mean fall in pain is not
    tested (the monthly table has no spread). All tests are two-sided.

    Counts of sessions vary more than Poisson counts (one patient has
    several), so their test marks a change as beyond chance somewhat too
    readily.

    Parameters
    ----------
    monthly : DataFrame
        The output of :func:`~needling_analytics.metrics.monthly_activity`.
    month : str or Period
        This month, ``"YYYY-MM"`` or a monthly Period.
    alpha : float
        Two-sided level at which a change is called beyond chance.

    Returns
    -------
    DataFrame
        One row per indicator of :data:`MONTH_OVER_MONTH`: ``indicator``
        (column of ``monthly``), ``kind`` (``count``, ``share``, ``rate``,
        ``mean``), ``this_month``, ``previous_month``, ``change`` (this
        month minus the month before), ``test`` (its name; empty when not
        tested), ``p_value``, ``beyond_chance`` (p_value < ``alpha``; missing
        when not tested).
    """
    period = parse_month(month)
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must lie between 0 and 1, got {alpha!r}")
    rows = monthly.set_index("month").reindex([period - 1, period])
    if rows.isna().all(axis=None):
        raise ValueError(
            f"`monthly` has no row for {period} or the month before; pass monthly_activity(clinic, {str(period)!r})"
        )
    older = {c: 0 for c in ("upcoming", "unmarked") if c not in rows}  # tables from before the two statuses
    rows = rows.assign(marked=rows["sessions_attended"] + rows["cancelled"] + rows["no_show"], **older)
    counts = rows.fillna(0)
    out = []
    for column, (kind, numerator, denominator) in MONTH_OVER_MONTH.items():
        now, before = float(rows.iloc[1][column]), float(rows.iloc[0][column])
        sides = [
            {"x": counts.iloc[i][numerator] if numerator else 0, "n": counts.iloc[i][denominator] if denominator else 0}
            for i in (1, 0)
        ]
        p_value = _compare(kind, *sides)
        out.append(
            {
                "indicator": column,
                "kind": kind,
                "this_month": now,
                "previous_month": before,
                "change": now - before,
                "test": _TESTS[kind] if np.isfinite(p_value) else "",
                "p_value": p_value,
                "beyond_chance": p_value < alpha if np.isfinite(p_value) else pd.NA,
            }
        )
    table = pd.DataFrame(out).astype({"beyond_chance": "boolean"})
    table.attrs.update(months=(str(period), str(period - 1)), alpha=float(alpha))
    return table
