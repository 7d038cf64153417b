"""Expected recovery for researchers: the fitted model as a tidy table, and its calibration by decile.

:func:`recovery_summary` lays out what :func:`~.recovery.fit_expected_recovery`
estimated (fixed effects with standard errors and 95% intervals, variance
components, covariates dropped and why, the temporal validation);
:func:`calibration_table` compares predicted with observed scores by decile
of the prediction, best on the validation's out-of-sample predictions
(``ExpectedRecovery.validation_predictions``). Definitions: ``docs/metrics.md``,
"Expected recovery".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .recovery import ExpectedRecovery

SUMMARY_COLUMNS = ["part", "term", "estimate", "se", "ci_lower", "ci_upper", "note"]
CALIBRATION_COLUMNS = ["decile", "n", "mean_expected", "mean_observed", "median_observed", "coverage"]
#: 97.5% point of the standard normal: the 95% Wald interval of a fixed effect.
_Z95 = 1.959963984540054


def _term_note(term: str) -> str:
    if term == "intercept":
        return "z at day 0, reference case mix, mean baseline"
    if term == "baseline":
        return "per unit of the centred baseline (z scale)"
    if term == "week":
        return "change per week, up to the first knot"
    if term.startswith("week_after_day_"):
        return f"change of the weekly slope after day {term.removeprefix('week_after_day_')}"
    if term == "baseline:week":
        return "how the weekly change depends on the baseline"
    name, _, level = term.partition("[")
    return f"{name} {level.rstrip(']')} against the reference level" if level else ""


def recovery_summary(model: ExpectedRecovery) -> pd.DataFrame:
    """The fitted expected-recovery model as one tidy table: estimates, variance, dropped covariates, validation.

    Parameters
    ----------
    model : ExpectedRecovery
        Made by :func:`fit_expected_recovery` (or loaded with :func:`load_expected_recovery`).

    Returns
    -------
    DataFrame
        One row per figure, with ``part``, ``term``, ``estimate``, ``se``,
        ``ci_lower``, ``ci_upper`` and ``note``. ``part`` is:

        - ``fixed``: each fixed effect on the z (logit) scale, in design order,
          with its standard error and a 95% Wald interval (normal quantile);
        - ``variance``: ``course_variance`` (tau2, random intercept per
          course), ``residual_variance`` (s2) and ``icc`` (tau2 / (tau2 + s2):
          the share of the variance between courses); no standard errors;
        - ``dropped``: a covariate or design column left out, ``note`` its reason;
        - ``validation``: ``coverage`` (share of later courses' scores inside
          the band), ``mae_model``, ``mae_carry_forward`` (points),
          ``n_courses_train``, ``n_courses_test``, ``n_predictions``;
          ``note`` on ``coverage`` gives the level and the cut-off date;
        - ``model``: ``n_courses``, ``n_observations``, ``available`` (1 or 0;
          ``note``: the reason when not).

        A model too small to fit has ``model`` and ``dropped`` rows only.

    Examples
    --------
    >>> from needling_analytics.clinic import Clinic
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.metrics import fit_expected_recovery
    >>> model = fit_expected_recovery(Clinic.from_frames(**generate_clinic(n_patients=60, seed=1)), validate=False)
    >>> recovery_summary(model).query("part == 'variance'")["term"].tolist()
    ['course_variance', 'residual_variance', 'icc']
    """
    rows: list[dict] = []

    def add(part: str, term: str, estimate=np.nan, se=np.nan, low=np.nan, high=np.nan, note: str = "") -> None:
        rows.append(dict(zip(SUMMARY_COLUMNS, (part, term, estimate, se, low, high, note), strict=True)))

    if model.fitted:
        se = np.sqrt(np.clip(np.diag(model.covariance), 0, None))
        for term, beta, s in zip(model.names, model.coefficients, se, strict=True):
            add("fixed", term, beta, s, beta - _Z95 * s, beta + _Z95 * s, _term_note(term))
        tau2, s2 = model.course_variance, model.residual_variance
        add("variance", "course_variance", tau2, note="tau2: random intercept per course of care (z scale)")
        add("variance", "residual_variance", s2, note="s2: visit-to-visit variation (z scale)")
        add("variance", "icc", tau2 / (tau2 + s2), note="share of the variance between courses of care")
    for term, reason in model.dropped.items():
        add("dropped", term, note=str(reason))
    check = model.validation or {}
    if check.get("status") == "done":
        add(
            "validation",
            "coverage",
            check["coverage"],
            note=f"share inside the {model.level:.0%} band; courses started from {check['cutoff']}",
        )
        add("validation", "mae_model", check["mae_model"], note="mean absolute error of expected, points")
        add("validation", "mae_carry_forward", check["mae_carry_forward"], note="the same, carrying the baseline")
        for term in ("n_courses_train", "n_courses_test", "n_predictions"):
            add("validation", term, float(check[term]))
    elif check:
        add("validation", "status", note=str(check.get("status")))
    add("model", "n_courses", float(model.n_courses), note="courses of care with a follow-up score")
    add("model", "n_observations", float(model.n_observations), note="follow-up scores")
    add("model", "available", float(model.available), note="" if model.available else str(model.reason))
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return out.astype({c: float for c in ("estimate", "se", "ci_lower", "ci_upper")})


def calibration_table(predictions: pd.DataFrame, *, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed scores by decile of the prediction, with the band's coverage in each.

    Parameters
    ----------
    predictions : DataFrame
        Scores with their predictions: the temporal validation's one-step
        predictions of courses the model did not see (out of sample), the
        ``validation_predictions`` of a model made by
        :func:`fit_expected_recovery`; or any frame with ``expected``,
        ``observed``, ``lower`` and ``upper``, such as
        ``ExpectedRecovery.one_step`` (in sample, when given the fitted
        clinic). Rows missing ``expected`` or ``observed`` are left out.
    bins : int
        Number of groups (default 10: deciles); fewer when there are fewer rows.

    Returns
    -------
    DataFrame
        One row per group, lowest prediction first: ``decile`` (1 to
        ``bins``), ``n`` (scores), ``mean_expected``, ``mean_observed``,
        ``median_observed`` (``expected`` is the median of a new score, so
        on skewed scores it is closer to ``median_observed`` than to
        ``mean_observed``), ``coverage`` (share of scores with ``lower`` <=
        observed <= ``upper``). Groups are the rows sorted by ``expected``
        (ties in their order) and cut into ``bins`` parts as equal as
        possible: row i of n (from 0) goes to group ``i * bins // n + 1``.
        No rows in, no rows out.

    Examples
    --------
    >>> data = pd.DataFrame({"expected": [1.0, 2, 3, 4], "observed": [1.0, 3, 3, 5], "lower": 0.0, "upper": 4.5})
    >>> calibration_table(data, bins=2)[["decile", "n", "mean_observed", "coverage"]].to_dict("list")
    {'decile': [1, 2], 'n': [2, 2], 'mean_observed': [2.0, 4.0], 'coverage': [1.0, 0.5]}
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"`bins` must be a whole number of at least 1, got {bins!r}")
    needed = ["expected", "observed", "lower", "upper"]
    missing = [c for c in needed if c not in predictions.columns]
    if missing:
        raise ValueError(
            f"`predictions` lacks column(s) {missing}; give ExpectedRecovery.validation_predictions or .one_step(clinic)"
        )
    data = predictions[needed].astype(float).dropna(subset=["expected", "observed"])
    if data.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c in ("decile", "n") else float) for c in CALIBRATION_COLUMNS}
        )
    data = data.iloc[np.argsort(data["expected"].to_numpy(), kind="stable")]
    n = len(data)
    data["decile"] = np.arange(n) * min(int(bins), n) // n + 1
    data["inside"] = (data["observed"] >= data["lower"]) & (data["observed"] <= data["upper"])
    grouped = data.groupby("decile")
    out = pd.DataFrame(
        {
            "n": grouped.size(),
            "mean_expected": grouped["expected"].mean(),
            "mean_observed": grouped["observed"].mean(),
            "median_observed": grouped["observed"].median(),
            "coverage": grouped["inside"].mean(),
        }
    ).reset_index()
    return out.astype({"decile": "int64", "n": "int64"})[CALIBRATION_COLUMNS]
