"""Helpers shared by the metric families: attended sessions in order, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def attended_sessions(clinic) -> pd.DataFrame:
    """Attended sessions in episode order, with their place in the episode.

    Sessions are ordered within an episode by date, then time, then ID, so
    two sessions on one day get a stable order.

    Returns
    -------
    DataFrame
        One row per attended session: ``session_id``, ``episode_id``,
        ``patient_id``, ``practitioner_id``, ``session_date``, ``pain_pre``,
        ``pain_post``, ``needles``, ``start_date`` (of the episode),
        ``session_number`` (1 for the first attended session of the
        episode), ``days_since_start`` and ``weeks_since_start`` (from the
        episode's start date).
    """
    sessions = clinic.sessions
    columns = [
        "session_id",
        "episode_id",
        "patient_id",
        "practitioner_id",
        "session_date",
        "session_time",
        "pain_pre",
        "pain_post",
        "needles",
    ]
    out = sessions.loc[sessions["status"] == "attended", columns]
    out = out.merge(clinic.episodes[["episode_id", "start_date"]], on="episode_id", how="left")
    out = out.sort_values(
        ["episode_id", "session_date", "session_time", "session_id"], na_position="last", kind="stable"
    )
    out = out.drop(columns="session_time").reset_index(drop=True)
    out["session_number"] = out.groupby("episode_id", sort=False).cumcount().astype("int64") + 1
    out["days_since_start"] = (out["session_date"] - out["start_date"]).dt.days.astype("float64")
    out["weeks_since_start"] = out["days_since_start"] / 7.0
    return out


def clopper_pearson(events, trials, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) confidence interval of a proportion.

    With zero events the upper bound is ``1 - (alpha/2) ** (1/n)``, close to
    the "rule of three" (3/n) for a one-sided 95% bound. Where ``trials`` is
    0 both bounds are NaN.

    Returns
    -------
    lower, upper : arrays of proportions in [0, 1]
    """
    events = np.asarray(events, dtype=float)
    trials = np.asarray(trials, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(events > 0, stats.beta.ppf(alpha / 2, events, trials - events + 1), 0.0)
        upper = np.where(events < trials, stats.beta.ppf(1 - alpha / 2, events + 1, trials - events), 1.0)
    empty = trials <= 0
    return np.where(empty, np.nan, lower), np.where(empty, np.nan, upper)
