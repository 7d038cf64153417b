"""Clinic summaries for the clinic report: small counts suppressed, practitioners protected.

Each function turns a metric's output into the table (text cells, see
:func:`~needling_analytics.reporting.suppression.suppress_small_counts`) or
the chart input the clinic report shows: :func:`kpi_table`,
:func:`responders_by`, :func:`attendance_table`, :func:`rom_summary`,
:func:`prom_summary`, :func:`adverse_event_table`; for the funnel plot
:func:`protect_funnel` and :func:`funnel_curve`; and
:func:`residual_table` for model checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from ..periods import parse_month
from ..privacy.policies import MONTHLY_COUNTS, MONTHLY_TOTALS, funnel_hidden, monthly_counts, monthly_hidden
from ..privacy.suppression import (
    COMPLEMENT,
    Disclosure,
    as_disclosure,
    check_min_cell_size,
    round_counts,
    small_count_mask,
)
from .suppression import is_hidden_text, suppress_small_counts
from .text import label

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


def kpi_table(monthly: pd.DataFrame, month, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """The month's activity beside the month before, with the change, small counts suppressed.

    ``monthly`` is :func:`~needling_analytics.metrics.monthly_activity`.
    Suppression (:func:`suppress_small_counts`) treats sessions booked as the
    total of attended, cancelled, missed, not marked and still to come (the
    attendance rate is attended / (attended + cancelled + missed)), and responders plus the others
    as the discharged episodes assessed; a rate is hidden (``"*"``) when a
    count it comes from is hidden, and so is the change when either month's
    figure is hidden. Blank cells are missing (e.g. no discharge that month).
    ``threshold`` may be a :class:`~needling_analytics.privacy.suppression.Disclosure`:
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
        min_cell_size=threshold,
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
    rounds = as_disclosure(threshold).rounds
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
    chart: pd.DataFrame, monthly: pd.DataFrame, *, threshold: int | Disclosure = 11
) -> pd.DataFrame:
    """A monthly control chart with the months that would give away a small count hidden.

    ``chart`` is :func:`~needling_analytics.metrics.monthly_control_chart`
    of ``monthly`` (:func:`~needling_analytics.metrics.monthly_activity`).
    A month is hidden when the KPI table would hide one of the counts its
    point is built on (:func:`~needling_analytics.privacy.policies.monthly_hidden`:
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
        ``threshold``, ``hidden_months`` and ``hidden_outside``
        (``{"above": n, "below": n}``: hidden months outside the limits,
        counted without saying which).
    """
    from ..metrics.control import MONTHLY_CHARTS

    threshold = check_min_cell_size(threshold)
    numerator, denominator, kind, _ = MONTHLY_CHARTS[chart.attrs["indicator"]]
    sources = [numerator, denominator] + (["not_responders"] if kind == "p" else [])
    rows = monthly.set_index("month").reindex(chart["month"]).reset_index()
    by_month = monthly_hidden(rows, min_cell_size=threshold)[sources].any(axis=1).to_numpy()
    counts = chart[["numerator", "denominator"]].astype(float).reset_index(drop=True)
    parts = {"denominator": ["numerator", "other"]} if kind == "p" else {}
    counts["other"] = counts["denominator"] - counts["numerator"]
    columns = ["numerator", "denominator"] + (["other"] if kind == "p" else [])
    total = len(counts)
    counts.loc[total] = counts.sum()
    pooled = small_count_mask(counts, columns, min_cell_size=threshold, totals=parts, total_row=total)
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
        "threshold": threshold,
        "hidden_months": int(hidden.sum()),
        "hidden_outside": {
            "above": int((secret["rate"] > secret["upper"]).sum()),
            "below": int((secret["rate"] < secret["lower"]).sum()),
        },
    }
    return out


