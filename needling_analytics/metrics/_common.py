"""Helpers shared by the metric families: attended sessions in order, intervals, option checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..clinic import Clinic


def positions(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each of ``values`` in ``keys`` (-1 when absent or missing).

    One hash pass in Arrow: fast on the long ID columns of a clinic network.
    """
    found = pc.index_in(
        pa.array(values, type=pa.string(), from_pandas=True),
        value_set=pa.array(keys, type=pa.string(), from_pandas=True),
    )
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def attended_sessions(clinic: Clinic, *, with_episode_row: bool = False) -> pd.DataFrame:
    """Attended sessions in episode order, with their place in the episode.

    Sessions are ordered within an episode by date, then time, then ID, so
    two sessions on one day get a stable order whatever the row order of
    the input.

    Parameters
    ----------
    with_episode_row : bool
        Add ``episode_row``, the position of the session's episode in
        ``clinic.episodes`` (at least ``len(clinic.episodes)`` when the
        episode is not in the table), for fast grouping.

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
    attended = np.flatnonzero((sessions["status"] == "attended").to_numpy())
    out = sessions[columns]
    row = positions(out["episode_id"].iloc[attended], clinic.episodes["episode_id"])
    unknown = row < 0
    if unknown.any():  # sessions of episodes not in the table still group by their own ID
        row[unknown] = len(clinic.episodes) + pd.factorize(out["episode_id"].to_numpy()[attended][unknown])[0]
    time_codes, _ = pd.factorize(out["session_time"].iloc[attended], sort=True, use_na_sentinel=True)
    time_codes = np.where(time_codes < 0, np.iinfo(np.int64).max, time_codes)
    dates = out["session_date"].to_numpy(dtype="datetime64[ns]")[attended].view("int64")
    order = np.lexsort((time_codes, dates, row))
    keys = pd.DataFrame({"row": row[order], "date": dates[order], "time": time_codes[order]})
    if keys.duplicated().any():  # same episode, day and time: break the tie by session ID
        ids = pd.factorize(out["session_id"].iloc[attended], sort=True)[0]
        order = np.lexsort((ids, time_codes, dates, row))
    out = out.iloc[attended[order]].drop(columns="session_time").reset_index(drop=True)
    row = row[order]
    start = clinic.episodes["start_date"].to_numpy(dtype="datetime64[ns]")
    known = row < len(start)
    out["start_date"] = np.where(
        known, start[np.where(known, row, 0)] if len(start) else np.datetime64("NaT", "ns"), np.datetime64("NaT", "ns")
    )
    boundaries = np.r_[True, row[1:] != row[:-1]] if len(row) else np.array([], dtype=bool)
    first_of_group = (
        np.maximum.accumulate(np.where(boundaries, np.arange(len(row)), 0))
        if len(row)
        else np.array([], dtype=np.int64)
    )
    out["session_number"] = (np.arange(len(row)) - first_of_group + 1).astype("int64")
    out["days_since_start"] = (out["session_date"] - out["start_date"]).dt.days.astype("float64")
    out["weeks_since_start"] = out["days_since_start"] / 7.0
    if with_episode_row:
        out["episode_row"] = row
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
    from scipy import stats  # imported here: scipy.stats costs about a second to import

    events = np.asarray(events, dtype=float)
    trials = np.asarray(trials, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(events > 0, stats.beta.ppf(alpha / 2, events, trials - events + 1), 0.0)
        upper = np.where(events < trials, stats.beta.ppf(1 - alpha / 2, events + 1, trials - events), 1.0)
    empty = trials <= 0
    return np.where(empty, np.nan, lower), np.where(empty, np.nan, upper)


def check_confidence(confidence) -> None:
    if not (isinstance(confidence, int | float) and 0 < confidence < 1):
        raise ValueError(f"`confidence` must be a fraction between 0 and 1 (0.95 means 95%), got {confidence!r}")
