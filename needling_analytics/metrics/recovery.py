"""Expected recovery ("patients like you"): a mixed model of follow-up scores, fitted once, predicted per course.

The model (formula, covariates, assumptions, validation: ``docs/metrics.md``,
"Expected recovery") is a linear mixed model of every follow-up score of a
course of care on a logit-transformed scale, with the baseline score and
case-mix covariates, a piecewise-linear time trend and a random intercept
per course, fitted by profiled REML (:mod:`.recovery_fit`). Predictions are
conditional on the course's own follow-up scores so far (the BLUP of its
intercept); a course with only a baseline gets the marginal prediction.
Its uses (courses not on track, the outcome at a fixed time against the
expectation, effectiveness) are in :mod:`.recovery_use`.

Over 400 lines on purpose: the model object (its coding, predictions and
persistence) and the fit with its temporal validation read together; the
likelihood is in :mod:`.recovery_fit` and the data it reads in
:mod:`.recovery_data`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..clinic import Clinic
from .recovery_data import (
    POOLED,
    RecoveryModelError,
    baseline_band,
    covariate_levels,
    outcome_data,
    outcome_scale,
)
from .recovery_fit import (
    OFFSET,
    MixedFit,
    choose_knots,
    conditional_moments,
    fit_random_intercept,
    from_z,
    time_basis,
    to_z,
)

#: Covariates the model knows; categorical ones are treatment-coded.
COVARIATES = ("baseline", "body_region", "duration_band", "age_band", "sex")
CATEGORICAL = ("body_region", "duration_band", "age_band", "sex")
#: Share of courses (by start date) fitted in the temporal validation; the rest are predicted.
TRAIN_SHARE = 0.75
#: Fewest later courses the temporal validation predicts.
MIN_TEST_COURSES = 20
#: Fewest fitted courses a "patients like you" cell must hold to be kept (and shown).
MIN_SIMILAR = 11
#: Validation coverage must lie within level +- this to show the band.
COVERAGE_TOLERANCE = 0.10
#: Columns of ``validation_predictions`` (the one-step predictions of the validation, without IDs).
VALIDATION_COLUMNS = ["day", "observed", "expected", "lower", "upper", "position"]
ONE_STEP_COLUMNS = ["episode_id", "day", "date", "observed", "expected", "lower", "upper", "position"]


@dataclass(eq=False)
class ExpectedRecovery:
    """A fitted expected-recovery model: parameters, coding, counts and validation figures, no patient rows.

    Attributes
    ----------
    outcome : str
        ``pain`` or a PROM instrument (``NDI``, ``ODI``, ``PSFS``, ``LEFS``, ``QuickDASH``).
    better : {"lower", "higher"}
    scale : (float, float)
        The outcome's bounds; scores and intervals stay inside.
    level : float
        Level of the prediction intervals (0.8: an 80% band).
    names, coefficients, covariance
        Fixed effects (z scale), in design order, and their covariance.
    course_variance, residual_variance : float
        ``tau2`` (random intercept per course) and ``s2``, z scale.
    knots : tuple of float
        Knots of the time trend, days since the course started; ``day_max``: beyond it the trend is flat.
    baseline_center : float
        Mean transformed baseline of the fitted courses (the baseline enters centred).
    levels : dict
        Per categorical covariate: ``reference``, ``levels`` (coded), ``pooled`` (rare levels pooled as ``other``).
    dropped : dict
        Covariate (or design column) -> short reason it is not in the model.
    n_courses, n_observations : int
        Courses with a follow-up score and follow-up scores in the fit.
    validation : dict
        Temporal validation: ``status``, ``cutoff`` (start date), ``n_courses_train``,
        ``n_courses_test``, ``n_predictions``, ``coverage`` (share of the
        later courses' scores inside the band, each predicted from the
        course's earlier scores), ``coverage_like_you`` (first follow-ups
        only: the baseline-only band), ``coverage_updated`` (the others),
        ``max_day_checked`` (90% of the checked scores fell by this day:
        the band is validated up to it), ``mae_model``,
        ``mae_carry_forward`` (assuming the baseline stays),
        ``mae_last_forward`` (assuming the previous score stays), ``level``.
    available : bool
        Whether reports may show the expected course; ``reason`` says why not
        (``too_few_courses``, ``not_validated``, ``poor_coverage`` and figures).
    similar_counts : DataFrame
        Fitted courses per ``body_region`` (as the model codes it: rare
        regions pooled) x ``baseline_band`` (``n_courses``): counts only,
        and only cells of at least :data:`MIN_SIMILAR` courses (a smaller
        cell is left out, so a saved model never holds a small count).
    validation_predictions : DataFrame
        The temporal validation's one-step predictions of the later courses'
        scores (``day``, ``observed``, ``expected``, ``lower``, ``upper``,
        ``position``; no IDs), for an out-of-sample calibration table
        (:func:`calibration_table`). Held in memory only: never saved, so a
        loaded model has none.
    """

    outcome: str
    better: str
    scale: tuple[float, float]
    level: float
    names: tuple[str, ...] = ()
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    covariance: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    course_variance: float = float("nan")
    residual_variance: float = float("nan")
    log_likelihood: float = float("nan")
    knots: tuple[float, ...] = ()
    day_max: float = float("nan")
    baseline_center: float = 0.0
    levels: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)
    n_courses: int = 0
    n_observations: int = 0
    validation: dict = field(default_factory=dict)
    available: bool = False
    reason: str | None = None
    similar_counts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"body_region": [], "baseline_band": [], "n_courses": []})
    )
    offset: float = OFFSET
    validation_predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype=float) for c in VALIDATION_COLUMNS}), repr=False
    )

    @property
    def fitted(self) -> bool:
        return len(self.coefficients) > 0

    def _fit(self) -> MixedFit:
        if not self.fitted:
            raise RecoveryModelError(f"the expected-recovery model was not fitted ({self.reason})")
        return MixedFit(
            self.coefficients, self.covariance, self.residual_variance, self.course_variance, self.log_likelihood, 0, 0
        )

    # ---------------------------------------------------------------- design

    def _course_columns(self, courses: pd.DataFrame) -> dict[str, np.ndarray]:
        columns = {"intercept": np.ones(len(courses))}
        if "baseline" in self.names:
            lo, hi = self.scale
            columns["baseline"] = to_z(courses["baseline"], lo, hi, self.offset) - self.baseline_center
        for name, coding in self.levels.items():
            value = self._coded(name, courses[name])
            for level in coding["levels"]:
                columns[f"{name}[{level}]"] = (value == level).astype(float)
        return columns

    def _coded(self, name: str, values: pd.Series) -> np.ndarray:
        """A categorical covariate's values as the model codes them (unseen and rare levels pooled); raw text when it is not in the model."""
        raw = values.astype(str).to_numpy(dtype=object)
        coding = self.levels.get(name)
        if coding is None:
            return raw
        kept = {coding["reference"], *coding["levels"]}
        fallback = POOLED if POOLED in kept else coding["reference"]
        return np.where(np.isin(raw, list(kept)), raw, fallback)

    def _design(self, courses: pd.DataFrame, course: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Design rows for (course index, day) pairs, columns in ``self.names`` order."""
        columns = {k: v[course] for k, v in self._course_columns(courses).items()}
        basis = time_basis(days, self.knots, self.day_max)
        columns["week"] = basis[:, 0]
        for k, knot in enumerate(self.knots):
            columns[f"week_after_day_{knot:g}"] = basis[:, k + 1]
        if "baseline" in columns:
            columns["baseline:week"] = columns["baseline"] * basis[:, 0]
        return (
            np.column_stack([columns[name] for name in self.names]) if len(course) else np.zeros((0, len(self.names)))
        )

    def interval(self, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(expected, lower, upper) on the outcome's scale from a z-scale mean and variance (normal quantiles at ``level``)."""
        from scipy.special import ndtri

        lo, hi = self.scale
        half = ndtri(0.5 + self.level / 2) * np.sqrt(var)
        return (from_z(mean, lo, hi, self.offset), from_z(mean - half, lo, hi, self.offset),
                from_z(mean + half, lo, hi, self.offset))  # fmt: skip

    def mean_score(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """Mean on the outcome's scale of a new score with z-scale ``mean`` and ``var``.

        The back-transform is clipped at the scale's ends, so the mean is
        the ends times the normal tail probabilities beyond them plus the
        integral between them, taken over standard normal units within 10
        SDs (Gauss-Legendre, 96 nodes).
        """
        from scipy.special import ndtr

        lo, hi = self.scale
        z_lo, z_hi = to_z(np.array([lo, hi]), lo, hi, self.offset)
        mean = np.atleast_1d(np.asarray(mean, dtype=float))
        sd = np.sqrt(np.atleast_1d(np.asarray(var, dtype=float)))
        u_lo, u_hi = (z_lo - mean) / sd, (z_hi - mean) / sd
        a, b = np.clip(u_lo, -10, 10), np.clip(u_hi, -10, 10)
        nodes, weights = np.polynomial.legendre.leggauss(96)
        u = (a + b)[:, None] / 2 + (b - a)[:, None] / 2 * nodes
        density = np.exp(-0.5 * u**2) / np.sqrt(2 * np.pi)
        middle = (from_z(mean[:, None] + sd[:, None] * u, lo, hi, self.offset) * density) @ weights * (b - a) / 2
        return lo * ndtr(u_lo) + hi * ndtr(-u_hi) + middle

    def marginal_moments(
        self, courses: pd.DataFrame, course: np.ndarray, days: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """z-scale mean and variance of a new score of ``courses`` (from :func:`outcome_data`) at ``days``, from baseline and case mix only."""
        x = self._design(courses, course, days)
        zero = np.zeros(len(course))
        return conditional_moments(x @ self.coefficients, x, zero, zero, self._fit())

    def _residuals(self, courses: pd.DataFrame, follow: pd.DataFrame) -> np.ndarray:
        lo, hi = self.scale
        x = self._design(courses, follow["course"].to_numpy(), follow["day"].to_numpy())
        return to_z(follow["y"], lo, hi, self.offset) - x @ self.coefficients

    # ---------------------------------------------------------------- predictions

    def predict(self, clinic: Clinic, at_days, *, conditional: bool = True) -> pd.DataFrame:
        """Expected score and prediction band of every course with a baseline, given all its follow-ups so far.

        Parameters
        ----------
        clinic : Clinic
            Courses (``clinic.episodes``) to predict, with their scores.
        at_days : sequence of float
            Days since the course started.
        conditional : bool
            True (default): updated by the course's own follow-up scores.
            False: the "patients like you" prediction from its baseline and
            case mix only, for every course (``n_conditioned`` 0).

        Returns
        -------
        DataFrame
            One row per course and day: ``episode_id``, ``day``, ``expected``
            (median of a new score on the outcome's scale), ``lower``,
            ``upper`` (prediction interval at ``level`` for a new observed
            score), ``n_conditioned`` (follow-up scores it is conditioned on;
            0: the "patients like you" prediction).
        """
        fit = self._fit()
        courses, follow = outcome_data(clinic, self.outcome)
        days = np.asarray(at_days, dtype=float).ravel()
        n = len(courses)
        residual = self._residuals(courses, follow)
        course_of = follow["course"].to_numpy()
        sums = np.bincount(course_of, residual, minlength=n)
        counts = np.bincount(course_of, minlength=n).astype(float)
        if not conditional:
            sums, counts = np.zeros(n), np.zeros(n)
        course = np.repeat(np.arange(n), len(days))
        day = np.tile(days, n)
        x = self._design(courses, course, day)
        mean, var = conditional_moments(x @ self.coefficients, x, sums[course], counts[course], fit)
        expected, lower, upper = self.interval(mean, var)
        return pd.DataFrame(
            {
                "episode_id": courses["episode_id"].to_numpy()[course],
                "day": day,
                "expected": expected,
                "lower": lower,
                "upper": upper,
                "n_conditioned": counts[course].astype("int64"),
            }
        )

    def _one_step(self, courses: pd.DataFrame, follow: pd.DataFrame) -> pd.DataFrame:
        fit = self._fit()
        course = follow["course"].to_numpy()
        x = self._design(courses, course, follow["day"].to_numpy())
        fixed = x @ self.coefficients
        lo, hi = self.scale
        residual = to_z(follow["y"], lo, hi, self.offset) - fixed
        starts = np.flatnonzero(np.r_[True, course[1:] != course[:-1]]) if len(course) else np.zeros(0, dtype=int)
        start_of = np.repeat(starts, np.diff(np.r_[starts, len(course)]))
        cumulative = np.cumsum(residual)
        before = cumulative - residual
        prior_sum = before - (before[start_of] if len(course) else before)
        prior_n = (np.arange(len(course)) - start_of).astype(float)
        mean, var = conditional_moments(fixed, x, prior_sum, prior_n, fit)
        expected, lower, upper = self.interval(mean, var)
        observed = follow["y"].to_numpy(dtype=float)
        above, below = observed > upper, observed < lower
        worse, better = (above, below) if self.better == "lower" else (below, above)
        return pd.DataFrame(
            {
                "episode_id": courses["episode_id"].to_numpy()[course],
                "day": follow["day"].to_numpy(),
                "date": follow["date"].to_numpy(),
                "observed": observed,
                "expected": expected,
                "lower": lower,
                "upper": upper,
                "position": np.select([worse, better], ["worse", "better"], default="within"),
            }
        )

    def one_step(self, clinic: Clinic) -> pd.DataFrame:
        """Every follow-up score against its prediction from the course's earlier follow-ups only.

        Returns
        -------
        DataFrame
            One row per follow-up score, by course then date: ``episode_id``,
            ``day`` (since the course started), ``date``, ``observed``,
            ``expected``, ``lower``, ``upper`` (band at ``level``),
            ``position`` (``better``, ``within`` or ``worse`` than the band,
            in the direction of better).
        """
        return self._one_step(*outcome_data(clinic, self.outcome))

    def similar(self, clinic: Clinic) -> pd.DataFrame:
        """How many fitted courses share each course's body region and baseline band.

        The count is of courses of care (a patient with two courses counts
        twice), and includes the course itself when it was fitted.

        Returns
        -------
        DataFrame
            One row per course with a baseline: ``episode_id``, ``n_similar``
            (0 when its cell held fewer than :data:`MIN_SIMILAR` fitted courses).
        """
        courses, _ = outcome_data(clinic, self.outcome)
        keys = pd.DataFrame(
            {
                "body_region": self._coded("body_region", courses["body_region"]),
                "baseline_band": baseline_band(courses["baseline"], *self.scale),
            }
        )
        found = keys.merge(self.similar_counts, on=["body_region", "baseline_band"], how="left")
        return pd.DataFrame(
            {
                "episode_id": courses["episode_id"].to_numpy(),
                "n_similar": found["n_courses"].fillna(0).to_numpy(dtype="int64"),
            }
        )

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict:
        """Parameters, coding, counts and validation figures, as JSON-ready values (no patient rows, no IDs)."""
        return {
            "format": "needling-analytics expected recovery 1",
            "outcome": self.outcome, "better": self.better, "scale": list(self.scale), "level": self.level,
            "names": list(self.names), "coefficients": self.coefficients.tolist(), "covariance": self.covariance.tolist(),
            "course_variance": self.course_variance, "residual_variance": self.residual_variance,
            "log_likelihood": self.log_likelihood, "knots": list(self.knots), "day_max": self.day_max,
            "baseline_center": self.baseline_center, "levels": self.levels, "dropped": self.dropped,
            "n_courses": self.n_courses, "n_observations": self.n_observations, "validation": self.validation,
            "available": self.available, "reason": self.reason, "offset": self.offset,
            "similar_counts": self.similar_counts.astype({"n_courses": "int64"}).to_dict(orient="records"),
        }  # fmt: skip

    def save(self, path) -> Path:
        """Write the model as JSON (parameters, knots, levels, counts, validation; no patient rows or IDs)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True), encoding="utf-8")
        return path


def load_expected_recovery(path: str | Path) -> ExpectedRecovery:
    """A model written by :meth:`ExpectedRecovery.save`, e.g. fitted once on a group's pooled data.

    Returns
    -------
    ExpectedRecovery
        The same parameters: its predictions are identical to the saved model's.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data.pop("format", None)
    p = len(data["names"])
    return ExpectedRecovery(
        **{
            **data,
            "scale": tuple(data["scale"]),
            "names": tuple(data["names"]),
            "knots": tuple(data["knots"]),
            "coefficients": np.asarray(data["coefficients"], dtype=float),
            "covariance": np.asarray(data["covariance"], dtype=float).reshape(p, p),
            "similar_counts": pd.DataFrame(
                data["similar_counts"], columns=["body_region", "baseline_band", "n_courses"]
            ),
        }
    )


def _fit_courses(
    courses: pd.DataFrame, follow: pd.DataFrame, *, outcome: str, covariates: tuple[str, ...], level: float
) -> ExpectedRecovery:
    """Fit the model on ``courses`` (those with follow-ups) and ``follow``; no validation."""
    better, lo, hi = outcome_scale(outcome)
    model = ExpectedRecovery(outcome=outcome, better=better, scale=(lo, hi), level=level)
    has_follow = np.bincount(follow["course"].to_numpy(), minlength=len(courses)) > 0
    fitted = courses[has_follow]
    names = ["intercept"]
    if "baseline" in covariates:
        z = to_z(fitted["baseline"], lo, hi)
        if np.ptp(z) > 0:
            names.append("baseline")
            model.baseline_center = float(np.mean(z))
        else:
            model.dropped["baseline"] = "one_level: the same baseline for every fitted course"
    for name in CATEGORICAL:
        if name in covariates:
            coding, reason = covariate_levels(fitted[name])
            if coding is None:
                model.dropped[name] = reason
            else:
                model.levels[name] = coding
                names += [f"{name}[{level}]" for level in coding["levels"]]
    days = follow["day"].to_numpy()
    model.knots = choose_knots(days)
    model.day_max = float(days.max())
    names += ["week", *[f"week_after_day_{k:g}" for k in model.knots]]
    if "baseline" in names:
        names.append("baseline:week")
    model.names = tuple(names)
    x = model._design(courses, follow["course"].to_numpy(), days)
    # a column the others determine (a level only found with another) cannot be estimated: drop it
    r = np.abs(np.diag(np.linalg.qr(x / np.maximum(np.linalg.norm(x, axis=0), 1e-300), mode="r")))
    aliased = [n for n, v in zip(names, r, strict=True) if v < 1e-8]
    for name in aliased:
        model.dropped[name] = "collinear: determined by the other columns"
    keep = np.isin(names, aliased, invert=True)
    model.names = tuple(name for name, kept in zip(names, keep, strict=True) if kept)
    fit = fit_random_intercept(x[:, keep], to_z(follow["y"], lo, hi), follow["course"].to_numpy())
    model.coefficients, model.covariance = fit.beta, fit.cov_beta
    model.course_variance, model.residual_variance, model.log_likelihood = fit.tau2, fit.s2, fit.llf
    model.n_courses, model.n_observations = int(has_follow.sum()), len(follow)
    bands = pd.DataFrame(
        {
            "body_region": model._coded("body_region", fitted["body_region"]),
            "baseline_band": baseline_band(fitted["baseline"], lo, hi),
        }
    )
    counts = bands.value_counts().rename("n_courses").reset_index()
    model.similar_counts = counts[counts["n_courses"] >= MIN_SIMILAR].sort_values(
        ["body_region", "baseline_band"], ignore_index=True
    )
    model.available = True
    return model


def _validate(
    courses: pd.DataFrame, follow: pd.DataFrame, *, min_courses: int, **options
) -> tuple[dict, pd.DataFrame | None]:
    """Temporal validation: fit on the earlier ~75% of courses (by start date), predict the later ones one step ahead.

    Returns the figures and the one-step predictions (None when too few courses to validate).
    """
    level = options["level"]
    counts = np.bincount(follow["course"].to_numpy(), minlength=len(courses))
    starts = np.sort(courses["start_date"].to_numpy()[counts > 0])
    cutoff = starts[int(TRAIN_SHARE * len(starts))] if len(starts) else np.datetime64("NaT")
    is_train = courses["start_date"].to_numpy() < cutoff
    n_train = int(((counts > 0) & is_train).sum())
    n_test = int(((counts > 0) & ~is_train).sum())
    out = {"status": "too_few_courses", "cutoff": str(pd.Timestamp(cutoff).date()) if len(starts) else None,
           "n_courses_train": n_train, "n_courses_test": n_test, "n_predictions": 0, "coverage": None,
           "coverage_like_you": None, "coverage_updated": None, "max_day_checked": None,
           "mae_model": None, "mae_carry_forward": None, "mae_last_forward": None, "level": level}  # fmt: skip
    if n_train < min_courses or n_test < MIN_TEST_COURSES:
        return out, None
    in_train = is_train[follow["course"].to_numpy()]
    model = _fit_courses(courses, follow[in_train].reset_index(drop=True), **options)
    test = follow[~in_train].reset_index(drop=True)
    steps = model._one_step(courses, test)
    observed = steps["observed"].to_numpy()
    course = test["course"].to_numpy()
    first = np.r_[True, course[1:] != course[:-1]] if len(course) else np.zeros(0, dtype=bool)
    baseline = courses["baseline"].to_numpy()[course]
    previous = np.where(first, baseline, np.r_[np.nan, observed[:-1]])
    inside = (observed >= steps["lower"].to_numpy()) & (observed <= steps["upper"].to_numpy())
    return out | {
        "status": "done",
        "n_predictions": len(steps),
        "coverage": float(inside.mean()),
        "coverage_like_you": float(inside[first].mean()),
        "coverage_updated": float(inside[~first].mean()) if (~first).any() else None,
        "max_day_checked": float(np.quantile(test["day"], 0.9)),
        "mae_model": float(np.mean(np.abs(observed - steps["expected"].to_numpy()))),
        "mae_carry_forward": float(np.mean(np.abs(observed - baseline))),
        "mae_last_forward": float(np.mean(np.abs(observed - previous))),
    }, steps[VALIDATION_COLUMNS]


def fit_expected_recovery(
    clinic: Clinic,
    *,
    outcome: str = "pain",
    covariates: tuple[str, ...] = COVARIATES,
    level: float = 0.8,
    min_courses: int = 50,
    validate: bool = True,
) -> ExpectedRecovery:
    """Fit the expected-recovery model on the courses of care in ``clinic``, with its temporal validation.

    Parameters
    ----------
    clinic : Clinic
        Courses (episodes) with their scores and case mix (patients: age, sex).
    outcome : str
        ``"pain"`` (NPRS, session ``pain_pre`` and follow-up assessments) or
        a PROM instrument (``NDI``, ``ODI``, ``PSFS``, ``LEFS``, ``QuickDASH``).
    covariates : tuple of str
        Any of ``baseline``, ``body_region``, ``duration_band``, ``age_band``, ``sex``.
    level : float
        Level of the prediction intervals (default 0.8).
    min_courses : int
        Fewest courses with a follow-up score to fit at all (default 50), and to fit the validation's training part.
    validate : bool
        Run the temporal validation (default True); without it ``available`` rests on the fit alone.

    Returns
    -------
    ExpectedRecovery
        The model fitted on every course with a baseline and a follow-up
        score. Too few courses: not fitted, ``available`` False, ``reason``
        ``too_few_courses`` (no exception). Validation coverage outside
        ``level`` +- 0.10: fitted, ``available`` False, ``reason``
        ``poor_coverage``; validation impossible (too few earlier or later
        courses): ``not_validated``.
    """
    unknown = sorted(set(covariates) - set(COVARIATES))
    if unknown:
        raise ValueError(f"`covariates` has unknown {unknown}; allowed: {list(COVARIATES)}")
    if not 0 < level < 1:
        raise ValueError(f"`level` must be a fraction between 0 and 1 (0.8 means 80%), got {level!r}")
    better, lo, hi = outcome_scale(outcome)
    courses, follow = outcome_data(clinic, outcome)
    options = {"outcome": outcome, "covariates": tuple(covariates), "level": level}
    n_courses = int(follow["course"].nunique())
    if n_courses < max(min_courses, 2):  # two courses at the very least: one course cannot separate tau2 from s2
        model = ExpectedRecovery(outcome=outcome, better=better, scale=(lo, hi), level=level, n_courses=n_courses)
        model.n_observations = len(follow)
        model.reason = f"too_few_courses: {n_courses} courses with a follow-up score, {min_courses} needed"
        return model
    validation, steps = (
        _validate(courses, follow, min_courses=min_courses, **options) if validate else ({"status": "not_run"}, None)
    )
    model = _fit_courses(courses, follow, **options)
    model.validation = validation
    if steps is not None:
        model.validation_predictions = steps.reset_index(drop=True)
    coverage = validation.get("coverage")
    if validate and coverage is None:
        model.available = False
        model.reason = (
            f"not_validated: {validation['n_courses_train']} earlier and {validation['n_courses_test']} later courses, "
            f"{min_courses} and {MIN_TEST_COURSES} needed"
        )
    elif coverage is not None and abs(coverage - level) > COVERAGE_TOLERANCE + 1e-12:
        model.available = False
        model.reason = (
            f"poor_coverage: {coverage:.2f} outside {level - COVERAGE_TOLERANCE:.2f}-{level + COVERAGE_TOLERANCE:.2f}"
        )
    return model
