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
from .survival import kaplan_meier, time_to_response

#: Days over which early frequency is measured.
EARLY_DAYS = 28
#: Frequency bands (sessions per week in the first 28 days): edges and labels.
BAND_EDGES = (0.0, 1.0, 2.0, np.inf)
BAND_LABELS = ("under 1 a week", "1 to 2 a week", "2 or more a week")
#: What a model that the data cannot identify says instead of a number.
NOT_ESTIMABLE = "cannot be estimated from these data"
#: Largest hat value (leverage) at which HC3 errors are still defined: HC3 divides by (1 - h) ** 2.
_MAX_LEVERAGE = 1 - 1e-8
_COLUMNS = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
_FORMULA = "reduction ~ early_frequency + baseline + log_duration"


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
    patient_level : fixed effects of the patient-level regression (robust HC3 errors). Empty
        when it cannot be fitted; ``attrs["estimable"]`` is then False and ``attrs["reason"]``
        says why (``"too few episodes"``, or :data:`NOT_ESTIMABLE` for a design the data
        cannot identify: a constant or collinear exposure, or a leverage of 1 under HC3, with
        ``attrs["detail"]`` in plain words).
    sensitivity : the same model's early-frequency estimate with and without self-discharged episodes.
    trajectory : the mixed model of pain over weeks with early frequency; None when it could
        not be fitted (``trajectory_error`` says why).
    time_to_response : Kaplan-Meier share with a *confirmed* response by frequency band
        (:func:`time_to_response` with ``confirmed=True``). Descriptive only: no test compares
        the bands, because response is detected at visits (patients seen more often are found
        sooner and get more chances to cross the threshold through score noise) and the band
        needs the course to stay in care over days 0-27.
    interpretation : one paragraph in plain English.
    trajectory_error : why the mixed model could not be fitted, or None.
    """

    exposures: pd.DataFrame
    patient_level: pd.DataFrame
    sensitivity: pd.DataFrame
    trajectory: TrajectoryResult | None
    time_to_response: pd.DataFrame
    interpretation: str
    trajectory_error: str | None = None


def _not_estimable(model) -> str | None:
    """Why the OLS with HC3 errors cannot be estimated from its design, in plain words; None when it can.

    A design matrix of less than full column rank (e.g. every course at one
    session a week: early frequency is a multiple of the intercept) has no
    unique least-squares solution; statsmodels would still print one (the
    pseudo-inverse's). A hat value of 1 (one course alone determines a
    coefficient, e.g. the only course at its frequency when all others share
    one) leaves that course's residual at 0 and HC3, which divides its
    squared residual by (1 - h) ** 2, undefined.
    """
    X = np.asarray(model.exog, dtype=float)
    names = list(model.exog_names)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        exposure = X[:, names.index("early_frequency")]
        if np.ptp(exposure) == 0:
            return (
                "every course of care had the same number of sessions in its first four weeks "
                f"({exposure[0]:.1f} a week), so there is nothing to compare"
            )
        return "session frequency is tied exactly to starting pain or symptom duration in these courses of care"
    q, _ = np.linalg.qr(X)
    if float(np.max(np.sum(q * q, axis=1))) >= _MAX_LEVERAGE:
        return (
            "a single course of care alone determines part of the comparison (for example the only one seen at its "
            "frequency), so how uncertain the result is cannot be worked out"
        )
    return None


def _empty_table(n: int, reason: str, detail: str = "") -> pd.DataFrame:
    table = pd.DataFrame(columns=_COLUMNS, dtype="float64")
    table.index.name = "term"
    table.attrs.update(n_episodes=int(n), estimable=False, reason=reason, detail=detail)
    return table


def _patient_level(data: pd.DataFrame) -> pd.DataFrame:
    """OLS of pain reduction on early frequency, baseline and log symptom duration (HC3).

    Empty, with ``attrs["reason"]`` :data:`NOT_ESTIMABLE` and the plain-words
    ``attrs["detail"]``, when the design is rank deficient or a hat value is 1.
    """
    model = smf.ols(_FORMULA, data=data)
    detail = _not_estimable(model)
    if detail is not None:
        return _empty_table(len(data), NOT_ESTIMABLE, detail)
    fit = model.fit(cov_type="HC3")
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
    table.attrs.update(n_episodes=int(fit.nobs), r_squared=float(fit.rsquared), estimable=True)
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


def _interpret(
    patient_level: pd.DataFrame, sensitivity: pd.DataFrame, trajectory, duration_recorded=True, trajectory_error=None
) -> str:
    if patient_level.attrs.get("reason") == NOT_ESTIMABLE:
        return (
            f"How session frequency relates to improvement {NOT_ESTIMABLE}: {patient_level.attrs['detail']}. "
            "No figure is given for it."
        )
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
    if trajectory_error is not None:
        text += f"How fast pain fell over the weeks of care {NOT_ESTIMABLE}, so nothing is said about it. "
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
    a confirmed clinically important improvement by frequency band, as a
    description only: the bands are not tested against each other, since
    response is detected at visits and patients seen more often are found
    sooner (DOMAIN.md, "Outcomes at a fixed time"). A sensitivity table
    repeats (1) without self-discharged episodes, since self-discharge is
    informative dropout.

    A model the data cannot identify never raises and never prints a
    number: a rank-deficient design (every course at one session a week) or
    a leverage of 1 under HC3 gives an empty ``patient_level`` whose
    ``attrs["reason"]`` is :data:`NOT_ESTIMABLE`, and a mixed model that
    cannot be fitted (e.g. its fixed effects are collinear) gives
    ``trajectory=None`` with ``trajectory_error``; the interpretation says
    so in plain words.

    Returns
    -------
    FrequencyAnalysis
    """
    frame = _analysis_frame(clinic, rule)
    usable = frame.dropna(subset=["reduction", "early_frequency", "baseline", "log_duration"])
    patient_level = _patient_level(usable) if len(usable) >= 10 else _empty_table(len(usable), "too few episodes")
    rows = []
    for label, subset in (("all episodes", usable), ("without self-discharged", usable[~usable["self_discharged"]])):
        fitted = _patient_level(subset) if len(subset) >= 10 else _empty_table(len(subset), "too few episodes")
        estimate = fitted.loc["early_frequency"] if "early_frequency" in fitted.index else pd.Series(dtype=float)
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
    trajectory, trajectory_error = None, None
    if long["patient_id"].nunique() >= 10:
        try:
            trajectory = fit_trajectory(
                long,
                outcome="pain_pre",
                time="weeks_since_start",
                covariates=("early_frequency", "weeks_by_early_frequency"),
                random_slope=random_slope,
            )
        except (ValueError, np.linalg.LinAlgError) as exc:  # collinear fixed effects, or no optimiser could fit it
            trajectory_error = str(exc)
    times = time_to_response(clinic, rule=rule, confirmed=True)
    times = times.merge(frame[["episode_id", "frequency_band"]], on="episode_id")
    times = times.dropna(subset=["frequency_band"])
    times["frequency_band"] = times["frequency_band"].astype(str)
    km = kaplan_meier(times, time="days", event="event", group="frequency_band") if len(times) else pd.DataFrame()
    exposures = frame.drop(columns=["log_duration"])
    return FrequencyAnalysis(
        exposures,
        patient_level,
        sensitivity,
        trajectory,
        km,
        _interpret(patient_level, sensitivity, trajectory, frame["log_duration"].notna().any(), trajectory_error),
        trajectory_error,
    )
