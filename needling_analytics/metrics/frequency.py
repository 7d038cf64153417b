"""Session frequency versus improvement: an association, never a dose-response effect.

Routine clinic data is observational and confounded: patients who improve
slowly are given *more* visits (Hughes 2018, 89,422 patients), and patients
who stop coming (self-discharge) may do so because they improved or because
they did not. So every output here speaks of association, and the
exposures are the cleaner ones from the literature: sessions per week over
the first 28 days and the mean interval between sessions, rather than total
sessions (DOMAIN.md, "Session frequency versus improvement").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from ._common import attended_sessions
from .models import TrajectoryResult, fit_trajectory
from .pain import DEFAULT_RULE, ResponderRule, episode_pain, pain_readings
from .survival import kaplan_meier, logrank_test, time_to_response

#: Days over which early frequency is measured.
EARLY_DAYS = 28
#: Frequency bands (sessions per week in the first 28 days): edges and labels.
BAND_EDGES = (0.0, 1.0, 2.0, np.inf)
BAND_LABELS = ("under 1 a week", "1 to 2 a week", "2 or more a week")


def session_exposures(clinic, *, early_days: int = EARLY_DAYS) -> pd.DataFrame:
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


@dataclass(frozen=True)
class FrequencyAnalysis:
    """Results of :func:`analyze_frequency`; every table is a DataFrame.

    Attributes
    ----------
    exposures : per episode, from :func:`session_exposures` joined to the pain outcome.
    patient_level : fixed effects of the patient-level regression (robust HC3 errors).
    sensitivity : the same model's early-frequency estimate with and without self-discharged episodes.
    trajectory : the mixed model of pain over weeks with early frequency.
    time_to_response : Kaplan-Meier share responded by frequency band.
    logrank : log-rank comparison of the bands.
    interpretation : one paragraph in plain English.
    """

    exposures: pd.DataFrame
    patient_level: pd.DataFrame
    sensitivity: pd.DataFrame
    trajectory: TrajectoryResult | None
    time_to_response: pd.DataFrame
    logrank: pd.DataFrame
    interpretation: str


def _patient_level(data: pd.DataFrame) -> pd.DataFrame:
    """OLS of pain reduction on early frequency, baseline and log symptom duration (HC3)."""
    fit = smf.ols("reduction ~ early_frequency + baseline + log_duration", data=data).fit(cov_type="HC3")
    ci = fit.conf_int()
    table = pd.DataFrame(
        {
            "estimate": fit.params,
            "std_error": fit.bse,
            "ci_lower": ci[0],
            "ci_upper": ci[1],
            "p_value": fit.pvalues,
        }
    )
    table.index.name = "term"
    table.attrs.update(n_episodes=int(fit.nobs), r_squared=float(fit.rsquared))
    return table


def _analysis_frame(clinic, rule: ResponderRule) -> pd.DataFrame:
    pain = episode_pain(clinic, rule=rule)[
        ["episode_id", "baseline", "latest", "reduction", "pct_reduction", "assessable", "responder"]
    ]
    episodes = clinic.episodes[["episode_id", "symptom_duration_weeks", "discharge_reason", "body_region"]]
    frame = session_exposures(clinic).merge(pain, on="episode_id").merge(episodes, on="episode_id")
    frame["log_duration"] = np.log1p(frame["symptom_duration_weeks"])
    frame["self_discharged"] = (frame["discharge_reason"] == "self_discharged").fillna(False).to_numpy(dtype=bool)
    return frame


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _interpret(
    patient_level: pd.DataFrame, sensitivity: pd.DataFrame, logrank: pd.DataFrame, trajectory, duration_recorded=True
) -> str:
    if "early_frequency" not in patient_level.index:
        if not duration_recorded:
            return (
                "How long symptoms had lasted before the first visit is not recorded in this clinic's data. The "
                "comparison of session frequency with improvement allows for it, so it cannot be made here."
            )
        return (
            "There were too few episodes with a baseline, a follow-up pain score and a complete first four weeks "
            "to relate session frequency to improvement."
        )
    row = patient_level.loc["early_frequency"]
    direction = "more" if row["estimate"] > 0 else "less"
    clear = row["ci_lower"] > 0 or row["ci_upper"] < 0
    strength = "a clear" if clear else "no clear"
    text = (
        f"Across {patient_level.attrs['n_episodes']:,} episodes, each extra session per week in the first four weeks "
        f"went with {abs(row['estimate']):.1f} points {direction} pain reduction "
        f"(95% CI {row['ci_lower']:.1f} to {row['ci_upper']:.1f}), after allowing for starting pain and how long "
        f"symptoms had lasted: {strength} association. "
    )
    if not logrank.empty and np.isfinite(logrank["p_value"].iloc[0]):
        p = logrank["p_value"].iloc[0]
        verb = "differed" if p < 0.05 else "did not clearly differ"
        text += f"Time to a clinically important improvement {verb} between frequency bands ({_p_text(p)}). "
    if trajectory is not None and "weeks_by_early_frequency" in trajectory.fixed_effects.index:
        slope = trajectory.fixed_effects.loc["weeks_by_early_frequency"]
        faster = "faster" if slope["estimate"] < 0 else "slower"
        text += (
            f"Over the course of care, pain fell {abs(slope['estimate']):.2f} points a week {faster} for each extra early "
            f"session per week (95% CI {slope['ci_lower']:.2f} to {slope['ci_upper']:.2f}). "
        )
    if len(sensitivity) == 2 and sensitivity["estimate"].notna().all():
        text += (
            f"Leaving out self-discharged episodes gives {sensitivity['estimate'].iloc[1]:.1f} instead of "
            f"{sensitivity['estimate'].iloc[0]:.1f}. "
        )
    text += (
        "This is an association in routine care, not proof that more frequent sessions cause more improvement: "
        "practitioners see slow responders more often and space out visits for those who improve, and patients who "
        "stop coming (self-discharge) may have improved or given up, so both can bias these figures in either direction."
    )
    return text


def analyze_frequency(clinic, *, rule: ResponderRule = DEFAULT_RULE, random_slope: bool = False) -> FrequencyAnalysis:
    """Relate how often patients were treated to how much and how fast they improved.

    Three views, each an association: (1) a patient-level regression of
    pain reduction (points) on early frequency (sessions per week in the
    first 28 days), adjusted for baseline pain and log(1 + symptom weeks),
    with HC3 robust standard errors; (2) a linear mixed model of pain_pre
    over weeks since the episode start with a random intercept per patient,
    early frequency and its interaction with time (does pain fall faster
    per week with more frequent early sessions?); (3) Kaplan-Meier time to
    the first clinically important improvement by frequency band, with a
    log-rank test. A sensitivity table repeats (1) without self-discharged
    episodes, since self-discharge is informative dropout.

    Returns
    -------
    FrequencyAnalysis
    """
    frame = _analysis_frame(clinic, rule)
    usable = frame.dropna(subset=["reduction", "early_frequency", "baseline", "log_duration"])
    empty = pd.DataFrame(columns=["estimate", "std_error", "ci_lower", "ci_upper", "p_value"])
    patient_level = _patient_level(usable) if len(usable) >= 10 else empty
    rows = []
    for label, subset in (("all episodes", usable), ("without self-discharged", usable[~usable["self_discharged"]])):
        estimate = _patient_level(subset).loc["early_frequency"] if len(subset) >= 10 else pd.Series(dtype=float)
        rows.append(
            {
                "episodes": label,
                "n": len(subset),
                **{k: estimate.get(k, np.nan) for k in ["estimate", "ci_lower", "ci_upper", "p_value"]},
            }
        )
    sensitivity = pd.DataFrame(rows)

    # every pain reading (session pain_pre and follow-up assessments) is a point of the trajectory
    readings = pain_readings(clinic).rename(columns={"pain": "pain_pre"})
    readings = readings.merge(frame[["episode_id", "early_frequency"]], on="episode_id")
    long = readings.dropna(subset=["pain_pre", "early_frequency"])
    long = long.assign(weeks_by_early_frequency=long["weeks_since_start"] * long["early_frequency"])
    trajectory = None
    if long["patient_id"].nunique() >= 10:
        trajectory = fit_trajectory(
            long,
            outcome="pain_pre",
            time="weeks_since_start",
            covariates=("early_frequency", "weeks_by_early_frequency"),
            random_slope=random_slope,
        )
    times = time_to_response(clinic, rule=rule).merge(frame[["episode_id", "frequency_band"]], on="episode_id")
    times = times.dropna(subset=["frequency_band"])
    times["frequency_band"] = times["frequency_band"].astype(str)
    km = kaplan_meier(times, time="days", event="event", group="frequency_band") if len(times) else pd.DataFrame()
    logrank = (
        logrank_test(times, time="days", event="event", group="frequency_band")
        if times["frequency_band"].nunique() > 1
        else pd.DataFrame(columns=["statistic", "df", "p_value", "groups"])
    )
    exposures = frame.drop(columns=["log_duration"])
    return FrequencyAnalysis(
        exposures,
        patient_level,
        sensitivity,
        trajectory,
        km,
        logrank,
        _interpret(patient_level, sensitivity, logrank, trajectory, frame["log_duration"].notna().any()),
    )
