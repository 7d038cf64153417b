"""The clinic report's month: the KPI table beside the month before, and the monthly control charts, small counts hidden.

:func:`kpi_table` and :func:`protect_control_chart` turn
:func:`~needling_analytics.metrics.monthly_activity` and
:func:`~needling_analytics.metrics.monthly_control_chart` into what the
report shows (text cells, see
:func:`~needling_analytics.reporting.suppression.suppress_small_counts`).
"""

from __future__ import annotations

import pandas as pd

from .. import metrics
from ..periods import parse_month
from ..privacy.policies import MONTHLY_COUNTS, MONTHLY_TOTALS, monthly_counts, monthly_hidden
from ..privacy.suppression import (
    COMPLEMENT,
    Disclosure,
    as_disclosure,
    check_min_cell_size,
    round_counts,
    small_count_mask,
)
from .suppression import is_hidden_text, suppress_small_counts

__all__ = ["BEYOND_VARIATION", "KPIS", "NOT_TESTED", "WITHIN_VARIATION", "kpi_table", "protect_control_chart"]


#: Indicators of the monthly KPI table: column of monthly_activity -> (words, kind).
KPIS = {
    "active_patients": ("Patients seen", "count"),
    "new_patients": ("New patients", "count"),
    "new_episodes": ("New courses of care", "count"),
    "sessions_booked": ("Sessions booked", "count"),
    "sessions_attended": ("Sessions attended", "count"),
    "cancelled": ("Sessions cancelled", "count"),
    "no_show": ("Sessions missed", "count"),
    "unmarked": ("Sessions never marked attended, cancelled or missed", "count"),
    "upcoming": ("Sessions booked for a later date", "count"),
    "attendance_rate": ("Attendance rate", "share"),
    "discharges": ("Courses of care completed", "count"),
    "discharged_responder_rate": ("Completed with a clinically important improvement", "share"),
    "mean_pain_reduction": ("Average fall in pain at completion (points)", "points"),
    "adverse_events": ("Adverse events", "count"),
    "ae_rate_per_100": ("Adverse events per 100 sessions", "points"),
}


#: Verdicts of the KPI table on a month-over-month change (plain words for a clinic owner).
WITHIN_VARIATION = "within normal month-to-month variation"
BEYOND_VARIATION = "more than normal month-to-month variation"
NOT_TESTED = "not tested"


