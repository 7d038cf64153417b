"""The clinic report's outcome, attendance and safety tables, small counts suppressed.

Each function turns a metric's output into the table the report shows
(text cells, see
:func:`~needling_analytics.reporting.suppression.suppress_small_counts`):
:func:`responders_by`, :func:`responder_sensitivity_table`,
:func:`attendance_table`, :func:`rom_summary`, :func:`prom_summary`,
:func:`adverse_event_table`. The month's tables are :mod:`.monthly`, the
funnel plot's :mod:`.funnel`.
"""

from __future__ import annotations

import pandas as pd

from .. import metrics
from ..privacy.suppression import COMPLEMENT, Disclosure, check_min_cell_size
from .suppression import suppress_small_counts
from .text import label

__all__ = [
    "SENSITIVITY_METHODS",
    "adverse_event_table",
    "attendance_table",
    "prom_summary",
    "responder_sensitivity_table",
    "responders_by",
    "rom_summary",
]


def responders_by(
    outcomes: pd.DataFrame, by: str, *, min_cell_size: int | Disclosure = 11, total_label: str = "all"
) -> pd.DataFrame:
    """Responder rates by a subgroup (body region, practitioner...), with an overall row, small counts suppressed.

    ``outcomes`` is :func:`~needling_analytics.cohort.episode_outcomes` (or
    :func:`metrics.episode_pain` with the ``by`` column). Rates and their exact 95% intervals come from
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
        min_cell_size=min_cell_size,
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


def responder_sensitivity_table(sensitivity: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
    """The three responder rates of :func:`~needling_analytics.metrics.responder_sensitivity`, small counts hidden.

    In each row the counted courses are the improved plus the others;
    a count from 1 to ``min_cell_size - 1`` is hidden with its complement and
    the row's rate and interval. When the courses without a follow-up score
    number 1 to ``min_cell_size - 1`` the worst-case row is hidden (``"*"``):
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
        min_cell_size=min_cell_size,
        totals={"assessed": ["improved", "others"]},
        rate_columns={c: ["assessed", "improved", "others"] for c in ("rate", "ci_lower", "ci_upper")},
        rate_format="{:.0%}",
    )
    missing = int(sensitivity.attrs.get("no_follow_up", 0))
    if 0 < missing < check_min_cell_size(min_cell_size):
        worst = (sensitivity["method"] == "worst_case").to_numpy()
        hidden.loc[worst, ["assessed", "improved", "rate", "ci_lower", "ci_upper"]] = COMPLEMENT
    hidden["method"] = sensitivity["method"].map(SENSITIVITY_METHODS).fillna(sensitivity["method"])
    out = hidden[["method", "assessed", "improved", "rate", "ci_lower", "ci_upper"]]
    out.attrs.update(sensitivity.attrs)
    return out


def attendance_table(visits: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
    """The clinic's attendance and self-discharge in one row, small counts suppressed.

    ``visits`` is :func:`~needling_analytics.metrics.attendance`, or
    :func:`~needling_analytics.cohort.episode_outcomes` of every course
    (which holds its columns: the clinic report passes the outcomes it has
    already computed); the figures are
    :func:`~needling_analytics.metrics.summarize_attendance`.

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
        min_cell_size=min_cell_size,
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


def rom_summary(rom: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
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
        table, ["series", *parts], min_cell_size=min_cell_size, totals={"series": parts}, total_row=len(table) - 1
    )
    return hidden


def prom_summary(changes: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
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
        min_cell_size=min_cell_size,
        totals={"episodes": ["with_follow_up", "no_follow_up"], "assessable": ["reached_mcid", "not_reached"]},
        rate_columns={**shares, "mean_improvement": ["with_follow_up"], "median_improvement": ["with_follow_up"]},
        rate_format={**dict.fromkeys(shares, "{:.0%}"), "mean_improvement": "{:.1f}", "median_improvement": "{:.1f}"},
        bands={"share_reached_mcid": (["reached_mcid"], ["not_reached"])},
    )
    columns = ["instrument", "episodes", "with_follow_up", "mean_improvement", "median_improvement", "assessable"]
    return hidden[[*columns, "reached_mcid", "share_reached_mcid", "ci_lower", "ci_upper"]]


def adverse_event_table(comparison: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
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
        min_cell_size=min_cell_size,
        rate_columns={c: ["events"] for c in ("rate_per_100", "ci_lower", "ci_upper")},
        rate_format="{:.2f}",
    )
    blocked = hidden["rate_per_100"].eq(COMPLEMENT)
    hidden["comparison"] = hidden["comparison"].astype(object).where(~blocked, COMPLEMENT)
    columns = ["event_type", "severity", "events", "rate_per_100", "ci_lower", "ci_upper", "study"]
    return hidden[[*columns, "benchmark_rate_per_100", "comparison"]].reset_index(drop=True)