def responders_by(
    outcomes: pd.DataFrame, by: str, *, threshold: int | Disclosure = 11, total_label: str = "all"
) -> pd.DataFrame:
    """Responder rates by a subgroup (body region, practitioner...), with an overall row, small counts suppressed.

    ``outcomes`` is :func:`episode_outcomes` (or :func:`metrics.episode_pain`
    with the ``by`` column). Rates and their exact 95% intervals come from
    :func:`~needling_analytics.metrics.summarize_responders`. The number of
    episodes that could not be assessed is not shown (it is often small and
    would follow from the episodes and assessable counts).

    Returns
    -------
    DataFrame
        ``by`` (in words), ``assessable``, ``responders``, ``responder_rate``,
        ``ci_lower``, ``ci_upper`` (text; rates as percentages), with a last
        row labelled ``total_label``. Totals protected: assessable =
        responders + the others, in every row; each column's overall row.
    """
    groups = metrics.summarize_responders(outcomes, by=by)
    overall = metrics.summarize_responders(outcomes).assign(**{by: total_label})
    table = pd.concat([groups.astype({by: "string"}), overall], ignore_index=True)
    table[by] = table[by].astype("string").map(lambda v: v if v == total_label else label(v))
    table["others"] = table["assessable"] - table["responders"]
    hidden = suppress_small_counts(
        table,
        ["assessable", "responders", "others"],
        min_cell_size=threshold,
        totals={"assessable": ["responders", "others"]},
        total_row=len(table) - 1,
        rate_columns={c: ["responders", "assessable", "others"] for c in ("responder_rate", "ci_lower", "ci_upper")},
        rate_format="{:.0%}",
        bands={"responder_rate": (["responders"], ["others"])},
    )
    return hidden[[by, "assessable", "responders", "responder_rate", "ci_lower", "ci_upper"]]


#: Words for the methods of :func:`~needling_analytics.metrics.responder_sensitivity`.
SENSITIVITY_METHODS = {
    "complete_case": "Courses with a follow-up score (as above)",
    "worst_case": "Courses without a follow-up score counted as not improved",
    "weighted": "Weighted to stand in for courses without a follow-up score",
}


