"""The expected-recovery model's data: outcome scale, each course's baseline, case mix and follow-up scores.

Pain: baseline the first session ``pain_pre``, follow-ups the readings
:func:`~.pain.pain_readings` marks ``follow_up`` (later sessions and
follow-up assessments). A PROM: baseline the first score, follow-ups the
scores on later days (as :func:`~.proms.prom_change`). The model is in
:mod:`.recovery`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ..errors import NeedlingAnalyticsError
from ._common import positions
from .case_mix_covariates import UNKNOWN, case_mix_covariates
from .norms import instrument_table
from .pain import pain_readings

#: A level seen in fewer courses is pooled (into ``other``).
MIN_LEVEL_COURSES = 10
POOLED = "other"
#: Values that mean "not recorded": a covariate with nothing else is absent from the data.
NOT_RECORDED = {UNKNOWN, "X or unknown"}
#: Baseline bands of "similar patients", as fractions of the scale: pain 0-3, 4-6, 7-10.
BAND_EDGES = (0.35, 0.65)


class RecoveryModelError(NeedlingAnalyticsError):
    """A prediction was asked of an expected-recovery model that could not be fitted."""


def outcome_scale(outcome: str) -> tuple[str, float, float]:
    """Direction of better and scale bounds of an outcome: pain (NPRS 0-10) or a PROM instrument."""
    if outcome == "pain":
        return "lower", 0.0, 10.0
    table = instrument_table().set_index("instrument")
    if outcome not in table.index or pd.isna(table.loc[outcome, "better"]):
        allowed = ["pain", *[i for i in table.index if pd.notna(table.loc[i, "better"])]]
        raise ValueError(f"`outcome` must be one of {allowed}, got {outcome!r}")
    row = table.loc[outcome]
    return str(row["better"]), float(row["scale_min"]), float(row["scale_max"])


def outcome_data(clinic: Clinic, outcome: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Courses with a baseline (and their covariates) and their follow-up scores, sorted by course.

    Pain: baseline the first session ``pain_pre``, follow-ups the readings
    :func:`pain_readings` marks ``follow_up``. A PROM: baseline the first
    score, follow-ups the scores on later days. Several follow-up scores of
    a course on one day count as one visit, scored with their mean, so
    that a session and an assessment on the same day are never read as two
    visits in a row.
    """
    episodes = clinic.episodes
    if outcome == "pain":
        readings = pain_readings(clinic)
        row = readings["episode_row"].to_numpy()
        is_session = (readings["source"] == "session").to_numpy(dtype=bool)
        first = readings[is_session].drop_duplicates("episode_row")
        base_row, baseline = first["episode_row"].to_numpy(), first["pain"].to_numpy(dtype=float)
        follow = readings[readings["follow_up"].to_numpy(dtype=bool)]
        f_row, f_date, f_y = row[readings["follow_up"].to_numpy(dtype=bool)], follow["date"], follow["pain"]
    else:
        proms = clinic.proms
        keep = (proms["instrument"] == outcome).fillna(False).to_numpy(dtype=bool).copy()
        keep &= proms["score"].notna().to_numpy() & proms["completed_on"].notna().to_numpy()
        scores = proms[keep]
        row_all = positions(scores["episode_id"], episodes["episode_id"])
        scores, row_all = scores[row_all >= 0], row_all[row_all >= 0]
        dates = scores["completed_on"].to_numpy(dtype="datetime64[ns]")
        order = np.lexsort((np.arange(len(scores)), dates, row_all))
        row_all, dates, values = row_all[order], dates[order], scores["score"].to_numpy(dtype=float)[order]
        is_first = np.r_[True, row_all[1:] != row_all[:-1]] if len(row_all) else np.zeros(0, dtype=bool)
        base_row, baseline = row_all[is_first], values[is_first]
        first_date = np.full(len(episodes), np.datetime64("NaT", "ns"))
        first_date[base_row] = dates[is_first]
        later = dates > first_date[row_all]
        f_row, f_date, f_y = row_all[later], dates[later], values[later]
    courses = pd.DataFrame(
        {
            "episode_row": base_row,
            "episode_id": episodes["episode_id"].to_numpy()[base_row],
            "patient_id": episodes["patient_id"].to_numpy()[base_row],
            "start_date": episodes["start_date"].to_numpy(dtype="datetime64[ns]")[base_row],
            "baseline": baseline,
        }
    )
    courses = pd.concat([courses, case_mix_covariates(clinic, courses).drop(columns="baseline")], axis=1)
    course_of_row = np.full(len(episodes), -1)
    course_of_row[base_row] = np.arange(len(base_row))
    course = course_of_row[np.asarray(f_row, dtype=int)]
    follow = pd.DataFrame({"course": course, "date": np.asarray(f_date, dtype="datetime64[ns]"), "y": np.asarray(f_y)})
    follow = follow[course >= 0]
    # several scores on one day (a session's and an assessment's) are one visit: their mean
    follow = follow.assign(date=follow["date"].dt.normalize())
    follow = follow.groupby(["course", "date"], as_index=False, sort=True)["y"].mean()
    start = courses["start_date"].to_numpy()[follow["course"].to_numpy()]
    follow["day"] = np.maximum((follow["date"].to_numpy() - start) / np.timedelta64(1, "D"), 0.0)
    return courses, follow


def covariate_levels(values: pd.Series) -> tuple[dict | None, str | None]:
    """Coding of one categorical covariate over the fitted courses: (levels, None) or (None, reason dropped)."""
    raw = values.astype(str)
    if set(raw) <= NOT_RECORDED:
        return None, "absent: not recorded for any course"
    counts = raw.value_counts()
    rare = sorted(counts.index[counts < MIN_LEVEL_COURSES])
    pooled = raw.where(~raw.isin(rare), POOLED)
    if rare and (pooled == POOLED).sum() < MIN_LEVEL_COURSES:
        pooled = pooled.where(pooled != POOLED, counts.index[0])
    counts = pooled.value_counts()
    if len(counts) < 2:
        return None, f"one_level: every fitted course is {counts.index[0]!r}"
    return {"reference": str(counts.index[0]), "levels": sorted(map(str, counts.index[1:])), "pooled": rare}, None


def baseline_band(baseline: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Band of the baseline score: lowest, middle or highest part of the scale (pain 0-3, 4-6, 7-10)."""
    a, b = (lo + e * (hi - lo) for e in BAND_EDGES)
    labels = np.array([f"{lo:g}-{a:g}", f"{a:g}-{b:g}", f"{b:g}-{hi:g}"], dtype=object)
    return labels[np.searchsorted([a, b], np.asarray(baseline, dtype=float), side="right")]
