"""The case mix of a practitioner comparison: each course's covariates, in bands, and the model's design.

Covariates: baseline pain (points, linear), symptom duration band (acute
under 6 weeks, subacute 6-12, chronic over 12), age band at the episode
start, sex and body region; a missing value is a level of its own
(``unknown``), a rare level is pooled, and a covariate left with one level
is dropped with the reason. The model that uses them is in :mod:`.case_mix`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic

#: Symptom duration bands, weeks: acute under 6, subacute 6-12, chronic over 12.
DURATION_BANDS = ("acute (<6 weeks)", "subacute (6-12 weeks)", "chronic (>12 weeks)")
#: Age bands, years at the episode start.
AGE_EDGES = (0, 30, 45, 60, 75, np.inf)
AGE_BANDS = ("<30", "30-44", "45-59", "60-74", "75+")
#: Label of a missing covariate value (a category of its own).
UNKNOWN = "unknown"
#: The case-mix covariates, in the order they enter the model, with their names in words.
COVARIATES = {
    "baseline": "pain at the start",
    "duration_band": "symptom duration",
    "age_band": "age",
    "sex": "sex",
    "body_region": "body region",
}
#: Covariate values that mean "not recorded".
_NOT_RECORDED = {UNKNOWN, "X or unknown"}


def case_mix_covariates(clinic: Clinic, episodes: pd.DataFrame) -> pd.DataFrame:
    """Case-mix covariates of ``episodes``; a missing value becomes the level ``unknown``."""
    info = episodes[["episode_id", "patient_id", "baseline"]].merge(
        clinic.episodes[["episode_id", "start_date", "body_region", "symptom_duration_weeks"]],
        on="episode_id",
        how="left",
    )
    info = info.merge(
        clinic.patients[["patient_id", "birth_year", "sex"]].drop_duplicates("patient_id"), on="patient_id", how="left"
    )
    weeks = info["symptom_duration_weeks"].to_numpy(dtype=float)
    duration = np.select([weeks < 6, weeks <= 12, weeks > 12], list(DURATION_BANDS), default=UNKNOWN)
    age = (info["start_date"].dt.year - info["birth_year"].astype("Float64")).to_numpy(dtype=float, na_value=np.nan)
    age = np.where(age >= 0, age, np.nan)
    band = pd.cut(age, list(AGE_EDGES), right=False, labels=list(AGE_BANDS)).astype(object)
    sex = info["sex"].astype(object).where(info["sex"].isin(["F", "M"]), "X or unknown")
    return pd.DataFrame(
        {
            "baseline": info["baseline"].to_numpy(dtype=float),
            "duration_band": duration,
            "age_band": np.where(pd.isna(band), UNKNOWN, band),
            "sex": sex.to_numpy(dtype=object),
            "body_region": info["body_region"].astype(object).fillna(UNKNOWN).to_numpy(dtype=object),
        },
        index=episodes.index,
    )


def _merge_rare(values: pd.Series, min_category: int, pooled: str) -> tuple[pd.Series, list[str]]:
    """Levels seen fewer than ``min_category`` times pooled into ``pooled``; a pool still that
    small joins the most common level."""
    counts = values.value_counts()
    rare = sorted(counts.index[counts < min_category])
    if not rare:
        return values, []
    out = values.where(~values.isin(rare), pooled)
    if (out == pooled).sum() < min_category:
        common = out[out != pooled].value_counts()
        out = out.where(out != pooled, common.index[0] if len(common) else pooled)
    return out, rare


def case_mix_design(covariates: pd.DataFrame, min_category: int) -> tuple[pd.DataFrame, dict, dict]:
    """The model's design: intercept, baseline and treatment-coded dummies (reference: the most common level).

    Returns the design, the merged rare levels, and the covariates dropped
    (name -> reason: ``not recorded`` when every value is missing, else
    ``the same for every course``).
    """
    columns = {"intercept": np.ones(len(covariates))}
    merged, dropped = {}, {}
    baseline = covariates["baseline"].to_numpy(dtype=float)
    if len(np.unique(baseline)) > 1:
        columns["baseline"] = baseline
    elif len(baseline):
        dropped["baseline"] = "the same for every course"
    for name in ("duration_band", "age_band", "sex", "body_region"):
        raw = covariates[name].astype(str)
        values, rare = _merge_rare(raw, min_category, "other" if name == "body_region" else "other (merged)")
        if rare:
            merged[name] = rare
        counts = values.value_counts()
        if len(counts) < 2:
            if len(raw):
                dropped[name] = "not recorded" if set(raw) <= _NOT_RECORDED else "the same for every course"
            continue
        for level in sorted(counts.index[1:]):
            columns[f"{name}[{level}]"] = (values == level).to_numpy(dtype=float)
    return pd.DataFrame(columns, index=covariates.index), merged, dropped
