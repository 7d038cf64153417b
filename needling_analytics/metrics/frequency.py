"""Session frequency versus improvement: an association, never a dose-response effect.

Routine clinic data is observational and confounded: patients who improve
slowly are given *more* visits (Hughes 2018, 89,422 patients), and patients
who stop coming (self-discharge) may do so because they improved or because
they did not. So every output here speaks of association, and the
exposures are the cleaner ones from the literature: sessions per week over
the first 28 days and the mean interval between sessions, rather than total
sessions (DOMAIN.md, "Session frequency versus improvement").

The comparison uses a **landmark design** (DOMAIN.md, "Outcomes at a fixed
time"); the exposures and the cohort are made in :mod:`.landmark`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from ..clinic import Clinic
from .landmark import EARLY_DAYS, OUTCOME_DAY, OUTCOME_HALF_WIDTH, landmark_outcomes, session_exposures
from .models import TrajectoryResult, fit_trajectory
from .pain import DEFAULT_RULE, ResponderRule, episode_pain, pain_readings
from .response_time import time_to_response
from .survival import kaplan_meier

#: ``attrs["reason"]`` of a model that the data cannot identify (no number is given; ``attrs["detail"]`` says why).
NOT_ESTIMABLE = "not_estimable"
#: ``attrs["reason"]`` when too few courses have what the model needs.
TOO_FEW = "too_few"
#: ``attrs["reason"]`` when the clinic records no symptom duration (the model adjusts for it).
NO_DURATION = "no_duration"
#: ``attrs["detail"]`` when every course had the same early frequency (``attrs["early_frequency"]``, sessions a week).
SAME_FREQUENCY = "same_frequency"
#: ``attrs["detail"]`` when early frequency is tied exactly to starting pain or symptom duration.
TIED_TO_COVARIATES = "tied_to_covariates"
#: ``attrs["detail"]`` when one course alone determines a coefficient (a hat value of 1: no HC3 error).
SINGLE_COURSE = "single_course"
#: Fewest courses the regression is fitted on.
MIN_EPISODES = 10
#: Largest hat value (leverage) at which HC3 errors are still defined: HC3 divides by (1 - h) ** 2.
_MAX_LEVERAGE = 1 - 1e-8
_COLUMNS = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
_FORMULA = "reduction ~ early_frequency + baseline + log_duration"


@dataclass(frozen=True)
class FrequencyAnalysis:
    """Results of :func:`analyze_frequency`; every table is a DataFrame.

    The English paragraph that reads it is
    :func:`needling_analytics.reporting.text.frequency_paragraph`.

    Attributes
    ----------
    exposures : per episode (every course): :func:`session_exposures`, the pain outcome of
        :func:`episode_pain` (``baseline``, ``latest``, ``reduction``...) and
        :func:`landmark_outcomes`. Describes everyone; not what the comparison uses.
    landmark : the courses the comparison uses: in care at day 28 with a pain reading in the
        outcome window. ``reduction`` here is ``baseline - outcome_pain`` (the fall in pain by
        week 8, points); plus ``early_frequency``, ``frequency_band``, ``baseline``,
        ``outcome_pain``, ``outcome_days``, ``symptom_duration_weeks``, ``self_discharged``.
    patient_level : fixed effects of the landmark regression of the fall in pain by week 8 on
        early frequency, baseline pain and log symptom duration: ``estimate``, ``std_error``,
        ``ci_lower``, ``ci_upper``, ``p_value`` by ``term`` (``Intercept``,
        ``early_frequency``, ``baseline``, ``log_duration``). ``attrs``: ``design``
        (``"landmark"``), ``estimable`` (bool), ``reason`` and ``detail`` when not estimable
        (codes: :data:`NOT_ESTIMABLE` with a ``detail``, :data:`TOO_FEW` or :data:`NO_DURATION`; table empty),
        ``n_episodes`` (courses in the fit), ``n_patients``, ``n_in_care_at_landmark``,
        ``n_ended_before_landmark``, ``n_outcome_not_due``, ``n_with_outcome``,
        ``n_without_outcome``, ``landmark_day``, ``outcome_day``, ``outcome_window``,
        ``cov_type`` (``"cluster"`` by patient when a patient has several courses in the fit,
        else ``"HC3"``), ``r_squared`` when fitted.
    sensitivity : the same model's early-frequency estimate with all courses and without the
        self-discharged ones (:func:`~needling_analytics.metrics.attendance`'s definition):
        ``episodes``, ``n``, ``estimate``, ``ci_lower``, ``ci_upper``, ``p_value``.
    trajectory : the mixed model of pain over weeks with early frequency, one trajectory per
        course of care (subject ``episode_id``: time restarts every course), on the courses in
        care at day 28; None when it could not be fitted (``trajectory_error`` says why). Read
        ``converged`` and ``fit_warnings`` before quoting it.
    time_to_response : Kaplan-Meier share with a *confirmed* response by frequency band
        (:func:`time_to_response` with ``confirmed=True``), courses in care at day 28 only.
        Descriptive only: no test compares the bands, because response is detected at visits
        (patients seen more often are found sooner and get more chances to cross the
        threshold through score noise).
    trajectory_error : why the mixed model could not be fitted, or None.
    """

    exposures: pd.DataFrame
    landmark: pd.DataFrame
    patient_level: pd.DataFrame
    sensitivity: pd.DataFrame
    trajectory: TrajectoryResult | None
    time_to_response: pd.DataFrame
    trajectory_error: str | None = None


def _not_estimable(model) -> dict | None:
    """Why the OLS with robust errors cannot be estimated from its design (``detail`` and its value); None when it can.

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
            return {"detail": SAME_FREQUENCY, "early_frequency": float(exposure[0])}
        return {"detail": TIED_TO_COVARIATES}
    q, _ = np.linalg.qr(X)
    if float(np.max(np.sum(q * q, axis=1))) >= _MAX_LEVERAGE:
        return {"detail": SINGLE_COURSE}
    return None


def _empty_table(n: int, reason: str, detail: str = "", **values) -> pd.DataFrame:
    table = pd.DataFrame(columns=_COLUMNS, dtype="float64")
    table.index.name = "term"
    table.attrs.update(n_episodes=int(n), estimable=False, reason=reason, detail=detail, **values)
    return table


def _patient_level(data: pd.DataFrame) -> pd.DataFrame:
    """OLS of the fall in pain on early frequency, baseline and log symptom duration, with robust errors.

    Errors are clustered by patient (statsmodels ``cov_type="cluster"``)
    when a patient has more than one course in ``data``, HC3 otherwise.
    Empty, with ``attrs["reason"]`` :data:`NOT_ESTIMABLE` and
    ``attrs["detail"]`` (:data:`SAME_FREQUENCY`, :data:`TIED_TO_COVARIATES`
    or :data:`SINGLE_COURSE`), when the design is rank deficient or a hat
    value is 1; :func:`~needling_analytics.reporting.text.frequency_not_estimable`
    words it.
    """
    model = smf.ols(_FORMULA, data=data)
    why = _not_estimable(model)
    if why is not None:
        return _empty_table(len(data), NOT_ESTIMABLE, **why)
    if data["patient_id"].duplicated().any():
        groups = pd.factorize(data["patient_id"])[0]
        fit, cov_type = model.fit(cov_type="cluster", cov_kwds={"groups": groups}), "cluster"
    else:
        fit, cov_type = model.fit(cov_type="HC3"), "HC3"
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
    table.attrs.update(n_episodes=int(fit.nobs), r_squared=float(fit.rsquared), estimable=True, cov_type=cov_type)
    return table


def _fit_or_explain(data: pd.DataFrame, duration_recorded: bool) -> pd.DataFrame:
    if len(data) >= MIN_EPISODES:
        return _patient_level(data)
    return _empty_table(len(data), TOO_FEW if duration_recorded else NO_DURATION)


def _analysis_frame(clinic: Clinic, rule: ResponderRule, window: dict) -> pd.DataFrame:
    pain = episode_pain(clinic, rule=rule)[
        ["episode_id", "baseline", "latest", "reduction", "pct_reduction", "assessable", "responder"]
    ]
    episodes = clinic.episodes[["episode_id", "symptom_duration_weeks", "discharge_reason", "body_region"]]
    landmark = landmark_outcomes(clinic, **window).drop(columns="patient_id")
    frame = session_exposures(clinic).merge(pain, on="episode_id").merge(episodes, on="episode_id")
    frame = frame.merge(landmark, on="episode_id")
    frame["log_duration"] = np.log1p(frame["symptom_duration_weeks"])
    return frame


def analyze_frequency(
    clinic: Clinic,
    *,
    rule: ResponderRule = DEFAULT_RULE,
    random_slope: bool | str = "auto",
    landmark_day: int = EARLY_DAYS,
    outcome_day: int = OUTCOME_DAY,
    half_width: int = OUTCOME_HALF_WIDTH,
) -> FrequencyAnalysis:
    """Relate how often patients were treated early on to how much they improved later: a landmark design.

    Cohort: courses of care still in care at day ``landmark_day`` (28) with
    that day passed by the as-of date (:func:`landmark_outcomes`). Courses
    that ended sooner are left out rather than counted as "low frequency"
    (a fast recoverer discharged after two sessions is not a patient who
    was seen rarely). Exposure: attended sessions per week in days 0-27.
    Outcome: the fall in pain from baseline to the reading nearest day
    ``outcome_day`` (56) within ``half_width`` (14) days, after the
    exposure window; courses without such a reading are not in the
    analysis and are counted in ``patient_level.attrs``.

    Views, each an association: (1) OLS of the fall in pain on early
    frequency, adjusted for baseline pain and log(1 + symptom weeks), with
    errors clustered by patient when a patient has several courses, HC3
    otherwise; a sensitivity table repeats it without self-discharged
    courses (:func:`~needling_analytics.metrics.attendance`'s definition);
    (2) a linear mixed model of pain over weeks since the start, one
    trajectory per course of care (nested in patients who have several),
    piecewise in time with a knot at week 7, with early frequency and its
    interaction with time, and a random slope when ``random_slope="auto"``
    (default) and a likelihood-ratio test supports it
    (:func:`~needling_analytics.metrics.fit_trajectory`); (3) Kaplan-Meier time to a confirmed response by
    frequency band, a description only (no test across bands: response is
    detected at visits, so courses seen more often are found sooner).

    A model the data cannot identify never raises and never prints a
    number: a rank-deficient design (every course at one session a week) or
    a leverage of 1 gives an empty ``patient_level`` whose
    ``attrs["reason"]`` is :data:`NOT_ESTIMABLE`, and a mixed model that
    cannot be fitted gives ``trajectory=None`` with ``trajectory_error``.

    Returns
    -------
    FrequencyAnalysis
    """
    window = {"landmark_day": landmark_day, "outcome_day": outcome_day, "half_width": half_width}
    frame = _analysis_frame(clinic, rule, window)
    duration_recorded = bool(frame["log_duration"].notna().any())
    in_care = frame["in_care_at_landmark"].to_numpy(dtype=bool) & frame["early_frequency"].notna().to_numpy()
    cohort = frame[in_care]
    due = cohort[cohort["outcome_due"].to_numpy(dtype=bool)]
    scored = due[due["outcome_pain"].notna().to_numpy()]
    landmark = scored.drop(columns=["latest", "reduction", "pct_reduction", "assessable", "responder"]).assign(
        reduction=scored["baseline"] - scored["outcome_pain"]
    )
    landmark = landmark.drop(columns=["log_duration"]).reset_index(drop=True)
    usable = scored.assign(reduction=scored["baseline"] - scored["outcome_pain"]).dropna(
        subset=["reduction", "early_frequency", "baseline", "log_duration"]
    )
    patient_level = _fit_or_explain(usable, duration_recorded)
    patient_level.attrs.update(
        design="landmark",
        n_patients=int(usable["patient_id"].nunique()),
        n_in_care_at_landmark=len(cohort),
        n_ended_before_landmark=int((frame["left_care_day"] < landmark_day).sum()),
        n_outcome_not_due=len(cohort) - len(due),
        n_with_outcome=len(scored),
        n_without_outcome=len(due) - len(scored),
        landmark_day=landmark_day,
        outcome_day=outcome_day,
        outcome_window=(outcome_day - half_width, outcome_day + half_width),
    )
    rows = []
    for label, subset in (("all episodes", usable), ("without self-discharged", usable[~usable["self_discharged"]])):
        fitted = _fit_or_explain(subset, duration_recorded)
        estimate = fitted.loc["early_frequency"] if "early_frequency" in fitted.index else pd.Series(dtype=float)
        rows.append(
            {
                "episodes": label,
                "n": len(subset),
                **{k: estimate.get(k, np.nan) for k in ["estimate", "ci_lower", "ci_upper", "p_value"]},
            }
        )
    sensitivity = pd.DataFrame(rows)

    # every pain reading (session pain_pre and follow-up assessments) of a course in care at day 28
    readings = pain_readings(clinic).rename(columns={"pain": "pain_pre"})
    readings = readings.merge(cohort[["episode_id", "early_frequency"]], on="episode_id")
    long = readings.dropna(subset=["pain_pre", "early_frequency"])
    long = long.assign(weeks_by_early_frequency=long["weeks_since_start"] * long["early_frequency"])
    trajectory, trajectory_error = None, None
    if long["episode_id"].nunique() >= MIN_EPISODES:
        try:
            trajectory = fit_trajectory(
                long,
                outcome="pain_pre",
                time="weeks_since_start",
                subject="episode_id",
                covariates=("early_frequency", "weeks_by_early_frequency"),
                random_slope=random_slope,
            )
        except (ValueError, np.linalg.LinAlgError) as exc:  # collinear fixed effects, or no optimiser could fit it
            trajectory_error = str(exc)
    times = time_to_response(clinic, rule=rule, confirmed=True)
    times = times.merge(cohort[["episode_id", "frequency_band"]], on="episode_id")
    times = times.dropna(subset=["frequency_band"])
    times["frequency_band"] = times["frequency_band"].astype(str)
    km = (
        kaplan_meier(times, time="days", event="event", by="frequency_band", cluster="patient_id")
        if len(times)
        else pd.DataFrame()
    )
    return FrequencyAnalysis(
        frame.drop(columns=["log_duration"]),
        landmark,
        patient_level,
        sensitivity,
        trajectory,
        km,
        trajectory_error,
    )
