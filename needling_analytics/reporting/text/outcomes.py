"""The clinic report's outcome sentences: the responder rate, missing follow-ups, time to improvement, devices."""

from __future__ import annotations

import pandas as pd

from .words import (
    NATURAL_RECOVERY,
    UNAVAILABLE,
    Paragraph,
    as_rule,
    format_count,
    format_pct,
    is_missing,
    label,
    smallest_shown,
)

__all__ = ["median_sentence", "responder_summary", "rom_device_note", "sensitivity_sentence"]


def responder_summary(
    summary: pd.DataFrame, *, rule, min_cell_size: int | None = 11, ongoing: int | None = None
) -> Paragraph:
    """The clinic's responder rate and its 95% interval in words.

    ``summary`` is the one-row output of
    :func:`~needling_analytics.metrics.summarize_responders`. Counts from 1
    to ``min_cell_size - 1`` are written "fewer than 11" (CMS small-cell rule;
    None shows every count). The total number of episodes is not given, so
    that the number not assessed cannot be worked out by subtraction.

    ``ongoing`` (the clinic report passes it): the summary covers courses of
    care that have ended only, and this many courses still under way were
    left out; the text says both in plain words. None: the summary's cohort
    is not stated.
    """
    row, rule = summary.iloc[0], as_rule(rule)
    assessable, responders = int(row["assessable"]), int(row["responders"])
    limit = smallest_shown(min_cell_size) or 0
    still = ""
    if ongoing:
        still = (
            f" {format_count(ongoing, min_cell_size=min_cell_size).capitalize()} course{'s' if ongoing != 1 else ''} of care "
            f"still under way {'are' if ongoing != 1 else 'is'} not counted: a result so far is not the final one."
        )
    if assessable == 0:
        return Paragraph(UNAVAILABLE["outcomes"] + still)
    kind = "that have ended and could be assessed" if ongoing is not None else "that could be assessed"
    count = format_count(assessable, min_cell_size=min_cell_size)
    courses = f"Of {count if count.startswith('about') else 'the ' + count} courses of care {kind}, "
    reached = f"reached a clinically important improvement ({rule.describe()})."
    if assessable < limit:
        ended = " that have ended" if ongoing is not None else ""
        text = f"Only {format_count(assessable, min_cell_size=min_cell_size)} courses of care{ended} could be assessed: too few to give a rate."
    elif 0 < responders < limit:
        text = courses + f"fewer than {limit} " + reached
    elif 0 < assessable - responders < limit:
        text = courses + f"all but fewer than {limit} " + reached
    else:
        text = (
            courses
            + f"{format_count(responders, min_cell_size=min_cell_size)} ({format_pct(row['responder_rate'], share=True)}) "
            + reached
            + " Allowing for chance, the clinic's underlying rate is likely between "
            f"{format_pct(row['ci_lower'], share=True)} and {format_pct(row['ci_upper'], share=True)} "
            "(95% confidence interval)."
        )
    left_out = int(row["no_baseline"] + row["no_follow_up"] + row["baseline_too_low"])
    if left_out:
        text += (
            f" {format_count(left_out, min_cell_size=min_cell_size).capitalize()} more could not be assessed: they had no "
            "follow-up pain score yet, or started too low to show a clinically important change."
        )
    if assessable >= limit:
        text += " " + NATURAL_RECOVERY
    return Paragraph(text + still)


