"""Outcome trajectories over time: a linear mixed model per subject.

:func:`fit_trajectory` fits ``outcome ~ time + covariates`` with a random
intercept per subject (and optionally a random slope on time) to any long
table: pain per session, one range-of-motion movement, a questionnaire
score. Linear mixed models with a random intercept and slope per patient
are the usual model for change over a course of care (Kozlowski 2013;
Lohse 2016). The model is fitted by statsmodels ``MixedLM``; in routine
clinic data its time coefficient describes an *association*, not a
dose-response effect (patients who improve slowly are seen more often:
Hughes 2018).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

#: Optimisers tried in turn, each from statsmodels' default start, until one
#: gives a clean fit; each may take up to _MAXITER iterations. statsmodels'
#: own default (bfgs, lbfgs, cg at their default iteration limits) fails on
#: the lme4 random-slope reference (dietox), and lbfgs alone can stop at a
#: degenerate point (zero variance, singular Hessian) that it calls converged.
_METHODS = ("bfgs", "lbfgs", "cg", "powell")
_MAXITER = 1000

#: statsmodels messages that mean a fit cannot be trusted even when "converged".
_UNCLEAN = ("Hessian", "singular")


class ModelWarning(UserWarning):
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
        ``residual_sd`` (within-subject SD, outcome units); with a random
        slope also ``slope_sd`` (SD of subject slopes, outcome units per
        time unit) and ``intercept_slope_corr`` (their correlation, NaN when
        either SD is 0).
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
    model_result: Any = field(default=None, repr=False, compare=False)


def _check_column(data: pd.DataFrame, parameter: str, column: str, *, in_formula: bool = True) -> None:
    if column not in data.columns:
        raise ValueError(f"`{parameter}` column {column!r} is not in `data`; its columns are {list(data.columns)}")
    if in_formula and not str(column).isidentifier():
        raise ValueError(
            f"`{parameter}` column {column!r} cannot be used in a model formula; rename it to letters, digits and underscores"
        )


def fit_trajectory(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    subject: str = "patient_id",
    covariates: str | Sequence[str] = (),
    random_slope: bool = False,
    reml: bool = True,
    confidence: float = 0.95,
) -> TrajectoryResult:
    """Fit a linear mixed model of an outcome over time, one trajectory per subject.

    The model is ``outcome = b0 + b1 * time + covariates + u0[subject]
    (+ u1[subject] * time) + e``, with subject effects ``u`` normal with
    mean 0 and residuals ``e`` normal, independent, constant variance.

    Parameters
    ----------
    data : DataFrame
        A long table, one row per measurement (e.g. :func:`session_pain`).
    outcome : str
        Numeric outcome column (e.g. ``pain_pre``, ``degrees``, ``score``).
    time : str
        Numeric time column (e.g. ``weeks_since_start``, ``session_number``).
    subject : str
        Column identifying the subject whose repeated measures are
        correlated (``patient_id`` or ``episode_id``).
    covariates : str or sequence of str
        Further fixed effects; text or category columns become indicator
        terms against their first level (``sex[T.M]``).
    random_slope : bool
        Also let the time slope vary by subject (``re_formula="~time"``).
    reml : bool
        Restricted maximum likelihood (default, as lme4) or plain ML (use ML
        to compare models with different fixed effects by likelihood).
    confidence : float
        Level of the Wald intervals of the fixed effects.

    Returns
    -------
    TrajectoryResult
        See its attributes. Rows with a missing outcome, time, subject or
        covariate are left out and counted in ``n_dropped``.

    Raises
    ------
    ValueError
        When a column is missing or unusable in a formula, the outcome or
        time is not numeric, fewer than 2 subjects remain, or time does not
        vary.

    Warns
    -----
    ModelWarning
        Once, listing what statsmodels reported, when the fit did not
        converge or its estimates are on a boundary (a variance near zero).

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics.pain import session_pain
    >>> pain = session_pain(Clinic.from_frames(**generate_clinic(n_patients=100, seed=0)))
    >>> fit = fit_trajectory(pain, outcome="pain_pre", time="weeks_since_start")
    >>> fit.fixed_effects.index.tolist()
    ['Intercept', 'weeks_since_start']
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"`data` must be a DataFrame, got {type(data).__name__!r}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    for parameter, column in (("outcome", outcome), ("time", time), *(("covariates", name) for name in covariates)):
        _check_column(data, parameter, column)
    _check_column(data, "subject", subject, in_formula=False)
    for parameter, column in (("outcome", outcome), ("time", time)):
        if not pd.api.types.is_numeric_dtype(data[column]) or pd.api.types.is_bool_dtype(data[column]):
            raise ValueError(f"`{parameter}` column {column!r} must be numeric, got dtype {str(data[column].dtype)!r}")

    used = list(dict.fromkeys([outcome, time, subject, *covariates]))
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
    if frame[time].nunique() < 2:
        raise ValueError(f"`time` column {time!r} does not vary in the complete rows: no trajectory can be fitted")

    fixed = f"{outcome} ~ " + " + ".join([time, *covariates])
    random_part = f"(1 + {time} | {subject})" if random_slope else f"(1 | {subject})"
    model = smf.mixedlm(fixed, frame, groups=subject, re_formula=f"~{time}" if random_slope else None)
    exog = np.asarray(model.exog, dtype=float)
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise ValueError(
            f"the fixed effects of {fixed} are collinear: check that `covariates` {covariates!r} are not constant "
            f"and do not duplicate `time` {time!r} or each other"
        )
    result, messages, converged = _fit(model, reml)
    if result is None:
        raise ValueError(f"the mixed model {fixed} + {random_part} could not be fitted: {'; '.join(messages)}")
    if messages or not converged:
        state = "converged" if converged else "did NOT converge: treat its estimates and standard errors with caution"
        warnings.warn(
            f"mixed model {fixed} + {random_part} {state}; statsmodels reported: "
            + "; ".join(messages or ("no detail",)),
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
    components = {"subject_sd": np.sqrt(max(cov_re[0, 0], 0.0)), "residual_sd": float(np.sqrt(result.scale))}
    if random_slope:
        slope_sd = np.sqrt(max(cov_re[1, 1], 0.0))
        denominator = components["subject_sd"] * slope_sd
        components["slope_sd"] = slope_sd
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
        formula=f"{fixed} + {random_part}",
        fit_warnings=messages,
        model_result=result,
    )


def _fit(model, reml: bool):
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
                result = model.fit(reml=reml, method=method, maxiter=_MAXITER)
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
