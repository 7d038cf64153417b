"""The clinic report's suppression policies: which monthly counts and which funnel points it protects.

These apply the generic rule of :mod:`needling_analytics.privacy.suppression`
to two frames of the clinic report. They sit below the plots because the
activity chart must hide a month's figure exactly where the KPI table
(:func:`~needling_analytics.reporting.monthly.kpi_table`) does.
"""

from __future__ import annotations

import pandas as pd

from .suppression import small_count_mask

#: Counts of :func:`~needling_analytics.metrics.monthly_activity` that reports show, and derived parts.
MONTHLY_COUNTS = (
    "active_patients",
    "new_patients",
    "new_episodes",
    "sessions_booked",
    "sessions_attended",
    "cancelled",
    "no_show",
    "upcoming",
    "unmarked",
    "discharges",
    "adverse_events",
    "discharged_assessable",
    "discharged_responders",
    "not_responders",
)
#: Totals of the monthly activity table that a reader can rebuild from their parts.
MONTHLY_TOTALS = {
    "sessions_booked": ["sessions_attended", "cancelled", "no_show", "upcoming", "unmarked"],
    "discharged_assessable": ["discharged_responders", "not_responders"],
}


def monthly_counts(monthly: pd.DataFrame) -> pd.DataFrame:
    """:func:`~needling_analytics.metrics.monthly_activity` with ``not_responders`` added (assessed minus responders)."""
    missing = {c: 0 for c in ("upcoming", "unmarked") if c not in monthly}  # tables from before the two statuses
    return monthly.assign(not_responders=monthly["discharged_assessable"] - monthly["discharged_responders"], **missing)


def monthly_hidden(monthly: pd.DataFrame, *, min_cell_size: int = 11) -> pd.DataFrame:
    """Which monthly counts the clinic report hides, month by month, in the KPI table and the activity chart.

    The rule of :func:`~needling_analytics.reporting.monthly.kpi_table`
    applied to every month: counts of 1 to ``min_cell_size - 1`` are hidden, and
    so is a part of a total that would give one away
    (:data:`MONTHLY_TOTALS`). Each month is decided on its own, so a month
    is hidden in the same way in every report that shows it.

    Returns
    -------
    DataFrame
        ``month``, then one boolean column per :data:`MONTHLY_COUNTS`
        (True: hidden), in the order of ``monthly``.
    """
    counts = monthly_counts(monthly)
    hidden = small_count_mask(counts, list(MONTHLY_COUNTS), min_cell_size=min_cell_size, totals=MONTHLY_TOTALS)
    return pd.concat([monthly[["month"]], hidden], axis=1)


def funnel_hidden(funnel: pd.DataFrame, *, min_cell_size: int = 11) -> pd.Series:
    """Practitioners whose funnel point would give away a small count (so are not drawn or named with a rate).

    A point shows a practitioner's assessed episodes (``n``) and responder
    rate, hence their responders and non-responders. A practitioner is
    hidden when any of the three is 1 to ``min_cell_size - 1``; and, because
    the clinic's totals can be read elsewhere in the report, one more
    practitioner (the smallest count) is hidden whenever that total would
    give a hidden one away (:func:`~needling_analytics.privacy.suppression.small_count_mask` with a total row).
    With a :class:`~needling_analytics.privacy.suppression.Disclosure`: nobody is hidden for the owner; under
    ``method="round"`` the clinic's totals are shown rounded, so only
    practitioners with a small count are hidden.

    Returns
    -------
    Series of bool
        One per row of ``funnel`` (its index): True when hidden.
    """
    counts = funnel[["n", "responders"]].astype(float).assign(others=lambda f: f["n"] - f["responders"])
    counts = counts.reset_index(drop=True)
    total = len(counts)
    counts.loc[total] = counts.sum()
    mask = small_count_mask(
        counts,
        ["n", "responders", "others"],
        min_cell_size=min_cell_size,
        totals={"n": ["responders", "others"]},
        total_row=total,
    )
    return pd.Series(mask.drop(index=total).any(axis=1).to_numpy(), index=funnel.index, name="hidden")
