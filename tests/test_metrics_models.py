"""Outcome trajectories: the linear mixed model wrapper against lme4 and simulated data."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from needling_analytics.metrics import models
from needling_analytics.metrics.models import ModelWarning, TrajectoryResult, fit_trajectory
from needling_analytics.metrics.pain import session_pain

# The dietox data (weights of 72 slaughter pigs weighed weekly for 12 weeks;
# Lauridsen et al. 1999, shipped with R's geepack, GPL-3), vendored from
# statsmodels' copy: source and licence in tests/data/README.md.
DIETOX = Path(__file__).parent / "data" / "dietox.csv"

# Reference output of R lme4 on dietox, as recorded in statsmodels'
# regression/tests/test_lme.py (test_dietox, test_dietox_slopes) with the R
# calls that produced them:
#   lmer(Weight ~ Time + (1 | Pig), data=dietox[, REML=FALSE])
#   lmer(Weight ~ Time + (1 + Time | Pig), data=dietox[, REML=FALSE])
# fixef(), sqrt(diag(vcov())), attr(VarCorr(), "sc")^2, VarCorr()[[1]].
LME4 = {
    ("REML", False): {
        "fixef": [15.723523, 6.942505],
        "se": [0.78805374, 0.03338727],
        "sigma2": 11.36692,
        "cov_re": [[40.39395]],
    },
    ("ML", False): {
        "fixef": [15.723517, 6.942506],
        "se": [0.7829397, 0.0333661],
        "sigma2": 11.35251,
        "cov_re": [[39.82097]],
    },
    ("REML", True): {
        "fixef": [15.738650, 6.939014],
        "se": [0.5501253, 0.0798254],
        "sigma2": 6.03745,
        "cov_re": [[19.4934552, 0.2938323], [0.2938323, 0.4160620]],
    },
    ("ML", True): {
        "fixef": [15.73863, 6.93902],
        "se": [0.54629282, 0.07926954],
        "sigma2": 6.037441,
        "cov_re": [[19.190922, 0.293568], [0.293568, 0.409695]],
    },
}


@pytest.fixture(scope="module")
def dietox() -> pd.DataFrame:
    return pd.read_csv(DIETOX)  # vendored: the lme4 check never skips


@pytest.mark.parametrize(("method", "random_slope"), list(LME4))
def test_dietox_matches_lme4(dietox, method, random_slope):
    ref = LME4[(method, random_slope)]
    # lme4 and statsmodels optimise differently: the random-intercept fits
    # agree to ~1e-5, the random-slope ones to ~5e-4 (variance components).
    rtol = 1e-3 if random_slope else 1e-4
    fit = fit_trajectory(
        dietox,
        outcome="Weight",
        time="Time",
        subject="Pig",
        random_slope=random_slope,
        reml=method == "REML",
        time_model="linear",
    )

    assert isinstance(fit, TrajectoryResult)
    assert fit.fixed_effects.index.tolist() == ["Intercept", "Time"]
    assert fit.fixed_effects.columns.tolist() == ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    np.testing.assert_allclose(fit.fixed_effects["estimate"], ref["fixef"], rtol=1e-5)
    np.testing.assert_allclose(fit.fixed_effects["std_error"], ref["se"], rtol=rtol)
    np.testing.assert_allclose(fit.variance_components["residual_sd"], np.sqrt(ref["sigma2"]), rtol=rtol)
    cov = np.array(ref["cov_re"])
    np.testing.assert_allclose(fit.variance_components["subject_sd"], np.sqrt(cov[0, 0]), rtol=rtol)
    if random_slope:
        np.testing.assert_allclose(fit.variance_components["slope_sd"], np.sqrt(cov[1, 1]), rtol=rtol)
        corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])  # about 0.103
        np.testing.assert_allclose(fit.variance_components["intercept_slope_corr"], corr, rtol=1e-2)
        assert fit.variance_components.index.tolist() == [
            "subject_sd",
            "residual_sd",
            "slope_sd",
            "intercept_slope_corr",
        ]
    else:
        assert fit.variance_components.index.tolist() == ["subject_sd", "residual_sd"]

    # Wald intervals: estimate -/+ 1.959964 x SE; z-test p-values.
    fe = fit.fixed_effects
    np.testing.assert_allclose(fe["ci_lower"], fe["estimate"] - 1.959964 * fe["std_error"], rtol=1e-6)
    np.testing.assert_allclose(fe["ci_upper"], fe["estimate"] + 1.959964 * fe["std_error"], rtol=1e-6)
    assert (fit.n_subjects, fit.n_observations, fit.n_dropped) == (72, 861, 0)
    assert fit.converged and fit.method == method
    slope_part = "(1 + Time | Pig)" if random_slope else "(1 | Pig)"
    assert fit.formula == f"Weight ~ Time + {slope_part}"
    assert fit.model_result.nobs == 861


def test_rows_with_a_missing_covariate_are_dropped_and_counted(dietox):
    # Feed is missing at each pig's first weighing (72 rows).
    expected_dropped = int(dietox["Feed"].isna().sum())
    assert expected_dropped == 72
    fit = fit_trajectory(
        dietox, outcome="Weight", time="Time", subject="Pig", covariates="Feed", time_model="linear", random_slope=False
    )
    assert (fit.n_dropped, fit.n_observations) == (72, 861 - 72)
    assert fit.fixed_effects.index.tolist() == ["Intercept", "Time", "Feed"]
    same = fit_trajectory(
        dietox.dropna(subset=["Feed"]),
        outcome="Weight",
        time="Time",
        subject="Pig",
        covariates=["Feed"],
        time_model="linear",
        random_slope=False,
    )
    np.testing.assert_allclose(fit.fixed_effects["estimate"], same.fixed_effects["estimate"], rtol=1e-10)
    assert same.n_dropped == 0


def simulated_pain(n_subjects: int, n_visits: int, *, slope_sd: float = 0.0, seed: int = 1) -> pd.DataFrame:
    """Long table with known parameters: intercept 6, slope -0.4 per week, sex M +0.5, subject SD 1.2, residual SD 0.8."""
    rng = np.random.default_rng(seed)
    weeks = np.tile(np.arange(n_visits, dtype=float), n_subjects)
    sex = rng.choice(np.array(["F", "M"]), n_subjects)
    u0 = rng.normal(0.0, 1.2, n_subjects)
    u1 = rng.normal(0.0, slope_sd, n_subjects) if slope_sd else np.zeros(n_subjects)
    per = np.repeat
    pain = 6.0 + per(u0, n_visits) + (-0.4 + per(u1, n_visits)) * weeks + 0.5 * (per(sex, n_visits) == "M")
    pain = pain + rng.normal(0.0, 0.8, n_subjects * n_visits)
    ids = pd.array([f"P{i:05d}" for i in range(n_subjects)], dtype="str")
    return pd.DataFrame(
        {
            "patient_id": np.repeat(ids, n_visits),
            "weeks": weeks,
            "pain": pain,
            "sex": pd.array(per(sex, n_visits), dtype="str"),
        }
    )


def test_simulated_random_intercept_parameters_are_recovered():
    data = simulated_pain(400, 8)
    fit = fit_trajectory(
        data,
        outcome="pain",
        time="weeks",
        covariates=["sex"],
        time_model="linear",
        random_slope=False,
        subject="patient_id",
    )
    fe = fit.fixed_effects
    assert fe.index.tolist() == ["Intercept", "sex[T.M]", "weeks"]
    truth = pd.Series({"Intercept": 6.0, "sex[T.M]": 0.5, "weeks": -0.4})
    # Within 4 standard errors, and the standard errors are small (large n).
    assert ((fe["estimate"] - truth).abs() < 4 * fe["std_error"]).all()
    assert (fe["std_error"] < 0.15).all()
    # SE of an SD estimate is about SD / sqrt(2 x df): 0.04 and 0.011 here.
    assert fit.variance_components["subject_sd"] == pytest.approx(1.2, abs=0.15)
    assert fit.variance_components["residual_sd"] == pytest.approx(0.8, abs=0.04)
    assert (fit.n_subjects, fit.n_observations, fit.n_dropped) == (400, 3200, 0)
    assert fit.converged and fit.method == "REML"


def test_random_slope_adds_slope_components_and_recovers_them():
    data = simulated_pain(300, 6, slope_sd=0.3, seed=2)
    fit = fit_trajectory(
        data, outcome="pain", time="weeks", random_slope=True, reml=False, time_model="linear", subject="patient_id"
    )
    vc = fit.variance_components
    assert vc.index.tolist() == ["subject_sd", "residual_sd", "slope_sd", "intercept_slope_corr"]
    assert vc["slope_sd"] == pytest.approx(0.3, abs=0.06)
    assert vc["subject_sd"] == pytest.approx(1.2, abs=0.2)
    assert vc["residual_sd"] == pytest.approx(0.8, abs=0.06)
    assert -1 <= vc["intercept_slope_corr"] <= 1
    assert fit.fixed_effects.loc["weeks", "estimate"] == pytest.approx(
        -0.4, abs=4 * fit.fixed_effects.loc["weeks", "std_error"]
    )
    assert fit.method == "ML" and fit.formula == "pain ~ weeks + (1 + weeks | patient_id)"


def test_missing_outcome_time_and_subject_rows_are_dropped_and_input_untouched():
    data = simulated_pain(40, 4, seed=3)
    data.loc[[0, 5], "pain"] = np.nan
    data.loc[[9], "weeks"] = np.nan
    data.loc[[13, 14], "patient_id"] = pd.NA
    before = data.copy()
    fit = fit_trajectory(
        data, outcome="pain", time="weeks", time_model="linear", random_slope=False, subject="patient_id"
    )
    assert fit.n_dropped == 5 and fit.n_observations == 160 - 5
    pd.testing.assert_frame_equal(data, before)


def test_no_subject_variation_warns_once_with_a_project_warning():
    # Every subject identical apart from noise: the subject variance is at
    # the boundary (0), which statsmodels reports as a ConvergenceWarning.
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"patient_id": np.repeat(np.arange(30), 4), "weeks": np.tile(np.arange(4.0), 30)})
    data["pain"] = 5 - 0.5 * data["weeks"] + rng.normal(0, 1, len(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_trajectory(
            data, outcome="pain", time="weeks", time_model="linear", random_slope=False, subject="patient_id"
        )
    assert [w.category for w in caught] == [ModelWarning]
    assert "boundary" in str(caught[0].message)
    assert any("boundary" in m for m in fit.fit_warnings)
    assert fit.variance_components["subject_sd"] < 0.2


def test_non_convergence_is_reported_not_leaked(monkeypatch, dietox):
    monkeypatch.setattr(models, "_MAXITER", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_trajectory(
            dietox, outcome="Weight", time="Time", subject="Pig", random_slope=True, time_model="linear"
        )
    assert [w.category for w in caught] == [ModelWarning]
    assert "did NOT converge" in str(caught[0].message)
    assert not fit.converged


def test_a_clean_fit_emits_no_warning(dietox):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_trajectory(dietox, outcome="Weight", time="Time", subject="Pig", time_model="linear", random_slope=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"outcome": "nope", "time": "weeks"}, r"`outcome` column 'nope' is not in `data`"),
        ({"outcome": "pain", "time": "day"}, r"`time` column 'day' is not in `data`"),
        (
            {"outcome": "pain", "time": "weeks", "subject": "episode_id"},
            r"`subject` column 'episode_id' is not in `data`",
        ),
        ({"outcome": "pain", "time": "weeks", "covariates": ["age"]}, r"`covariates` column 'age' is not in `data`"),
        (
            {"outcome": "pain", "time": "weeks", "covariates": "bad name"},
            r"`covariates` column 'bad name' cannot be used in a model formula",
        ),
        ({"outcome": "sex", "time": "weeks"}, r"`outcome` column 'sex' must be numeric, got dtype 'str'"),
        ({"outcome": "pain", "time": "weeks", "confidence": 95}, r"`confidence` must be between 0 and 1, got 95"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    data = simulated_pain(5, 3).assign(**{"bad name": 1.0})
    with pytest.raises(ValueError, match=match):
        fit_trajectory(data, **{"time_model": "linear", "random_slope": False, "subject": "patient_id", **kwargs})


def test_subject_column_needs_no_formula_name_and_result_is_frozen():
    data = simulated_pain(20, 4, seed=6).rename(columns={"patient_id": "patient id"})
    fit = fit_trajectory(
        data, outcome="pain", time="weeks", subject="patient id", time_model="linear", random_slope=False
    )
    assert fit.n_subjects == 20 and fit.formula == "pain ~ weeks + (1 | patient id)"
    with pytest.raises(AttributeError):
        fit.converged = False


def test_one_subject_or_constant_time_cannot_be_fitted():
    data = simulated_pain(5, 3)
    with pytest.raises(ValueError, match=r"`subject` column 'patient_id' has 1 subject\(s\) with complete rows"):
        fit_trajectory(
            data[data["patient_id"] == "P00000"],
            outcome="pain",
            time="weeks",
            time_model="linear",
            random_slope=False,
            subject="patient_id",
        )
    with pytest.raises(ValueError, match=r"`time` column 'weeks' does not vary"):
        fit_trajectory(
            data.assign(weeks=2.0),
            outcome="pain",
            time="weeks",
            time_model="linear",
            random_slope=False,
            subject="patient_id",
        )
    with pytest.raises(ValueError, match=r"`data` must be a DataFrame, got 'dict'"):
        fit_trajectory(
            {"pain": [1]}, outcome="pain", time="weeks", time_model="linear", random_slope=False, subject="patient_id"
        )


def test_collinear_covariates_are_refused_before_fitting():
    data = simulated_pain(30, 4, seed=5).assign(days=lambda f: 7 * f["weeks"], clinic="A")
    with pytest.raises(
        ValueError, match=r"fixed effects of pain ~ weeks \+ days are collinear: check that `covariates` \['days'\]"
    ):
        fit_trajectory(
            data,
            outcome="pain",
            time="weeks",
            covariates=["days"],
            time_model="linear",
            random_slope=False,
            subject="patient_id",
        )
    # A text covariate with a single level is fine: it adds no indicator column.
    fit = fit_trajectory(
        data,
        outcome="pain",
        time="weeks",
        covariates="clinic",
        time_model="linear",
        random_slope=False,
        subject="patient_id",
    )
    assert fit.fixed_effects.index.tolist() == ["Intercept", "weeks"]


def test_every_optimiser_failing_is_an_error(monkeypatch):
    monkeypatch.setattr(models, "_METHODS", ("newton",))  # refused by MixedLM
    with pytest.raises(
        ValueError, match=r"mixed model pain ~ weeks \+ \(1 \| patient_id\) could not be fitted: newton: method newton"
    ):
        fit_trajectory(
            simulated_pain(10, 3),
            outcome="pain",
            time="weeks",
            time_model="linear",
            random_slope=False,
            subject="patient_id",
        )


def test_generated_clinic_pain_and_rom_trajectories(demo_clinic):
    clinic = demo_clinic
    pain = session_pain(clinic)
    fit = fit_trajectory(
        pain,
        outcome="pain_pre",
        time="weeks_since_start",
        subject="episode_id",
        time_model="linear",
        random_slope=False,
    )
    assert fit.n_observations + fit.n_dropped == len(pain)
    assert fit.n_dropped == int(pain["pain_pre"].isna().sum())
    assert fit.n_subjects == pain.loc[pain["pain_pre"].notna(), "episode_id"].nunique()
    # The demo clinic's pain falls over a course of care.
    assert fit.fixed_effects.loc["weeks_since_start", "ci_upper"] < 0
    assert (fit.variance_components[["subject_sd", "residual_sd"]] > 0).all()

    rom = clinic.rom
    one = rom[(rom["joint"] == "cervical_spine") & (rom["movement"] == "rotation")]
    one = one.assign(days=(one["measured_on"] - one.groupby("episode_id")["measured_on"].transform("min")).dt.days)
    fit = fit_trajectory(
        one,
        outcome="degrees",
        time="days",
        subject="episode_id",
        covariates=["side"],
        time_model="linear",
        random_slope=False,
    )
    assert fit.n_observations == len(one) and "side[T.right]" in fit.fixed_effects.index
    assert fit.fixed_effects.loc["days", "estimate"] > 0  # range of motion recovers