def responder_sensitivity_table(sensitivity: pd.DataFrame, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """The three responder rates of :func:`~needling_analytics.metrics.responder_sensitivity`, small counts hidden.

    In each row the counted courses are the improved plus the others;
    a count from 1 to ``threshold - 1`` is hidden with its complement and
    the row's rate and interval. When the courses without a follow-up score
    number 1 to ``threshold - 1`` the worst-case row is hidden (``"*"``):
    its count minus the first row's would give them away.

    Returns
    -------
    DataFrame
        ``method`` (words), ``assessed``, ``improved``, ``rate``,
        ``ci_lower``, ``ci_upper`` (text; rates as percentages).
    """
    table = sensitivity.copy()
    table["others"] = table["assessed"] - table["improved"]
    hidden = suppress_small_counts(
        table,
        ["assessed", "improved", "others"],
        min_cell_size=threshold,
        totals={"assessed": ["improved", "others"]},
        rate_columns={c: ["assessed", "improved", "others"] for c in ("rate", "ci_lower", "ci_upper")},
        rate_format="{:.0%}",
    )
    missing = int(sensitivity.attrs.get("no_follow_up", 0))
    if 0 < missing < check_min_cell_size(threshold):
        worst = (sensitivity["method"] == "worst_case").to_numpy()
        hidden.loc[worst, ["assessed", "improved", "rate", "ci_lower", "ci_upper"]] = COMPLEMENT
    hidden["method"] = sensitivity["method"].map(SENSITIVITY_METHODS).fillna(sensitivity["method"])
    out = hidden[["method", "assessed", "improved", "rate", "ci_lower", "ci_upper"]]
    out.attrs.update(sensitivity.attrs)
    return out


def attendance_table(visits: pd.DataFrame, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """The clinic's attendance and self-discharge in one row, small counts suppressed.

    ``visits`` is :func:`~needling_analytics.metrics.attendance`; the figures
    are :func:`~needling_analytics.metrics.summarize_attendance`.

    Returns
    -------
    DataFrame
        One row: ``booked``, ``attended``, ``cancelled``, ``no_show``,
        ``unmarked`` (past appointments not marked), ``upcoming`` (booked
        for a later date), ``attendance_rate`` (attended / (attended +
        cancelled + no_show)), ``episodes``, ``self_discharged``,
        ``self_discharge_rate``, ``follow_up_rate`` (text; rates as percentages).
    """
    row = metrics.summarize_attendance(visits)
    row["stayed"] = row["episodes"] - row["self_discharged"]
    row["without_follow_up"] = row["episodes"] - row["with_follow_up"]
    hidden = suppress_small_counts(
        row,
        [
            "booked",
            "attended",
            "cancelled",
            "no_show",
            "unmarked",
            "upcoming",
            "episodes",
            "self_discharged",
            "stayed",
            "with_follow_up",
            "without_follow_up",
        ],
        min_cell_size=threshold,
        totals={
            "booked": ["attended", "cancelled", "no_show", "unmarked", "upcoming"],
            "episodes": ["self_discharged", "stayed"],
        },
        rate_columns={
            "attendance_rate": ["attended", "cancelled", "no_show"],
            "self_discharge_rate": ["self_discharged", "stayed"],
            "follow_up_rate": ["with_follow_up", "without_follow_up"],
        },
        rate_format="{:.0%}",
        bands={
            "attendance_rate": (["attended"], ["cancelled", "no_show"]),
            "self_discharge_rate": (["self_discharged"], ["stayed"]),
            "follow_up_rate": (["with_follow_up"], ["without_follow_up"]),
        },
    )
    columns = ["booked", "attended", "cancelled", "no_show", "unmarked", "upcoming", "attendance_rate", "episodes"]
    columns.append("self_discharged")
    return hidden[[*columns, "self_discharge_rate", "follow_up_rate"]]


def rom_summary(rom: pd.DataFrame, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """Range-of-motion series per joint by result against measurement error, small counts suppressed.

    ``rom`` is :func:`~needling_analytics.metrics.rom_change` (one row per
    series). Returns ``joint`` (words, with an ``all joints`` row),
    ``series``, ``improved`` (beyond measurement error), ``within``
    (within measurement error), ``worse`` (beyond it), ``not_compared``
    (no follow-up or another device): text cells.
    """
    classes = {
        "improved beyond measurement error": "improved",
        "within measurement error": "within",
        "worse beyond measurement error": "worse",
        "not comparable": "not_compared",
        "no follow-up": "not_compared",
    }
    parts = ["improved", "within", "worse", "not_compared"]
    if rom.empty:
        return pd.DataFrame(columns=["joint", "series", *parts])
    result = rom["change_class"].astype(str).map(classes).fillna("not_compared")
    table = pd.crosstab(rom["joint"].astype(str).map(label), result).reindex(columns=parts, fill_value=0)
    table.loc["all joints"] = table.sum()
    table.insert(0, "series", table.sum(axis=1))
    table = table.rename_axis(index="joint", columns=None).reset_index()
    hidden = suppress_small_counts(
        table, ["series", *parts], min_cell_size=threshold, totals={"series": parts}, total_row=len(table) - 1
    )
    return hidden


def prom_summary(changes: pd.DataFrame, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """Questionnaire results per instrument, small counts suppressed.

    ``changes`` is :func:`~needling_analytics.metrics.prom_change`; figures
    from :func:`~needling_analytics.metrics.summarize_proms`. Averages are
    hidden (``"*"``) when the number with a follow-up is hidden; shares and
    intervals when a count they come from is (including the number not
    reaching the threshold, assessable minus reached).
    """
    table = metrics.summarize_proms(changes)
    table["not_reached"] = table["assessable"] - table["reached_mcid"]
    table["no_follow_up"] = table["episodes"] - table["with_follow_up"]
    counts = ["episodes", "with_follow_up", "no_follow_up", "assessable", "reached_mcid", "not_reached"]
    shares = {c: ["reached_mcid", "assessable", "not_reached"] for c in ("share_reached_mcid", "ci_lower", "ci_upper")}
    hidden = suppress_small_counts(
        table,
        counts,
        min_cell_size=threshold,
        totals={"episodes": ["with_follow_up", "no_follow_up"], "assessable": ["reached_mcid", "not_reached"]},
        rate_columns={**shares, "mean_improvement": ["with_follow_up"], "median_improvement": ["with_follow_up"]},
        rate_format={**dict.fromkeys(shares, "{:.0%}"), "mean_improvement": "{:.1f}", "median_improvement": "{:.1f}"},
        bands={"share_reached_mcid": (["reached_mcid"], ["not_reached"])},
    )
    columns = ["instrument", "episodes", "with_follow_up", "mean_improvement", "median_improvement", "assessable"]
    return hidden[[*columns, "reached_mcid", "share_reached_mcid", "ci_lower", "ci_upper"]]


def adverse_event_table(comparison: pd.DataFrame, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """Adverse-event rates beside the published ones, with rates built on 1 to 10 events hidden.

    ``comparison`` is :func:`~needling_analytics.metrics.compare_to_benchmarks`.
    A row whose event count is hidden (``"<11"``) also hides its rate,
    interval and comparison (``"*"``); the published figures stay. Serious
    events are rare, so their rate is usually hidden: each one is listed
    for the safety review instead (:func:`~needling_analytics.metrics.serious_events`).

    Returns
    -------
    DataFrame
        ``event_type``, ``severity``, ``events``, ``rate_per_100``,
        ``ci_lower``, ``ci_upper`` (text; rates with 2 decimals), ``study``,
        ``benchmark_rate_per_100`` (number), ``comparison`` (text).
    """
    hidden = suppress_small_counts(
        comparison,
        ["events"],
        min_cell_size=threshold,
        rate_columns={c: ["events"] for c in ("rate_per_100", "ci_lower", "ci_upper")},
        rate_format="{:.2f}",
    )
    blocked = hidden["rate_per_100"].eq(COMPLEMENT)
    hidden["comparison"] = hidden["comparison"].astype(object).where(~blocked, COMPLEMENT)
    columns = ["event_type", "severity", "events", "rate_per_100", "ci_lower", "ci_upper", "study"]
    return hidden[[*columns, "benchmark_rate_per_100", "comparison"]].reset_index(drop=True)


def protect_funnel(funnel: pd.DataFrame, *, threshold: int | Disclosure = 11) -> pd.DataFrame:
    """The funnel without the practitioners whose point would give away a small count.

    ``funnel`` is :func:`~needling_analytics.metrics.practitioner_funnel`
    (practitioners below its ``min_episodes`` are already left out). A
    practitioner is removed when their assessed episodes, responders or
    non-responders are 1 to ``threshold - 1``, or to protect another one
    (:func:`~needling_analytics.privacy.policies.funnel_hidden`).
    The clinic's rate and the limits stay those of every compared
    practitioner.

    Returns
    -------
    DataFrame
        The rows of ``funnel`` kept, same columns; ``attrs`` as ``funnel``'s
        plus ``hidden_practitioners`` (how many were removed),
        ``threshold`` and, when ``funnel`` has its control limits,
        ``practitioner_counts``: :func:`~needling_analytics.metrics.funnel_counts`
        on the whole funnel (how many practitioners, shown or hidden, are
        outside each limit; hidden ones only as counts), which
        :func:`~needling_analytics.reporting.text.funnel_summary` reads.
    """
    policy = as_disclosure(threshold)
    hidden = funnel_hidden(funnel, min_cell_size=policy) if len(funnel) else pd.Series(False, index=funnel.index)
    out = funnel.loc[~hidden.to_numpy()].reset_index(drop=True)
    out.attrs = {**funnel.attrs, "hidden_practitioners": int(hidden.sum()), "threshold": policy.threshold}
    if "indicator" in funnel and any(c.startswith("upper_") for c in funnel.columns):
        out.attrs["practitioner_counts"] = metrics.funnel_counts(funnel, hidden=hidden.to_numpy())
    return out


def funnel_curve(funnel: pd.DataFrame) -> pd.DataFrame:
    """The control limits to draw behind :func:`~needling_analytics.metrics.practitioner_funnel` output.

    :func:`~needling_analytics.metrics.funnel_limits` around the funnel's
    target, with its levels and dispersion, up to 10% beyond the largest
    practitioner; an empty frame when no practitioner is shown.
    """
    if funnel.empty or not np.isfinite(funnel.attrs.get("target", np.nan)):
        return pd.DataFrame(columns=["n"])
    n_max = int(np.ceil(funnel["n"].max() * 1.1)) + 1
    return metrics.funnel_limits(
        float(funnel.attrs["target"]),
        n_max,
        limits=funnel.attrs.get("limits", (0.95, 0.998)),
        dispersion=float(funnel.attrs.get("dispersion", 1.0)),
    )


def residual_table(fit, *, bands: int = 5) -> pd.DataFrame:
    """Residuals of a trajectory model by band of fitted values: a table instead of a residual plot.

    A good fit has mean residuals near 0 in every band (no curvature) and
    similar SDs (constant variance).

    Returns
    -------
    DataFrame
        ``fitted_from``, ``fitted_to`` (band of fitted values, outcome
        units), ``observations``, ``mean_residual``, ``sd_residual``.
    """
    result = fit.model_result
    fitted = pd.Series(np.asarray(result.fittedvalues, dtype=float))
    residual = pd.Series(np.asarray(result.resid, dtype=float))
    band = pd.qcut(fitted, bands, duplicates="drop")
    grouped = pd.DataFrame({"band": band, "fitted": fitted, "residual": residual}).groupby("band", observed=True)
    return pd.DataFrame(
        {
            "fitted_from": grouped["fitted"].min(),
            "fitted_to": grouped["fitted"].max(),
            "observations": grouped.size().astype("int64"),
            "mean_residual": grouped["residual"].mean(),
            "sd_residual": grouped["residual"].std(),
        }
    ).reset_index(drop=True)