def sensitivity_sentence(sensitivity: pd.DataFrame, *, min_cell_size: int | None = 11) -> Paragraph:
    """One plain sentence under the table of :func:`~needling_analytics.metrics.responder_sensitivity`.

    Says how many courses lack a follow-up score (counts from 1 to
    ``min_cell_size - 1`` written "fewer than 11") and how many of them stopped
    coming (self-discharged, as in the attendance section), what the three
    rows mean, and why the weighted rate is missing when it is.
    """
    missing = int(sensitivity.attrs.get("no_follow_up", 0))
    if missing == 0:
        return Paragraph("Every course of care counted here has a follow-up pain score, so the three ways agree.")
    gone = sensitivity.attrs.get("no_follow_up_self_discharged")
    stopped = ""
    if gone is not None:
        stopped = f", {format_count(int(gone), min_cell_size=min_cell_size)} of them after the patient stopped coming"
    weighted = sensitivity[sensitivity["method"] == "weighted"]
    note = "" if not len(weighted) or is_missing(weighted["note"].iloc[0]) else str(weighted["note"].iloc[0])
    used = note.split(" (")[0]
    like = {
        "weights from baseline, body_region": " (same starting pain and body region)",
        "weights from baseline": " (same starting pain)",
        "weights from body_region": " (same body region)",
    }.get(used, "")
    text = (
        f"{format_count(missing, min_cell_size=min_cell_size).capitalize()} course{'s' if missing != 1 else ''} of care "
        f"had no follow-up pain score{stopped}; those patients may have done better or worse than the rest, so the "
        "share improved is shown three ways: among courses with a follow-up score, counting every course without "
        "one as not improved (the worst case), and giving more weight to followed-up courses that look like the "
        f"missing ones{like}."
    )
    if len(weighted) and is_missing(weighted["rate"].iloc[0]):
        text += " The weighted share could not be worked out from these data."
    return Paragraph(text)


def median_sentence(median: pd.DataFrame) -> Paragraph:
    """Median time to a clinically important improvement in words (``median_time(..., time="days")``, one row)."""
    row = median.iloc[0] if len(median) else None
    if row is None or int(row["subjects"]) == 0:
        return Paragraph(UNAVAILABLE["time_to_response"])
    if is_missing(row["median"]):
        return Paragraph(
            "Fewer than half of the assessed courses of care have reached a clinically important improvement so far, "
            "so the typical time to get there cannot be given yet."
        )
    days = float(row["median"])
    text = (
        f"An estimated half of the assessed courses of care had reached a clinically important improvement by day "
        f"{days:,.0f} (about {days / 7:,.0f} weeks) after their first visit"
    )
    if not is_missing(row["ci_lower"]) and not is_missing(row["ci_upper"]):
        text += f"; allowing for chance, somewhere between {row['ci_lower']:,.0f} and {row['ci_upper']:,.0f} days"
    return Paragraph(text + ".")


def rom_device_note(rom: pd.DataFrame, *, min_cell_size: int | None = None) -> Paragraph:
    """Footnote on range-of-motion readings with no device recorded; empty when every reading has one.

    ``rom`` is :func:`~needling_analytics.metrics.rom_change` (or rows of
    it): ``no_device_readings`` and ``mdc_device`` are used. Readings with no
    device are compared with one another against the measurement error of
    the clinic's commonest device for the joint and movement: "3 readings
    had no device recorded; their changes are judged against the
    measurement error of crom." With ``min_cell_size`` (aggregate reports), a
    count from 1 to ``min_cell_size - 1`` is written "Fewer than 11".
    """
    if rom is None or "no_device_readings" not in rom or rom.empty:
        return Paragraph("")
    missing = int(pd.to_numeric(rom["no_device_readings"], errors="coerce").fillna(0).sum())
    if not missing:
        return Paragraph("")
    devices = sorted({str(d) for d in rom["mdc_device"].dropna()}) if "mdc_device" in rom else []
    min_cell_size = smallest_shown(min_cell_size)  # a Disclosure: None for the owner
    small = min_cell_size is not None and 0 < missing < min_cell_size
    count = f"Fewer than {min_cell_size}" if small else f"{missing:,}"
    had = "reading had" if missing == 1 and not small else "readings had"
    its = "its change is" if missing == 1 and not small else "their changes are"
    if devices:
        names = " or ".join(label(d) for d in devices)
        judged = f"the measurement error of {names} (the device used most for that movement in this clinic)"
    else:
        judged = "the measurement error of an unknown device, the most cautious value"
    return Paragraph(f"{count} {had} no device recorded; {its} judged against {judged}.")
