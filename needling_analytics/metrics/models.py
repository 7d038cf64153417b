"""Outcome trajectories over time: a linear mixed model per subject.

:func:`fit_trajectory` fits ``outcome ~ f(time) + covariates`` with a random
intercept per subject (a course of care: time restarts every course), nested
in patients when a patient has several courses, and a random slope on time
when a likelihood-ratio test supports it, to any long table: pain per
session, one range-of-motion movement, a questionnaire score. ``f(time)`` is
piecewise linear with a knot where pain levels off (about week 7), or a
spline. Linear mixed models with a random intercept and slope per patient
are the usual model for change over a course of care (Kozlowski 2013;
Lohse 2016). The model is fitted by statsmodels ``MixedLM``; in routine
clinic data its time coefficient describes an *association*, not a
dose-response effect (patients who improve slowly are seen more often:
Hughes 2018).

Over 400 lines on purpose: the formula, the nesting of courses in patients,
the optimisers and the random-slope test make one fit, each part read only
with the others.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.stats import chi2
from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

from ..errors import NeedlingAnalyticsWarning

#: Optimisers tried in turn, each from statsmodels' default start, until one
#: gives a clean fit; each may take up to _MAXITER iterations. statsmodels'
#: own default (bfgs, lbfgs, cg at their default iteration limits) fails on
#: the lme4 random-slope reference (dietox), and lbfgs alone can stop at a
#: degenerate point (zero variance, singular Hessian) that it calls converged.
_METHODS = ("bfgs", "lbfgs", "cg", "powell")
_MAXITER = 1000

#: statsmodels messages that mean a fit cannot be trusted even when "converged".
_UNCLEAN = ("Hessian", "singular")


class ModelWarning(NeedlingAnalyticsWarning):
    """A model was fitted, but its estimates need care (no convergence, a variance at zero...)."""


@dataclass(frozen=True, eq=False)
class TrajectoryResult:
    """A fitted outcome trajectory (linear mixed model).

    Attributes
    ----------
    fixed_effects : DataFrame
        One row per fixed-effect term, indexed by the term as statsmodels
        names it (``Intercept``, the time column's name, ``sex[T.M]``...):
        ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper`` (Wald,
        normal quantiles), ``p_value`` (Wald z test of estimate = 0). Units
        are outcome units (per time unit for the time term).
    variance_components : Series
        ``subject_sd`` (SD of the subject intercepts, outcome units),
        ``residual_sd`` (within-subject SD, outcome units); nested in
        patients also ``patient_sd``; with a random slope also ``slope_sd``
        (SD of subject slopes, outcome units per time unit) and, when not
        nested, ``intercept_slope_corr`` (their correlation, NaN when either
        SD is 0).
    n_subjects, n_observations : int
        Subjects and rows used in the fit.
    n_dropped : int
        Rows left out for a missing outcome, time, subject or covariate.
    converged : bool
        Whether the optimiser converged to a point with a positive-definite
        Hessian (standard errors can be trusted).
    method : {"REML", "ML"}
    formula : str
        The model in lme4 notation, e.g. ``pain_pre ~ weeks + (1 | patient_id)``.
    fit_warnings : tuple of str
        The distinct messages statsmodels raised while fitting (also
        re-emitted as one :class:`ModelWarning`).
    subject : str
        The column of one trajectory (``episode_id``: time restarts every course).
    grouping : {"subject", "patient"}
        ``"patient"``: a random intercept per patient with the subjects
        nested in it (``variance_components`` then also has ``patient_sd``);
        ``"subject"``: subjects independent.
    n_patients : int
        Patients in the fit (= ``n_subjects`` when ``grouping="subject"``).
    random_slope : bool
        Whether the reported model has a random slope on time.
    slope_lrt_p : float
        P-value of the likelihood-ratio test for the random slope (ML fits,
        :func:`mixture_lrt_p`); NaN when ``random_slope`` was not "auto".
    time_model : {"piecewise", "spline", "linear"}
    knots : tuple of float
        Knots of the piecewise time model (time units); empty otherwise.
    spline_df : int or None
        Degrees of freedom of the ``cr()`` spline when ``time_model="spline"``.
    model_result : statsmodels MixedLMResults
        The fitted result, for diagnostics (``.resid``, ``.random_effects``...).
    """

    fixed_effects: pd.DataFrame
    variance_components: pd.Series
    n_subjects: int
    n_observations: int
    n_dropped: int
    converged: bool
    method: str
    formula: str
    fit_warnings: tuple[str, ...] = ()
    subject: str = "episode_id"
    grouping: str = "subject"
    n_patients: int = 0
    random_slope: bool = False
    slope_lrt_p: float = float("nan")
    time_model: str = "linear"
    knots: tuple[float, ...] = ()
    spline_df: int | None = None
    model_result: Any = field(default=None, repr=False, compare=False)


def _check_column(data: pd.DataFrame, parameter: str, column: str, *, in_formula: bool = True) -> None:
    if column not in data.columns:
        raise ValueError(f"`{parameter}` column {column!r} is not in `data`; its columns are {list(data.columns)}")
    if in_formula and not str(column).isidentifier():
        raise ValueError(
            f"`{parameter}` column {column!r} cannot be used in a model formula; rename it to letters, digits and underscores"
        )


#: Where pain's fall levels off, in weeks since the start of a course of care:
#: "Pain improves fastest in weeks 1-4 and plateaus after about week 7"
#: (Kongsted & Leboeuf-Yde, weekly follow-ups of patients treated for low back
#: pain; as /work/shared/DOMAIN.md records). The default knot of the piecewise
#: linear time model, in the time column's units (weeks).
PLATEAU_WEEKS = 7.0

#: Spline degrees of freedom when ``time_model="spline"`` and none is given
#: (capped at the number of distinct times - 2).
SPLINE_DF = 4

#: Level of the likelihood-ratio test that keeps a random slope (``random_slope="auto"``).
SLOPE_ALPHA = 0.05

#: A patient variance below this share of the residual variance counts as zero (``group="auto"``).
_ZERO_VARIANCE = 1e-4

_TIME_MODELS = ("piecewise", "spline", "linear")
_GROUPS = ("auto", "subject", "patient")


def mixture_lrt_p(llf_null: float, llf_alternative: float, *, extra_parameters: int = 2) -> float:
    """P-value of a likelihood-ratio test of a variance on its boundary (Self & Liang 1987).

    Under the null (slope variance 0, on the edge of its range) the statistic
    ``D = 2 (llf_alternative - llf_null)`` follows a 50:50 mixture of
    chi-square distributions with ``extra_parameters - 1`` and
    ``extra_parameters`` degrees of freedom (chi-square with 0 df is a point
    mass at 0): 50:50 chi2(1):chi2(2) for a correlated random slope (a
    variance and a covariance), 50:50 chi2(0):chi2(1) for an uncorrelated one.
    D below 0 (an optimiser artefact) counts as 0, giving p = 1.
    """
    d = max(2.0 * (float(llf_alternative) - float(llf_null)), 0.0)
    low = extra_parameters - 1
    low_p = float(chi2.sf(d, low)) if low > 0 else float(d <= 0)
    return 0.5 * low_p + 0.5 * float(chi2.sf(d, extra_parameters))


def fit_trajectory(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    subject: str = "episode_id",
    patient: str = "patient_id",
    group: str = "auto",
    covariates: str | Sequence[str] = (),
    random_slope: bool | str = "auto",
    time_model: str = "piecewise",
    knots: Sequence[float] = (PLATEAU_WEEKS,),
    spline_df: int | None = None,
    reml: bool = True,
    confidence: float = 0.95,
) -> TrajectoryResult:
    """Fit a linear mixed model of an outcome over time, one trajectory per subject.

    The model is ``outcome = b0 + f(time) + covariates + u0[subject]
    (+ u1[subject] * time) (+ v0[patient]) + e``, with random effects
    normal with mean 0 and residuals ``e`` normal, independent, constant
    variance. ``f(time)`` is piecewise linear (default: a slope up to each
    knot and a change of slope after it), a natural cubic regression spline,
    or a straight line.

    Parameters
    ----------
    data : DataFrame
        A long table, one row per measurement (e.g. :func:`pain_readings`).
    outcome : str
        Numeric outcome column (e.g. ``pain_pre``, ``degrees``, ``score``).
    time : str
        Numeric time column, restarting at 0 for every subject (e.g.
        ``weeks_since_start``).
    subject : str
        Column identifying one trajectory: the course of care
        (``episode_id``, default), since time restarts every course.
    patient : str
        Column identifying the patient, the outer level when a patient has
        several subjects (ignored when absent and ``group="auto"``).
    group : {"auto", "subject", "patient"}
        ``"subject"``: subjects are independent. ``"patient"``: a random
        intercept per patient with the subjects nested in it (a variance
        component per subject). ``"auto"``: ``"patient"`` when the
        ``patient`` column exists and some patient has several subjects,
        else ``"subject"``.
    covariates : str or sequence of str
        Further fixed effects; text or category columns become indicator
        terms against their first level (``sex[T.M]``).
    random_slope : bool or "auto"
        Let the time slope vary by subject. ``"auto"`` (default): fit by ML
        with and without it and keep it when the likelihood-ratio test
        (:func:`mixture_lrt_p`) gives p < 0.05 and the fit with the slope
        converged cleanly. Correlated with the intercept when
        ``grouping="subject"``, uncorrelated when nested in patients.
    time_model : {"piecewise", "spline", "linear"}
        Shape of the fixed time effect. ``"piecewise"``: columns ``time``
        and ``{time}_after_{knot}`` = max(time - knot, 0) per knot (the
        latter is the change of slope after the knot). ``"spline"``: patsy
        ``cr(time, df=spline_df)``.
    knots : sequence of float
        Knots of the piecewise model in time units (default 7 weeks:
        :data:`PLATEAU_WEEKS`); knots outside the observed times are dropped.
    spline_df : int, optional
        Spline degrees of freedom (default 4), at most the number of
        distinct times - 2.
    reml : bool
        Restricted maximum likelihood (default, as lme4) or plain ML for the
        reported fit (the slope test always uses ML).
    confidence : float
        Level of the Wald intervals of the fixed effects.

    Returns
    -------
    TrajectoryResult
        See its attributes. Rows with a missing outcome, time, subject,
        patient (when used) or covariate are left out and counted in ``n_dropped``.

    Raises
    ------
    ValueError
        When a column is missing or unusable in a formula, the outcome or
        time is not numeric, fewer than 2 subjects remain, time does not
        vary, an option is unknown, or the fixed effects are collinear.

    Warns
    -----
    ModelWarning
        Once, listing what statsmodels reported, when the reported fit did
        not converge or its estimates are on a boundary (a variance near zero).

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> from needling_analytics.metrics.pain import session_pain
    >>> pain = session_pain(Clinic.from_frames(**generate_clinic(n_patients=100, seed=0)))
    >>> fit = fit_trajectory(pain, outcome="pain_pre", time="weeks_since_start", random_slope=False)
    >>> fit.fixed_effects.index.tolist()
    ['Intercept', 'weeks_since_start', 'weeks_since_start_after_7']
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"`data` must be a DataFrame, got {type(data).__name__!r}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    if time_model not in _TIME_MODELS:
        raise ValueError(f"`time_model` must be one of {_TIME_MODELS!r}, got {time_model!r}")
    if group not in _GROUPS:
        raise ValueError(f"`group` must be one of {_GROUPS!r}, got {group!r}")
    if random_slope not in (True, False, "auto"):
        raise ValueError(f"`random_slope` must be True, False or 'auto', got {random_slope!r}")
    for parameter, column in (("outcome", outcome), ("time", time), *(("covariates", name) for name in covariates)):
        _check_column(data, parameter, column)
    _check_column(data, "subject", subject, in_formula=False)
    nested = group == "patient" or (group == "auto" and patient in data.columns and patient != subject)
    if nested:
        _check_column(data, "patient", patient, in_formula=False)
    for parameter, column in (("outcome", outcome), ("time", time)):
        if not pd.api.types.is_numeric_dtype(data[column]) or pd.api.types.is_bool_dtype(data[column]):
            raise ValueError(f"`{parameter}` column {column!r} must be numeric, got dtype {str(data[column].dtype)!r}")

    used = list(dict.fromkeys([outcome, time, subject, *([patient] if nested else []), *covariates]))
    frame = data[used].dropna()
    n_dropped = len(data) - len(frame)
    frame = frame.astype({outcome: "float64", time: "float64"}).reset_index(drop=True)
    for name in covariates:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].cat.remove_unused_categories()
    n_subjects = int(frame[subject].nunique())
    if n_subjects < 2:
        raise ValueError(
            f"`subject` column {subject!r} has {n_subjects} subject(s) with complete rows; a mixed model needs at least 2"
        )
    n_times = int(frame[time].nunique())
    if n_times < 2:
        raise ValueError(f"`time` column {time!r} does not vary in the complete rows: no trajectory can be fitted")
    if nested and group == "auto":
        nested = bool((frame.groupby(patient, sort=False)[subject].nunique() > 1).any())

    # the fixed time terms
    used_knots: tuple[float, ...] = ()
    df = None
    if time_model == "piecewise":
        used_knots = tuple(sorted(float(k) for k in knots if frame[time].min() < float(k) < frame[time].max()))
        time_terms = [time]
        for knot in used_knots:
            name = piecewise_name(time, knot)
            frame[name] = np.maximum(frame[time] - knot, 0.0)
            time_terms.append(name)
    elif time_model == "spline":
        df = min(int(spline_df or SPLINE_DF), n_times - 2)
        time_terms = [f"cr({time}, df={df}, constraints='center')"] if df >= 3 else [time]
        if df < 3:
            time_model, df = "linear", None
    else:
        time_terms = [time]
    fixed = f"{outcome} ~ " + " + ".join([*time_terms, *covariates])

    frame["na_subject__"] = frame[subject].astype(str)
    if nested:
        frame["na_patient__"] = frame[patient].astype(str)

    def build(slope: bool):
        if nested:
            return _nested_model(fixed, frame, time, slope)
        return smf.mixedlm(fixed, frame, groups="na_subject__", re_formula=f"~{time}" if slope else None)

    def lme4(slope: bool) -> str:
        if nested:
            parts = f"(1 | {patient}) + (1 | {patient}:{subject})"
            return parts + (f" + (0 + {time} | {patient}:{subject})" if slope else "")
        return f"(1 + {time} | {subject})" if slope else f"(1 | {subject})"

    model = build(False)
    exog = np.asarray(model.exog, dtype=float)
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise ValueError(
            f"the fixed effects of {fixed} are collinear: check that `covariates` {covariates!r} are not constant "
            f"and do not duplicate `time` {time!r} or each other"
        )

    lrt_p = np.nan
    null_fit = None
    if nested and group == "auto":
        # A patient level estimated at zero variance is the subject-grouped model on a boundary (and
        # warns); fit that model instead.
        probe = _fit(model, reml=False if random_slope == "auto" else reml)
        if probe[0] is not None and float(np.asarray(probe[0].cov_re)[0, 0]) < _ZERO_VARIANCE * probe[0].scale:
            nested = False
            model = build(False)
        elif random_slope == "auto" or (not random_slope and probe[0] is not None):
            null_fit = probe
    if random_slope == "auto":
        null_fit = null_fit or _fit(model, reml=False)
        slope_model = build(True)
        slope_fit = _fit(slope_model, reml=False)
        if null_fit[0] is not None and slope_fit[0] is not None:
            lrt_p = mixture_lrt_p(null_fit[0].llf, slope_fit[0].llf, extra_parameters=1 if nested else 2)
        slope = bool(slope_fit[2] and lrt_p < SLOPE_ALPHA)
        if slope:
            model = slope_model
        chosen = slope_fit if slope else null_fit
        # the reported REML fit starts from the ML estimates (same model): a few iterations
        result, messages, converged = _fit(model, reml, start=chosen[0]) if reml else chosen
    elif not random_slope and null_fit is not None:
        slope = False
        result, messages, converged = null_fit  # the probe above, fitted by `reml`
    else:
        slope = bool(random_slope)
        if slope:
            model = build(True)
        result, messages, converged = _fit(model, reml)
    formula = f"{fixed} + {lme4(slope)}"
    if result is None:
        raise ValueError(f"the mixed model {formula} could not be fitted: {'; '.join(messages)}")
    if messages or not converged:
        state = "converged" if converged else "did NOT converge: treat its estimates and standard errors with caution"
        warnings.warn(
            f"mixed model {formula} {state}; statsmodels reported: " + "; ".join(messages or ("no detail",)),
            ModelWarning,
            stacklevel=2,
        )

    names = list(result.fe_params.index)
    bounds = result.conf_int(alpha=1.0 - confidence).loc[names]
    fixed_effects = pd.DataFrame(
        {
            "estimate": result.fe_params.to_numpy(dtype=float),
            "std_error": result.bse_fe.loc[names].to_numpy(dtype=float),
            "ci_lower": bounds.iloc[:, 0].to_numpy(dtype=float),
            "ci_upper": bounds.iloc[:, 1].to_numpy(dtype=float),
            "p_value": result.pvalues.loc[names].to_numpy(dtype=float),
        },
        index=pd.Index(names, name="term"),
    )
    cov_re = np.asarray(result.cov_re, dtype=float)
    components: dict[str, float] = {}
    if nested:
        vcomp = dict(zip(result.model.exog_vc.names, np.asarray(result.vcomp, dtype=float), strict=True))
        components["subject_sd"] = float(np.sqrt(max(vcomp["subject"], 0.0)))
        components["residual_sd"] = float(np.sqrt(result.scale))
        components["patient_sd"] = float(np.sqrt(max(cov_re[0, 0], 0.0)))
        if slope:
            components["slope_sd"] = float(np.sqrt(max(vcomp["subject_slope"], 0.0)))
    else:
        components["subject_sd"] = float(np.sqrt(max(cov_re[0, 0], 0.0)))
        components["residual_sd"] = float(np.sqrt(result.scale))
        if slope:
            slope_sd = np.sqrt(max(cov_re[1, 1], 0.0))
            denominator = components["subject_sd"] * slope_sd
            components["slope_sd"] = float(slope_sd)
            components["intercept_slope_corr"] = cov_re[0, 1] / denominator if denominator > 0 else np.nan
    variance_components = pd.Series(components, dtype="float64", name="sd")

    return TrajectoryResult(
        fixed_effects=fixed_effects,
        variance_components=variance_components,
        n_subjects=n_subjects,
        n_observations=len(frame),
        n_dropped=int(n_dropped),
        converged=converged,
        method="REML" if reml else "ML",
        formula=formula,
        fit_warnings=messages,
        subject=subject,
        grouping="patient" if nested else "subject",
        n_patients=int(frame[patient].nunique()) if patient in frame.columns else n_subjects,
        random_slope=slope,
        slope_lrt_p=float(lrt_p),
        time_model=time_model,
        knots=used_knots,
        spline_df=df,
        model_result=result,
    )


