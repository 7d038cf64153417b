"""The patient report's sentences: the headline on the course of care, its dates, and attendance."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from .words import (
    PATIENT_NATURAL_RECOVERY,
    UNAVAILABLE,
    Headline,
    Paragraph,
    as_rule,
    format_date,
    format_pct,
    format_points,
    is_missing,
    label,
)

__all__ = ["attendance_sentence", "episode_period", "episode_subtitle", "patient_headline"]


def _sessions(n) -> str:
    n = 0 if is_missing(n) else int(n)
    return f"{n:,} session" + ("" if n == 1 else "s")


def _pct_near(pct: float, threshold: float) -> str:
    """Percent reduction as text, never rounded across the rule's threshold (29.6 -> "29.6%" against 30)."""
    text = format_pct(pct)
    if (pct < threshold) != (float(text[:-1]) < threshold):
        text = format_pct(math.floor(pct * 10) / 10, decimals=1)
    return text


def _episode(episode_row) -> pd.Series:
    if isinstance(episode_row, pd.DataFrame):
        if len(episode_row) != 1:
            raise ValueError(f"`episode_row` must be one episode, got a frame of {len(episode_row)} rows")
        return episode_row.iloc[0]
    if isinstance(episode_row, pd.Series):
        return episode_row
    if isinstance(episode_row, Mapping):
        return pd.Series(dict(episode_row))
    raise ValueError(f"`episode_row` must be a row of the episodes table, got {type(episode_row).__name__!r}")


def patient_headline(episode_row, *, rule) -> Headline:
    """One or two sentences on how the patient's pain changed over the course of care.

    Parameters
    ----------
    episode_row : Series, one-row DataFrame or dict
        A row of ``PatientData.episodes``: ``baseline``, ``latest``,
        ``n_sessions``, ``reduction``, ``pct_reduction``, ``assessment``
        (from :func:`~needling_analytics.metrics.episode_pain`), and
        ``reached``, ``reached_after_sessions`` (first session at which the
        rule was met; from :func:`~needling_analytics.metrics.time_to_response`).
    rule : ResponderRule
        The rule the cache used.

    Returns
    -------
    Headline
        A :class:`Paragraph` shown in bold. For example "Pain went from 7 to 3 over 5 sessions, a 57% reduction:
        a clinically important improvement, first reached at session 3. Part of this change may have come anyway: ..."
        Variants: no pain score, no follow-up score yet, a starting score too
        low to measure a clinically important change, improved but not by
        enough, no change, worse, and reached once but risen again since.
    """
    row, rule = _episode(episode_row), as_rule(rule)
    baseline, latest = row.get("baseline"), row.get("latest")
    n = row.get("n_sessions")
    assessment = "" if is_missing(row.get("assessment")) else str(row.get("assessment"))
    reached_at = row.get("reached_after_sessions")
    reached = not is_missing(row.get("reached")) and bool(row.get("reached")) and not is_missing(reached_at)
    b, latest_text, over = format_points(baseline), format_points(latest), _sessions(n)

    if assessment == "no_baseline" or is_missing(baseline):
        return Headline(
            f"No pain scores have been recorded in this course of care yet ({over} attended), "
            "so the change in pain cannot be described."
        )
    if assessment == "no_follow_up" or is_missing(latest):
        return Headline(f"Pain was {b} at the first session; there is no follow-up score yet to compare it with.")
    if assessment == "baseline_too_low":
        return Headline(
            f"Pain started at {b}, too low to measure a clinically important change "
            f"({rule.describe()}); the latest score is {latest_text}, over {over}."
        )
    reduction = float(row.get("reduction", float(baseline) - float(latest)))
    pct = row.get("pct_reduction")
    pct = 100.0 * reduction / float(baseline) if is_missing(pct) else float(pct)
    went = f"Pain went from {b} to {latest_text} over {over}"
    if assessment == "responder":
        first = f", first reached at session {int(reached_at)}" if reached else ""
        return Headline(
            f"{went}, a {_pct_near(pct, rule.pct_threshold)} reduction: a clinically important improvement{first}. "
            + PATIENT_NATURAL_RECOVERY
        )
    if reduction > 0:
        change = f"a {_pct_near(pct, rule.pct_threshold)} reduction"
    elif reduction == 0:
        change = "no change overall"
    else:
        change = f"{format_points(-reduction)} points worse ({format_pct(-pct)} higher than at the start)"
    if reached:
        return Headline(
            f"{went}, {change}. Pain fell by a clinically important amount at session {int(reached_at)}, "
            "but has risen again since."
        )
    if reduction > 0:
        return Headline(
            f"{went}, {change}: an improvement, but smaller than a clinically important one ({rule.describe()}). "
            + PATIENT_NATURAL_RECOVERY
        )
    if reduction == 0:
        return Headline(f"Pain was {b} at the first session and is still {latest_text} after {over}: no change.")
    return Headline(f"{went}: {change}.")


def episode_period(episode_row) -> str:
    """The course of care's dates: ``"5 Nov 2025 to 29 Dec 2025"`` or ``"from 5 Nov 2025 (ongoing)"``."""
    row = _episode(episode_row)
    start, end = format_date(row.get("start_date")), format_date(row.get("end_date"))
    return f"{start} to {end}" if end else f"from {start} (ongoing)"


def episode_subtitle(patient_id: str, episode_row) -> str:
    """``"Patient P0001 · low back (acute lumbago) · 5 Nov 2025 to 29 Dec 2025"``."""
    row = _episode(episode_row)
    region = label(row.get("body_region")) or "region not recorded"
    condition = "" if is_missing(row.get("condition")) else f" ({row.get('condition')})"
    return f"Patient {patient_id} · {region}{condition} · {episode_period(row)}"


def attendance_sentence(episode_row) -> Paragraph:
    """``"8 sessions booked: 7 attended, 1 cancelled and 0 missed."`` plus how the course ended.

    Appointments not marked (status ``unmarked``) and still to come (status
    ``booked``) are named when there are any: ``"..., 0 missed, 1 not
    marked and 2 still to come."``.
    """
    row = _episode(episode_row)
    booked = 0 if is_missing(row.get("booked")) else int(row.get("booked"))
    if booked == 0:
        return Paragraph(UNAVAILABLE["attendance"])
    keys = ("attended", "cancelled", "no_show", "unmarked", "upcoming")
    counts = {k: 0 if is_missing(row.get(k)) else int(row.get(k)) for k in keys}
    parts = [f"{counts['attended']:,} attended", f"{counts['cancelled']:,} cancelled", f"{counts['no_show']:,} missed"]
    if counts["unmarked"]:  # past appointments nobody marked: neither attended nor missed
        parts.append(f"{counts['unmarked']:,} not marked")
    if counts["upcoming"]:
        parts.append(f"{counts['upcoming']:,} still to come")
    text = f"{_sessions(booked)} booked: {', '.join(parts[:-1])} and {parts[-1]}."
    reason = None if is_missing(row.get("discharge_reason")) else str(row.get("discharge_reason"))
    if not is_missing(row.get("end_date")):
        ended = format_date(row.get("end_date"))
        text += {
            "goals_met": f" The course of care ended on {ended} with its goals met.",
            "self_discharged": f" The patient stopped attending; the course of care was closed on {ended}.",
            "referred": f" The patient was referred elsewhere on {ended}.",
        }.get(reason, f" The course of care ended on {ended}.")
    elif not is_missing(row.get("self_discharged")) and bool(row.get("self_discharged")):
        text += " There has been no visit for a month or more, so the course of care counts as stopped."
    return Paragraph(text)
