"""Cohort selection: which courses of care an analysis or a report counts, and their course-level outcomes.

Analysis transforms that researchers use outside the reports as much as the
reports do; each takes a :class:`~needling_analytics.load.Clinic` and returns
a new clinic or a tidy frame (never mutating its input):

- a clinic restricted: :func:`restrict_clinic` (to given episodes),
  :func:`clinic_window` (as it stood at the end of a month, with the courses
  started in the months up to it), :func:`select_cohort` (a research cohort
  by body region, start date, practitioner and first pain score);
- frames: :func:`episode_outcomes` (every course's pain outcome with its
  details, attendance and practitioner), :func:`ended_courses` (the rows of
  courses that have ended), :func:`outcome_series` (one outcome over time,
  for :func:`~needling_analytics.metrics.fit_trajectory`).

This layer sits between the metrics and the reports: it imports the metrics,
never plots or reporting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import metrics
from .clinic import Clinic
from .periods import parse_month

__all__ = [
    "clinic_until",
    "clinic_window",
    "ended_courses",
    "episode_outcomes",
    "outcome_series",
    "restrict_clinic",
    "select_cohort",
]


def restrict_clinic(clinic: Clinic, episode_ids) -> Clinic:
    """The clinic with only the given episodes, their patients, sessions, measurements and events.

    Journals are kept for the patients kept. The quality report, as-of
    date and supplied tables are those of ``clinic``.
    """
    keep = pd.Index(pd.Series(list(episode_ids), dtype="string").dropna().unique())
    t = clinic.tables
    episodes = t["episodes"][t["episodes"]["episode_id"].isin(keep)]
    patients = pd.Index(episodes["patient_id"].dropna().unique())
    tables = dict(t)
    tables["episodes"] = episodes.reset_index(drop=True)
    for name in ("sessions", "rom", "proms"):
        tables[name] = t[name][t[name]["episode_id"].isin(keep)].reset_index(drop=True)
    tables["adverse_events"] = t["adverse_events"][
        t["adverse_events"]["session_id"].isin(tables["sessions"]["session_id"])
    ].reset_index(drop=True)
    tables["patients"] = t["patients"][t["patients"]["patient_id"].isin(patients)].reset_index(drop=True)
    tables["journal"] = t["journal"][t["journal"]["patient_id"].isin(patients)].reset_index(drop=True)
    return dataclasses.replace(clinic, tables=tables)


#: The tables cut by :func:`clinic_until`, with the column dating each row.
DATED_TABLES = (
    ("sessions", "session_date"),
    ("rom", "measured_on"),
    ("proms", "completed_on"),
    ("journal", "entry_date"),
    ("episodes", "start_date"),
)


def clinic_until(clinic: Clinic, day) -> Clinic:
    """The clinic as it stood at the end of ``day``, as if a report had been made that day.

    Sessions, measurements, questionnaires, journal entries and courses of
    care dated after ``day`` are removed, with the adverse events of removed
    sessions; a discharge after ``day`` becomes "ongoing" again. The as-of
    date becomes ``day`` (or stays earlier). Compare the tables' lengths
    with ``clinic``'s to count what went.
    """
    end = pd.Timestamp(day).normalize()
    t = dict(clinic.tables)
    for name, column in DATED_TABLES:
        t[name] = t[name][~(t[name][column] > end)].reset_index(drop=True)
    episodes = t["episodes"].copy()
    later = episodes["end_date"] > end
    episodes.loc[later, "end_date"] = pd.NaT
    episodes.loc[later, "discharge_reason"] = np.nan
    t["episodes"] = episodes
    events = t["adverse_events"]
    t["adverse_events"] = events[events["session_id"].isin(t["sessions"]["session_id"])].reset_index(drop=True)
    return dataclasses.replace(clinic, tables=t, as_of=min(clinic.as_of, end))


def clinic_window(clinic: Clinic, month, *, months: int = 12) -> Clinic:
    """The clinic as it stood at the end of ``month``, with the episodes started in the ``months`` up to it.

    Everything dated after the month's last day is removed (sessions,
    measurements, questionnaires, journal entries; a later discharge
    becomes "ongoing"), as if the report had been run that day, and only
    episodes whose start date falls in the window are kept. The as-of date
    becomes the month's last day (or stays earlier).

    Raises
    ------
    ValueError
        When no episode started in the window (the metrics need at least one).
    """
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise ValueError(f"`months` must be a whole number of months, 1 or more, got {months!r}")
    period = parse_month(month)
    end = period.end_time.normalize()
    start = (period - (months - 1)).start_time
    cut = clinic_until(clinic, end)
    episodes = cut.episodes
    started = episodes["start_date"].between(start, end)
    if not started.any():
        every = clinic.episodes["start_date"]  # the message describes the whole clinic, not the cut one
        raise ValueError(
            f"`month` {str(period)!r}: no course of care started between {start:%Y-%m-%d} and {end:%Y-%m-%d}; "
            f"the clinic's episodes start from {every.min():%Y-%m-%d} to {every.max():%Y-%m-%d}"
            if len(every)
            else f"`month` {str(period)!r}: the clinic has no episodes"
        )
    return restrict_clinic(cut, episodes.loc[started, "episode_id"])


def episode_outcomes(
    clinic: Clinic, *, rule: metrics.ResponderRule = metrics.DEFAULT_RULE, courses: str = "all"
) -> pd.DataFrame:
    """Every episode's pain outcome with its details, attendance and practitioner, for subgroup tables.

    ``courses="ended"`` keeps only the courses of care that have ended
    (``end_date`` set), as every clinic-level outcome rate must: an ongoing
    course scored at its latest visit so far is an interim result (DOMAIN.md,
    "Interim is not final"). ``attrs["ongoing_courses"]`` then counts the
    courses left out. ``"all"`` (default, for research cohorts) keeps every
    episode; :func:`ended_courses` of it is the same as ``courses="ended"``,
    so a report that needs both computes the outcomes once.

    Returns
    -------
    DataFrame
        The columns of :func:`~needling_analytics.metrics.episode_pain`, then
        ``start_date``, ``end_date``, ``body_region``, ``condition``,
        ``symptom_duration_weeks``, ``discharge_reason`` (episodes table),
        ``booked``, ``attended``, ``cancelled``, ``no_show``, ``unmarked``,
        ``upcoming``, ``self_discharged``, ``has_follow_up_pain`` (:func:`metrics.attendance`)
        and ``practitioner_id`` (:func:`metrics.attribute_episodes`; missing
        when no practitioner is recorded). ``attrs``: ``responder_rule``,
        ``courses`` (``"all"`` or ``"ended"``) and ``ongoing_courses``.
    """
    if courses not in ("ended", "all"):
        raise ValueError(
            f"`courses` must be 'ended' (courses of care that have ended) or 'all' (ongoing ones too), got {courses!r}"
        )
    pain = metrics.episode_pain(clinic, rule=rule)
    details = clinic.episodes[
        [
            "episode_id",
            "start_date",
            "end_date",
            "body_region",
            "condition",
            "symptom_duration_weeks",
            "discharge_reason",
        ]
    ]
    visits = metrics.attendance(clinic)[
        [
            "episode_id",
            "booked",
            "attended",
            "cancelled",
            "no_show",
            "unmarked",
            "upcoming",
            "self_discharged",
            "has_follow_up_pain",
        ]
    ]
    who = metrics.attribute_episodes(clinic)[["episode_id", "practitioner_id"]]
    out = pain.merge(details, on="episode_id", how="left").merge(visits, on="episode_id", how="left")
    out = out.merge(who, on="episode_id", how="left")
    out.attrs["responder_rule"] = pain.attrs.get("responder_rule")
    out.attrs["courses"] = "all"
    out.attrs["ongoing_courses"] = 0
    return ended_courses(out, clinic) if courses == "ended" else out


def ended_courses(changes: pd.DataFrame, clinic: Clinic) -> pd.DataFrame:
    """The rows of ``changes`` that belong to courses of care that have ended (an ``end_date`` in ``clinic``).

    For the clinic report's outcome summaries of range of motion and
    questionnaires (:func:`~needling_analytics.metrics.rom_change`,
    :func:`~needling_analytics.metrics.prom_change`: one row per course and
    measure, with ``episode_id``) and for :func:`episode_outcomes` of every
    course: a course still under way shows its change so far, an interim
    result, so it is left out, as from the responder rate (DOMAIN.md,
    "Interim is not final").

    Returns
    -------
    DataFrame
        ``changes``' rows of ended courses, its columns and ``attrs``, plus
        ``attrs["courses"]`` (``"ended"``) and ``attrs["ongoing_courses"]``:
        the courses left out (counted once however many rows they had).
    """
    ended_ids = clinic.episodes.loc[clinic.episodes["end_date"].notna(), "episode_id"]
    keep = changes["episode_id"].isin(ended_ids).to_numpy(dtype=bool)
    out = changes[keep].reset_index(drop=True)
    out.attrs.update(changes.attrs, courses="ended", ongoing_courses=int(changes.loc[~keep, "episode_id"].nunique()))
    return out


def select_cohort(
    clinic: Clinic,
    *,
    rule: metrics.ResponderRule = metrics.DEFAULT_RULE,
    body_regions: Sequence[str] = (),
    start_from: str = "",
    start_to: str = "",
    practitioners: Sequence[str] = (),
    min_baseline: float = 0.0,
    max_baseline: float = 10.0,
) -> Clinic:
    """A research cohort: the clinic restricted to the episodes that pass every filter.

    Empty filters keep everything. ``start_from``/``start_to`` bound the
    episode start date (inclusive, ``YYYY-MM-DD``); ``practitioners`` match
    the practitioner the episode is attributed to (most attended sessions);
    ``min_baseline``/``max_baseline`` bound the first pain score (inclusive).
    Episodes without a pain score are kept only when the baseline range is
    the whole 0-10 scale.
    """
    if not 0 <= min_baseline <= max_baseline <= 10:
        raise ValueError(
            f"`min_baseline` and `max_baseline` must satisfy 0 <= min <= max <= 10, got {min_baseline!r} and {max_baseline!r}"
        )
    outcomes = episode_outcomes(clinic, rule=rule)
    keep = pd.Series(True, index=outcomes.index)
    if body_regions:
        keep &= outcomes["body_region"].astype("string").isin(list(body_regions)).fillna(False)
    if start_from:
        keep &= outcomes["start_date"] >= pd.Timestamp(start_from)
    if start_to:
        keep &= outcomes["start_date"] <= pd.Timestamp(start_to)
    if practitioners:
        keep &= outcomes["practitioner_id"].astype("string").isin(list(practitioners)).fillna(False)
    whole = min_baseline <= 0 and max_baseline >= 10
    keep &= outcomes["baseline"].between(min_baseline, max_baseline) | (outcomes["baseline"].isna() & whole)
    return restrict_clinic(clinic, outcomes.loc[keep, "episode_id"])


def outcome_series(clinic: Clinic, outcome: str = "pain_pre") -> pd.DataFrame:
    """A long table of one outcome over time, for :func:`~needling_analytics.metrics.fit_trajectory`.

    Parameters
    ----------
    outcome : str
        ``"pain_pre"`` (pain before each attended session and at each
        follow-up assessment, NPRS points; subject = episode) or a range-of-motion movement written
        ``"joint:movement"`` (e.g. ``"cervical_spine:rotation"``, degrees;
        subject = one series: episode, side and mode, so left and right are
        not mixed).

    Returns
    -------
    DataFrame
        ``subject``, ``patient_id``, ``episode_id``, ``weeks_since_start``
        (weeks since the episode start), ``value`` (the outcome).
        ``attrs["outcome"]`` (``outcome`` as given, a code: words are the
        reports' business) and ``attrs["unit"]`` describe it.
    """
    columns = ["subject", "patient_id", "episode_id", "weeks_since_start", "value"]
    if outcome == "pain_pre":
        pain = metrics.pain_readings(clinic)  # session pain_pre and follow-up assessments
        out = pain.assign(subject=pain["episode_id"], value=pain["pain"])[columns]
        out.attrs.update(outcome=outcome, unit="points (0-10)")
        return out.reset_index(drop=True)
    joint, _, movement = outcome.partition(":")
    rom = clinic.rom
    if not movement or not ((rom["joint"] == joint) & (rom["movement"] == movement)).any():
        measured = rom[["joint", "movement"]].dropna().drop_duplicates().astype(str)
        choices = ["pain_pre", *sorted(f"{j}:{m}" for j, m in measured.itertuples(index=False))]
        raise ValueError(
            f"`outcome` must be 'pain_pre' or a measured movement 'joint:movement', one of {choices!r}; got {outcome!r}"
        )
    rows = rom[(rom["joint"] == joint) & (rom["movement"] == movement)]
    rows = rows.merge(clinic.episodes[["episode_id", "start_date"]], on="episode_id", how="left")
    subject = rows["episode_id"].astype(str) + "/" + rows["side"].astype(str) + "/" + rows["mode"].astype(str)
    weeks = (rows["measured_on"] - rows["start_date"]).dt.days / 7.0
    out = rows.assign(subject=subject, weeks_since_start=weeks, value=rows["degrees"])[columns]
    out.attrs.update(outcome=outcome, unit="degrees")
    return out.reset_index(drop=True)