def piecewise_name(time: str, knot: float) -> str:
    """Name of the change-of-slope column after ``knot`` in the piecewise time model, e.g. ``weeks_after_7``."""
    return f"{time}_after_{knot:g}".replace(".", "_").replace("-", "minus")


def _nested_model(fixed: str, frame: pd.DataFrame, time: str, slope: bool) -> MixedLM:
    """Patients (``na_patient__``) with a random intercept, courses (``na_subject__``) nested in them.

    The same model as ``smf.mixedlm(fixed, frame, groups="na_patient__",
    vc_formula={"subject": "0 + C(na_subject__)"[, "subject_slope":
    "0 + C(na_subject__):time"]})``, but with the variance-component designs
    built from integer codes instead of one patsy call per patient (which
    took most of the fitting time on a clinic of 300 patients). Each
    patient's design is the indicator matrix of their courses (times
    ``time`` for the slope).
    """
    base = smf.mixedlm(fixed, frame, groups="na_patient__")
    subjects = frame["na_subject__"].to_numpy()
    times = frame[time].to_numpy(dtype=float)
    names = ["subject", "subject_slope"] if slope else ["subject"]
    mats, colnames = [[] for _ in names], [[] for _ in names]
    for label in base.group_labels:  # statsmodels takes one small design matrix per patient
        rows = base.row_indices[label]
        codes, levels = pd.factorize(subjects[rows], sort=True)
        indicator = np.eye(len(levels))[codes]
        mats[0].append(indicator)
        colnames[0].append([f"C(na_subject__)[{level}]" for level in levels])
        if slope:
            mats[1].append(indicator * times[rows, None])
            colnames[1].append([f"C(na_subject__)[{level}]:{time}" for level in levels])
    return MixedLM(
        pd.Series(base.endog, name=base.endog_names),
        pd.DataFrame(base.exog, columns=base.exog_names),
        groups=frame["na_patient__"].to_numpy(),
        exog_re=np.ones((len(frame), 1)),
        exog_vc=VCSpec(names, colnames, mats),
    )