def kpi_table(monthly: pd.DataFrame, month, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
    """The month's activity beside the month before, with the change, small counts suppressed.

    ``monthly`` is :func:`~needling_analytics.metrics.monthly_activity`.
    Suppression (:func:`suppress_small_counts`) treats sessions booked as the
    total of attended, cancelled, missed, not marked and still to come (the
    attendance rate is attended / (attended + cancelled + missed)), and responders plus the others
    as the discharged episodes assessed; a rate is hidden (``"*"``) when a
    count it comes from is hidden, and so is the change when either month's
    figure is hidden. Blank cells are missing (e.g. no discharge that month).
    ``min_cell_size`` may be a :class:`~needling_analytics.suppression.Disclosure`:
    nothing hidden for the owner; under ``method="round"`` counts are
    rounded to 5 (changes are those of the rounded counts), and the
    attendance and improvement shares are shown as bands where a count
    they come from is hidden (the change is then hidden).

    Whether each change is beyond chance comes from
    :func:`~needling_analytics.metrics.month_over_month` (exact tests, 5%
    two-sided): ``verdict`` reads :data:`WITHIN_VARIATION` or
    :data:`BEYOND_VARIATION`; it is ``"*"`` whenever the change is hidden
    (a verdict on a hidden figure would hint at it), blank when there is
    no change to judge, and ``"not tested"`` for the average fall in pain.

    Returns
    -------
    DataFrame
        ``indicator`` (words), ``this_month``, ``previous_month``, ``change``,
        ``verdict`` (text cells; shares as percentages, changes in
        percentage points). ``attrs["p_values"]``: indicator words -> p-value.
    """
    period = parse_month(month)
    rows = monthly.set_index("month").reindex([period - 1, period])
    if rows.isna().all(axis=None):
        raise ValueError(
            f"`monthly` has no row for {period} or the month before; pass monthly_activity(clinic, {str(period)!r})"
        )
    rows = monthly_counts(rows.reset_index(drop=True))
    hidden = suppress_small_counts(
        rows,
        list(MONTHLY_COUNTS),
        min_cell_size=min_cell_size,
        totals=MONTHLY_TOTALS,
        rate_columns={
            "attendance_rate": ["sessions_attended", "cancelled", "no_show"],
            "discharged_responder_rate": ["discharged_responders", "discharged_assessable", "not_responders"],
            "mean_pain_reduction": ["discharges"],
            "ae_rate_per_100": ["adverse_events", "sessions_attended"],
        },
        rate_format={
            "attendance_rate": "{:.0%}",
            "discharged_responder_rate": "{:.0%}",
            "mean_pain_reduction": "{:.1f}",
            "ae_rate_per_100": "{:.1f}",
        },
        bands={
            "attendance_rate": (["sessions_attended"], ["cancelled", "no_show"]),
            "discharged_responder_rate": (["discharged_responders"], ["not_responders"]),
        },
    )
    tests = metrics.month_over_month(monthly, period).set_index("indicator")
    rounds = as_disclosure(min_cell_size).rounds
    out = []
    for column, (words, kind) in KPIS.items():
        now, before = hidden.loc[1, column], hidden.loc[0, column]
        hidden_cell = any(is_hidden_text(v) for v in (now, before))
        change = verdict = COMPLEMENT if hidden_cell else ""
        if not hidden_cell and now and before:
            shown = rows[column].astype(float)
            shown = pd.Series(round_counts(shown)) if rounds and kind == "count" else shown
            delta = float(shown.loc[1]) - float(shown.loc[0])
            formats = {"count": f"{delta:+,.0f}", "share": f"{100 * delta:+.0f} percentage points"}
            change = formats.get(kind, f"{delta:+.1f}")
            beyond = tests.loc[column, "beyond_chance"] if column in tests.index else pd.NA
            verdict = NOT_TESTED if pd.isna(beyond) else BEYOND_VARIATION if beyond else WITHIN_VARIATION
        out.append(
            {"indicator": words, "this_month": now, "previous_month": before, "change": change, "verdict": verdict}
        )
    table = pd.DataFrame(out)
    table.attrs.update(hidden.attrs, months=(str(period), str(period - 1)))
    table.attrs["p_values"] = {
        words: float(tests.loc[column, "p_value"])
        for (column, (words, _)), verdict in zip(KPIS.items(), table["verdict"], strict=True)
        if verdict in (WITHIN_VARIATION, BEYOND_VARIATION)
    }
    return table


def protect_control_chart(
    chart: pd.DataFrame, monthly: pd.DataFrame, *, min_cell_size: int | Disclosure = 11
) -> pd.DataFrame:
    """A monthly control chart with the months that would give away a small count hidden.

    ``chart`` is :func:`~needling_analytics.metrics.monthly_control_chart`
    of ``monthly`` (:func:`~needling_analytics.metrics.monthly_activity`).
    A month is hidden when the KPI table would hide one of the counts its
    point is built on (:func:`~needling_analytics.suppression.monthly_hidden`:
    responders, assessed and not improved; or events and sessions attended),
    since a point and its limits give away both counts; and, because the
    centre line is the pooled rate of all the months, one more month
    (the smallest) whenever the months shown would pin a hidden one down
    (complementary suppression with the months' total). The centre line
    stays that of every month.

    Returns
    -------
    DataFrame
        ``chart``'s columns with ``numerator``, ``denominator``, ``rate``,
        ``lower`` and ``upper`` missing and ``outside`` False in hidden
        months, and ``hidden`` (bool). ``attrs`` as ``chart``'s plus
        ``threshold`` (the smallest count shown), ``hidden_months`` and ``hidden_outside``
        (``{"above": n, "below": n}``: hidden months outside the limits,
        counted without saying which).
    """
    from ..metrics.control import MONTHLY_CHARTS

    min_cell_size = check_min_cell_size(min_cell_size)
    numerator, denominator, kind, _ = MONTHLY_CHARTS[chart.attrs["indicator"]]
    sources = [numerator, denominator] + (["not_responders"] if kind == "p" else [])
    rows = monthly.set_index("month").reindex(chart["month"]).reset_index()
    by_month = monthly_hidden(rows, min_cell_size=min_cell_size)[sources].any(axis=1).to_numpy()
    counts = chart[["numerator", "denominator"]].astype(float).reset_index(drop=True)
    parts = {"denominator": ["numerator", "other"]} if kind == "p" else {}
    counts["other"] = counts["denominator"] - counts["numerator"]
    columns = ["numerator", "denominator"] + (["other"] if kind == "p" else [])
    total = len(counts)
    counts.loc[total] = counts.sum()
    pooled = small_count_mask(counts, columns, min_cell_size=min_cell_size, totals=parts, total_row=total)
    hidden = by_month | pooled.drop(index=total).any(axis=1).to_numpy()
    out = chart.copy()
    out["numerator"] = out["numerator"].astype("Int64").mask(hidden)
    out["denominator"] = out["denominator"].astype("Int64").mask(hidden)
    for column in ("rate", "lower", "upper"):
        out[column] = out[column].mask(hidden)
    out["outside"] = out["outside"] & ~hidden
    out["hidden"] = hidden
    secret = chart[hidden]
    out.attrs = {
        **chart.attrs,
        "threshold": min_cell_size,
        "hidden_months": int(hidden.sum()),
        "hidden_outside": {
            "above": int((secret["rate"] > secret["upper"]).sum()),
            "below": int((secret["rate"] < secret["lower"]).sum()),
        },
    }
    return out
