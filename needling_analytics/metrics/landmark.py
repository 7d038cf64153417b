"""Session frequency and the landmark cohort: how often each course was treated early, and its pain later.

The comparison of frequency with improvement uses a **landmark design**
(DOMAIN.md, "Outcomes at a fixed time"): the exposure is counted over days
0-27 only among courses still in care at day 28, and the outcome is the
pain reading nearest day 56 within days 42-70, after the exposure window. A
course that ended early (often a fast recoverer) is not counted as "low
frequency", and the outcome is read at the same time for every course
instead of at a last visit that itself depends on how often the patient
came. The analysis itself is in :mod:`.frequency`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ._common import attended_sessions
from .attendance import attendance
from .pain import pain_readings

#: Days over which early frequency is measured; the landmark (day 28) is its end.
EARLY_DAYS = 28
#: Day (since the episode start) at which the outcome is read: week 8.
OUTCOME_DAY = 56
#: Half-width of the outcome window in days: readings from day 42 to day 70 (week 8 plus or minus 2 weeks).
OUTCOME_HALF_WIDTH = 14
#: Frequency bands (sessions per week in the first 28 days): edges and labels.
BAND_EDGES = (0.0, 1.0, 2.0, np.inf)
BAND_LABELS = ("under 1 a week", "1 to 2 a week", "2 or more a week")


def session_exposures(clinic: Clinic, *, early_days: int = EARLY_DAYS) -> pd.DataFrame:
    """How often each episode was treated.

    ``early_frequency`` is attended sessions in the first ``early_days``
    days (day 0 is the episode start) per week. It is missing for an
    episode still running that started fewer than ``early_days`` days
    before the as-of date (its window is not complete); an episode that
    ended sooner counts its sessions over the full window.

    Returns
    -------
    DataFrame
        One row per episode: ``episode_id``, ``patient_id``,
        ``total_sessions`` (attended), ``early_sessions`` (attended in the
        window), ``early_frequency`` (sessions per week),
        ``mean_interval_days`` (mean days between consecutive attended
        sessions: (last - first) / (n - 1); missing with fewer than 2),
        ``frequency_band`` (ordered category: under 1, 1 to 2, 2 or more a
        week).
    """
    sessions = attended_sessions(clinic)
    episodes = clinic.episodes[["episode_id", "patient_id", "start_date", "end_date"]]
    grouped = sessions.groupby("episode_id", sort=False)
    early = sessions[sessions["days_since_start"] < early_days].groupby("episode_id", sort=False).size()
    span = (grouped["session_date"].max() - grouped["session_date"].min()).dt.days
    key = episodes["episode_id"].to_numpy()
    out = episodes[["episode_id", "patient_id"]].copy()
    out["total_sessions"] = grouped.size().reindex(key).fillna(0).astype("int64").to_numpy()
    out["early_sessions"] = early.reindex(key).fillna(0).astype("int64").to_numpy()
    window_complete = episodes["end_date"].notna() | (
        episodes["start_date"] + pd.Timedelta(days=early_days) <= clinic.as_of
    )
    out["early_frequency"] = (out["early_sessions"] / (early_days / 7.0)).where(window_complete.to_numpy())
    n = out["total_sessions"].to_numpy()
    out["mean_interval_days"] = np.where(n >= 2, span.reindex(key).to_numpy(dtype=float) / np.maximum(n - 1, 1), np.nan)
    out["frequency_band"] = pd.cut(out["early_frequency"], BAND_EDGES, right=False, labels=list(BAND_LABELS))
    return out.reset_index(drop=True)


def landmark_outcomes(
    clinic: Clinic,
    *,
    landmark_day: int = EARLY_DAYS,
    outcome_day: int = OUTCOME_DAY,
    half_width: int = OUTCOME_HALF_WIDTH,
) -> pd.DataFrame:
    """Who is in the landmark cohort, and each course's pain at a fixed later time.

    A course is *in care at the landmark* when ``landmark_day`` days have
    passed since its start by the as-of date and it had not left care
    before then. It left care on its recorded end date or, when still open
    but counted as self-discharged for inactivity by
    :func:`~needling_analytics.metrics.attendance` (the report's one
    definition), on its last attended visit (its start when none). The
    *outcome* is the pain reading (:func:`pain_readings`: session
    ``pain_pre`` and follow-up assessments, never the baseline reading)
    nearest ``outcome_day`` among those from ``outcome_day - half_width``
    to ``outcome_day + half_width`` days after the start (ties: the earlier
    day, then reading order). It is *due* once that window is over by the
    as-of date; an outcome not yet due is not used, since a later reading
    may still come nearer the target.

    Raises
    ------
    ValueError
        When the outcome window starts before the landmark: the outcome must
        be measured after the exposure window, never inside it.

    Returns
    -------
    DataFrame
        One row per episode of ``clinic.episodes``, in its order:
        ``episode_id``, ``patient_id``, ``left_care_day`` (days from the
        start to leaving care; NaN while in care), ``in_care_at_landmark``
        (bool), ``outcome_due`` (bool), ``outcome_pain`` (NPRS points; NaN
        without a reading in the window), ``outcome_days`` (days since the
        start of that reading), ``self_discharged`` (bool, as
        :func:`~needling_analytics.metrics.attendance`). ``attrs`` records
        ``landmark_day``, ``outcome_day`` and ``outcome_window`` (first and
        last day).
    """
    low, high = outcome_day - half_width, outcome_day + half_width
    if half_width < 0 or low < landmark_day:
        raise ValueError(
            f"the outcome window (days {low} to {high}) must start on or after the landmark (day {landmark_day}): "
            "the outcome is measured after the exposure window, never inside it"
        )
    episodes = clinic.episodes
    as_of = np.datetime64(pd.Timestamp(clinic.as_of).normalize(), "ns")
    stays = attendance(clinic)  # one row per episode, in the order of clinic.episodes
    start = episodes["start_date"].to_numpy(dtype="datetime64[ns]")
    end = episodes["end_date"].to_numpy(dtype="datetime64[ns]")
    last = stays["last_attended"].to_numpy(dtype="datetime64[ns]")
    inactive = (stays["self_discharge_source"] == "inactive").fillna(False).to_numpy(dtype=bool)
    stopped = np.where(np.isnat(last), start, last)
    left = np.where(~np.isnat(end), end, np.where(inactive, stopped, np.datetime64("NaT", "ns")))
    left_day = (left - start) / np.timedelta64(1, "D")
    day = np.timedelta64(1, "D")
    reached = ~np.isnat(start) & (start + landmark_day * day <= as_of)

    out = episodes[["episode_id", "patient_id"]].copy().reset_index(drop=True)
    out["left_care_day"] = left_day.astype("float64")
    out["in_care_at_landmark"] = reached & ~(left_day < landmark_day)
    out["outcome_due"] = ~np.isnat(start) & (start + high * day <= as_of)

    readings = pain_readings(clinic)
    days = readings["days_since_start"]
    window = readings[readings["follow_up"].to_numpy(dtype=bool) & days.between(low, high).to_numpy()]
    window = window.assign(_distance=(window["days_since_start"] - outcome_day).abs(), _order=np.arange(len(window)))
    nearest = window.sort_values(["episode_row", "_distance", "days_since_start", "_order"]).drop_duplicates(
        "episode_row"
    )
    rows = nearest["episode_row"].to_numpy(dtype="int64")
    pain = np.full(len(out), np.nan)
    when = np.full(len(out), np.nan)
    pain[rows] = nearest["pain"].to_numpy(dtype=float)
    when[rows] = nearest["days_since_start"].to_numpy(dtype=float)
    out["outcome_pain"] = pain
    out["outcome_days"] = when
    out["self_discharged"] = stays["self_discharged"].to_numpy(dtype=bool)
    out.attrs = {"landmark_day": landmark_day, "outcome_day": outcome_day, "outcome_window": (low, high)}
    return out