def _fit(model, reml: bool, start=None):
    """Fit with each optimiser in turn until a clean fit; else the attempt with the highest likelihood.

    Returns the result, the distinct warning messages of that attempt, and
    whether it is clean (converged, no singular covariance, positive-definite
    Hessian). When every optimiser fails outright the result is None and the
    messages are their errors.
    """
    attempts, errors = [], []
    for method in _METHODS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                kwargs = {"start_params": start.params_object} if start is not None else {}
                result = model.fit(reml=reml, method=method, maxiter=_MAXITER, **kwargs)
            except (np.linalg.LinAlgError, ValueError) as exc:
                errors.append(f"{method}: {exc}")
                continue
        messages = tuple(dict.fromkeys(str(w.message) for w in caught))
        clean = bool(result.converged) and not any(word in m for m in messages for word in _UNCLEAN)
        if clean:
            return result, messages, True
        attempts.append((result.llf if np.isfinite(result.llf) else -np.inf, result, messages))
    if not attempts:
        return None, tuple(errors), False
    _, result, messages = max(attempts, key=lambda attempt: attempt[0])
    return result, messages, False


def residual_table(fit: TrajectoryResult, *, bands: int = 5) -> pd.DataFrame:
    """Residuals of a trajectory model by band of fitted values: a table instead of a residual plot.

    A good fit has mean residuals near 0 in every band (no curvature) and
    similar SDs (constant variance).

    Parameters
    ----------
    fit : TrajectoryResult
        A model fitted by :func:`fit_trajectory`.
    bands : int
        Number of bands of equal size (fewer when fitted values repeat).

    Returns
    -------
    DataFrame
        ``fitted_from``, ``fitted_to`` (band of fitted values, outcome
        units), ``observations``, ``mean_residual``, ``sd_residual``.
    """
    result = fit.model_result
    fitted = pd.Series(np.asarray(result.fittedvalues, dtype=float))
    residual = pd.Series(np.asarray(result.resid, dtype=float))
    band = pd.qcut(fitted, bands, duplicates="drop")
    grouped = pd.DataFrame({"band": band, "fitted": fitted, "residual": residual}).groupby("band", observed=True)
    return pd.DataFrame(
        {
            "fitted_from": grouped["fitted"].min(),
            "fitted_to": grouped["fitted"].max(),
            "observations": grouped.size().astype("int64"),
            "mean_residual": grouped["residual"].mean(),
            "sd_residual": grouped["residual"].std(),
        }
    ).reset_index(drop=True)
