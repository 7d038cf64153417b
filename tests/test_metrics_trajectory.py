"""Issue 10, verdict 6: one trajectory per course of care, a random slope when the data support it,
a piecewise time model with the plateau, and no sentence quoting a fit that warned."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.stats import chi2

from needling_analytics.metrics import analyze_frequency, models
from needling_analytics.metrics.models import ModelWarning, fit_trajectory, mixture_lrt_p
from needling_analytics.reporting import text


def _frequency_helpers():
    """The constructed clinics of tests/test_metrics_frequency.py (``build``, ``long_courses``)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "_frequency_tests", Path(__file__).with_name("test_metrics_frequency.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def two_courses(n_patients=150, seed=0):
    """Each patient has two courses; time restarts at 0 in each. True slope -0.5 a week.

    Course 1: weekly readings weeks 0-7 starting near 7; course 2 (a milder recurrence): weeks
    0-2 starting near 4. Course intercepts vary (SD 1), residual SD 0.5.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for course, (start, weeks) in enumerate(((7.0, np.arange(8.0)), (4.0, np.arange(3.0))), start=1):
        u = rng.normal(0, 1.0, n_patients)
        for i in range(n_patients):
            pain = start + u[i] - 0.5 * weeks + rng.normal(0, 0.5, len(weeks))
            rows.append(
                pd.DataFrame(
                    {"patient_id": f"P{i:03d}", "episode_id": f"P{i:03d}-{course}", "weeks": weeks, "pain": pain}
                )
            )
    return pd.concat(rows, ignore_index=True)


@pytest.mark.slow
def test_episode_model_recovers_the_slope_where_the_patient_grouped_one_is_biased():
    data = two_courses()
    common = {"outcome": "pain", "time": "weeks", "time_model": "linear", "random_slope": False}
    by_episode = fit_trajectory(data, subject="episode_id", group="subject", **common)
    nested = fit_trajectory(data, **common)  # defaults: episode within patient
    by_patient = fit_trajectory(data, subject="patient_id", group="subject", **common)
    # hand fit: the within-course least-squares slope (each course centred on its own means)
    centred = data[["weeks", "pain"]] - data.groupby("episode_id")[["weeks", "pain"]].transform("mean")
    within = float((centred["weeks"] * centred["pain"]).sum() / (centred["weeks"] ** 2).sum())
    assert within == pytest.approx(-0.5, abs=0.03)
    for fit in (by_episode, nested):
        assert fit.fixed_effects.loc["weeks", "estimate"] == pytest.approx(-0.5, abs=0.03)
        assert fit.fixed_effects.loc["weeks", "estimate"] == pytest.approx(within, abs=0.01)
        assert fit.subject == "episode_id"
    # course intercepts are independent of the patient here: the patient level is estimated at 0
    # variance, so the nested model falls back to courses alone (the same model without the boundary)
    assert nested.grouping == "subject" and nested.n_patients == 150
    # grouped by patient, course 2's low early readings pull the slope towards 0
    assert by_patient.fixed_effects.loc["weeks", "estimate"] > -0.4
    assert by_patient.n_subjects == 150 and by_episode.n_subjects == 300


def slopes_data(slope_sd, n=120, seed=3):
    rng = np.random.default_rng(seed)
    weeks = np.tile(np.arange(6.0), n)
    u0 = np.repeat(rng.normal(0, 1.0, n), 6)
    u1 = np.repeat(rng.normal(0, slope_sd, n), 6) if slope_sd else 0.0
    pain = 6 + u0 + (-0.4 + u1) * weeks + rng.normal(0, 0.7, 6 * n)
    return pd.DataFrame({"episode_id": np.repeat([f"E{i:03d}" for i in range(n)], 6), "weeks": weeks, "pain": pain})


def hand_lrt_p(data):
    null = smf.mixedlm("pain ~ weeks", data, groups="episode_id").fit(reml=False, method="lbfgs")
    alt = smf.mixedlm("pain ~ weeks", data, groups="episode_id", re_formula="~weeks").fit(reml=False, method="lbfgs")
    d = max(2 * (alt.llf - null.llf), 0.0)
    return 0.5 * chi2.sf(d, 1) + 0.5 * chi2.sf(d, 2)


@pytest.mark.slow
@pytest.mark.parametrize(("slope_sd", "chosen"), [(0.4, True), (0.0, False)])
def test_random_slope_is_kept_only_when_the_mixture_lrt_rejects(slope_sd, chosen):
    data = slopes_data(slope_sd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        fit = fit_trajectory(data, outcome="pain", time="weeks", time_model="linear")
    assert fit.random_slope is chosen and fit.grouping == "subject"
    expected = hand_lrt_p(data)
    assert fit.slope_lrt_p == pytest.approx(expected, rel=1e-2, abs=1e-4)
    assert (fit.slope_lrt_p < 0.05) is chosen
    assert ("slope_sd" in fit.variance_components.index) is chosen
    assert ("(1 + weeks | episode_id)" in fit.formula) is chosen
    assert f"was {'kept' if chosen else 'not kept'} (likelihood-ratio test" in text.fit_summary(fit)
    # the reported REML fit (started from the ML estimates) is the one fitted directly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        direct = fit_trajectory(data, outcome="pain", time="weeks", time_model="linear", random_slope=chosen)
    np.testing.assert_allclose(fit.fixed_effects["estimate"], direct.fixed_effects["estimate"], atol=1e-4)
    np.testing.assert_allclose(fit.variance_components, direct.variance_components, atol=1e-3)


def test_mixture_lrt_p_matches_the_published_critical_value():
    # 50:50 chi2(1):chi2(2): the 5% critical value is 5.138 (Stram & Lee 1994, Table 1; Self & Liang 1987)
    assert mixture_lrt_p(0.0, 5.138 / 2) == pytest.approx(0.05, abs=2e-4)
    # 50:50 chi2(0):chi2(1): the 5% critical value is 2.706 (chi2(1) at 10%)
    assert mixture_lrt_p(0.0, 2.706 / 2, extra_parameters=1) == pytest.approx(0.05, abs=2e-4)
    assert mixture_lrt_p(1.0, 0.5) == pytest.approx(1.0, abs=1e-12)  # D < 0 counts as 0


def test_piecewise_design_columns_at_the_knot_by_hand():
    weeks = np.array([0.0, 3.0, 7.0, 7.5, 10.0])
    rng = np.random.default_rng(5)
    n = 40
    data = pd.DataFrame({"episode_id": np.repeat([f"E{i}" for i in range(n)], 5), "weeks": np.tile(weeks, n)})
    # true: -0.6 a week until week 7, then -0.1 a week (change of slope +0.5)
    truth = 7 - 0.6 * data["weeks"] + 0.5 * np.maximum(data["weeks"] - 7, 0)
    data["pain"] = truth + np.repeat(rng.normal(0, 1, n), 5) + rng.normal(0, 0.3, 5 * n)
    fit = fit_trajectory(data, outcome="pain", time="weeks", random_slope=False)
    assert fit.time_model == "piecewise" and fit.knots == (7.0,)
    assert fit.fixed_effects.index.tolist() == ["Intercept", "weeks", "weeks_after_7"]
    exog = pd.DataFrame(fit.model_result.model.exog, columns=fit.model_result.model.exog_names)
    np.testing.assert_allclose(exog["weeks_after_7"].iloc[:5], [0.0, 0.0, 0.0, 0.5, 3.0], atol=1e-12)
    np.testing.assert_allclose(exog["weeks"].iloc[:5], weeks, atol=1e-12)
    assert "change of slope at 7" in text.fit_summary(fit)
    fe = fit.fixed_effects["estimate"]
    assert fe["weeks"] == pytest.approx(-0.6, abs=0.05)
    assert fe["weeks"] + fe["weeks_after_7"] == pytest.approx(-0.1, abs=0.08)
    # a knot outside the observed times is dropped; the spline's df is capped at distinct times - 2
    assert fit_trajectory(data, outcome="pain", time="weeks", random_slope=False, knots=(12,)).knots == ()
    spline = fit_trajectory(data, outcome="pain", time="weeks", random_slope=False, time_model="spline", spline_df=9)
    assert spline.spline_df == 3 and len(spline.fixed_effects) == 4


def frequency_result():
    helpers = _frequency_helpers()
    courses, _ = helpers.long_courses(n=30, seed=6)
    return analyze_frequency(helpers.build(courses), random_slope=False)


def unconverged_fit():
    """Optimisers allowed one iteration each: the fit does not converge and warns."""
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"episode_id": np.repeat(np.arange(30), 4), "weeks_since_start": np.tile(np.arange(4.0), 30)})
    data["early_frequency"] = np.repeat(rng.uniform(0.5, 2.5, 30), 4)
    data["weeks_by_early_frequency"] = data["weeks_since_start"] * data["early_frequency"]
    data["pain_pre"] = 5 - 0.5 * data["weeks_since_start"] + rng.normal(0, 1, len(data))
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "_MAXITER", 1)
        warnings.simplefilter("ignore", ModelWarning)
        return fit_trajectory(
            data,
            outcome="pain_pre",
            time="weeks_since_start",
            time_model="linear",
            random_slope=False,
            covariates=["early_frequency", "weeks_by_early_frequency"],
        )


def test_a_fit_that_warned_is_never_quoted_only_the_caveat():
    result = frequency_result()
    fit = unconverged_fit()
    assert not fit.converged and fit.fit_warnings and "weeks_by_early_frequency" in fit.fixed_effects.index
    warned = dataclasses.replace(result, trajectory=fit)
    paragraph = text.frequency_paragraph(warned)
    assert "points a week" not in paragraph
    caveat = text.trajectory_caveat(warned)
    assert caveat and caveat in paragraph and paragraph.count("could not be fitted reliably") == 1
    # a boundary warning alone (converged) is not quoted either
    boundary = ("The MLE may be on the boundary of the parameter space.",)
    not_converged = dataclasses.replace(
        result, trajectory=dataclasses.replace(fit, fit_warnings=boundary, converged=True)
    )
    assert "points a week" not in text.frequency_paragraph(not_converged)
    assert text.trajectory_caveat(not_converged) == caveat
    # a clean fit is quoted, with no caveat
    clean = dataclasses.replace(result, trajectory=dataclasses.replace(fit, fit_warnings=(), converged=True))
    assert "points a week" in text.frequency_paragraph(clean) and text.trajectory_caveat(clean) is None


def test_nested_model_is_the_one_statsmodels_builds_from_its_variance_component_formula():
    """The nested designs are built from integer codes (fast); the fit must equal statsmodels' vc_formula model."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(40):
        patient = rng.normal(0, 1.0)
        for course in range(1 + (i % 3 == 0)):  # every third patient has two courses
            weeks = np.arange(6.0)
            level, slope = 6 + patient + rng.normal(0, 0.7), -0.5 + rng.normal(0, 0.3)
            pain = level + slope * weeks + rng.normal(0, 0.5, len(weeks))
            rows.append(
                pd.DataFrame({"patient_id": f"P{i}", "episode_id": f"P{i}-{course}", "weeks": weeks, "pain": pain})
            )
    data = pd.concat(rows, ignore_index=True)
    for slope in (False, True):
        fit = fit_trajectory(data, outcome="pain", time="weeks", time_model="linear", random_slope=slope)
        assert fit.grouping != "subject"  # the patient level is in the model
        vc = {"subject": "0 + C(episode_id)"} | ({"subject_slope": "0 + C(episode_id):weeks"} if slope else {})
        direct = smf.mixedlm("pain ~ weeks", data, groups="patient_id", re_formula="1", vc_formula=vc).fit(
            reml=True, method="bfgs", maxiter=1000
        )
        assert fit.fixed_effects["estimate"].to_numpy() == pytest.approx(direct.fe_params.to_numpy(), rel=1e-4)
        assert fit.fixed_effects["std_error"].to_numpy() == pytest.approx(direct.bse_fe.to_numpy(), rel=1e-3)
