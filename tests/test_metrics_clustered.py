"""Responder-rate intervals clustered by patient (Korn & Graubard 1998), checked independently."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from needling_analytics.metrics import responder_sensitivity, summarize_responders
from needling_analytics.metrics._clustered import clustered_interval
from needling_analytics.metrics._common import clopper_pearson


def assessed_courses(patients, responders):
    """One assessed course per entry: its patient and whether it responded."""
    return pd.DataFrame(
        {
            "episode_id": [f"E{i}" for i in range(len(patients))],
            "patient_id": patients,
            "assessable": True,
            "assessment": ["responder" if r else "not_improved" for r in responders],
            "responder": pd.array(responders, dtype="boolean"),
        }
    )


def test_one_course_per_patient_is_exactly_clopper_pearson():
    responders = [True] * 13 + [False] * 7
    row = summarize_responders(assessed_courses([f"P{i}" for i in range(20)], responders)).iloc[0]
    # today's Clopper-Pearson, to the last bit, and the beta quantiles of 13/20
    lower, upper = clopper_pearson([13], [20])
    assert (row["ci_lower"], row["ci_upper"]) == (lower[0], upper[0])
    assert row["ci_lower"] == pytest.approx(stats.beta.ppf(0.025, 13, 8), abs=1e-14)
    assert row["ci_upper"] == pytest.approx(stats.beta.ppf(0.975, 14, 7), abs=1e-14)
    assert row["design_effect"] == 1.0 and row["patients"] == 20


def test_patients_with_several_courses_widen_the_interval_as_korn_graubard():
    # 12 patients with two courses each: patients respond both times or neither (strong clustering), 2 mixed
    patients = [f"P{i // 2}" for i in range(24)]
    responders = [True] * 14 + [False] * 6 + [True, False, False, True]
    courses = assessed_courses(patients, responders)
    row = summarize_responders(courses).iloc[0]
    old = summarize_responders(courses, cluster=None).iloc[0]
    n, x, c = 24, 16, 12
    p = x / n
    # independent: cluster-robust variance of the mean from statsmodels OLS; its small-sample factor
    # G/(G-1) x (N-1)/(N-K) is G/(G-1) with K=1, as in the linearised ratio variance
    fit = sm.OLS(np.asarray(responders, dtype=float), np.ones(n)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(pd.Series(patients))[0]}
    )
    variance = fit.bse[0] ** 2
    deff = variance / (p * (1 - p) / (n - 1))
    assert row["design_effect"] == pytest.approx(deff, rel=1e-9)
    assert deff > 1
    n_star = n / deff * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, c - 1)) ** 2
    assert row["ci_lower"] == pytest.approx(stats.beta.ppf(0.025, p * n_star, n_star - p * n_star + 1), abs=1e-12)
    assert row["ci_upper"] == pytest.approx(stats.beta.ppf(0.975, p * n_star + 1, n_star - p * n_star), abs=1e-12)
    # the old interval (courses as independent) is narrower: it would fail this
    assert row["ci_upper"] - row["ci_lower"] > old["ci_upper"] - old["ci_lower"] + 0.05
    assert row["responder_rate"] == pytest.approx(p, abs=1e-12) and row["patients"] == 12


def test_clustering_by_body_region_uses_the_patients_within_each_region():
    patients = ["A", "A", "B", "C", "D", "E", "E", "F"]
    courses = assessed_courses(patients, [True, True, False, True, True, False, False, True])
    courses["body_region"] = ["neck"] * 4 + ["knee"] * 4
    table = summarize_responders(courses, by="body_region").set_index("body_region")
    neck = clustered_interval(
        courses[courses["body_region"] == "neck"].assign(y=lambda f: f["responder"].astype(int)),
        keys=[],
        cluster="patient_id",
        event="y",
    ).iloc[0]
    assert table.loc["neck", "ci_lower"] == pytest.approx(neck["ci_lower"], abs=1e-12)
    assert table.loc["neck", "patients"] == 3 and table.loc["knee", "patients"] == 3


def test_a_design_effect_below_one_is_not_used():
    # each patient has one responder and one non-responder: the clusters vary less than independent courses
    patients = [f"P{i // 2}" for i in range(20)]
    courses = assessed_courses(patients, [True, False] * 10)
    row = summarize_responders(courses).iloc[0]
    n, c = 20, 10
    n_star = n * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, c - 1)) ** 2
    assert row["design_effect"] == 1.0
    assert row["ci_lower"] == pytest.approx(stats.beta.ppf(0.025, n_star / 2, n_star / 2 + 1), abs=1e-12)


# --- responder rate: complete case, worst case, inverse-probability weighted ------------------------------------


def sensitivity_courses():
    """Ended courses: neck 10 (8 followed up, 6 improved), knee 10 (4 followed up, 1 improved), one per patient."""
    regions = ["neck"] * 10 + ["knee"] * 10
    followed = [True] * 8 + [False] * 2 + [True] * 4 + [False] * 6
    improved = [True] * 6 + [False] * 4 + [True] * 1 + [False] * 9
    latest = [2.0 if i else 7.0 for i in improved]
    frame = pd.DataFrame(
        {
            "episode_id": [f"E{i}" for i in range(20)],
            "patient_id": [f"P{i}" for i in range(20)],
            "baseline": 8.0,
            "latest": [v if f else np.nan for v, f in zip(latest, followed, strict=True)],
            "body_region": regions,
            "self_discharged": [not f for f in followed],
        }
    )
    return frame


def test_sensitivity_complete_worst_and_weighted_by_hand():
    table = responder_sensitivity(sensitivity_courses(), covariates=["body_region"]).set_index("method")
    complete, worst, weighted = table.loc["complete_case"], table.loc["worst_case"], table.loc["weighted"]
    assert (complete["courses"], complete["assessed"], complete["improved"]) == (20, 12, 7)
    assert complete["rate"] == pytest.approx(7 / 12, abs=1e-12)
    lower, upper = clopper_pearson([7], [12])
    assert complete["ci_lower"] == pytest.approx(lower[0], abs=1e-12)
    assert (worst["assessed"], worst["improved"]) == (20, 7)
    assert worst["rate"] == pytest.approx(7 / 20, abs=1e-12)
    # a saturated model of one binary covariate: IPW = the stratified estimate (closed form)
    # neck: 6/8 improved among 10 courses, knee: 1/4 among 10 -> (10 x 0.75 + 10 x 0.25) / 20 = 0.5
    assert weighted["rate"] == pytest.approx(0.5, abs=1e-7)
    assert weighted["note"] == "weights from body_region"
    assert worst["rate"] < weighted["rate"] < complete["rate"]
    assert table.attrs["no_follow_up"] == 8 and table.attrs["no_follow_up_self_discharged"] == 8


def test_sensitivity_weighted_rate_matches_statsmodels_logit_with_two_covariates():
    frame = sensitivity_courses()
    frame["baseline"] = [8, 7, 9, 6, 8, 5, 7, 9, 6, 8, 7, 6, 9, 8, 5, 7, 8, 6, 9, 7]
    frame["latest"] = frame["latest"].where(frame["latest"].isna(), frame["baseline"] - [5, 1] * 10)
    table = responder_sensitivity(frame).set_index("method")
    observed = frame["latest"].notna().to_numpy()
    design = sm.add_constant(
        pd.DataFrame({"baseline": frame["baseline"], "neck": (frame["body_region"] == "neck").astype(float)})
    )
    p = sm.Logit(observed.astype(float), design).fit(disp=0).predict(design)
    reduction = frame["baseline"] - frame["latest"]
    met = ((reduction >= 2) & (reduction / frame["baseline"] >= 0.3)).to_numpy()[observed]
    w = 1 / p[observed]
    assert table.loc["weighted", "rate"] == pytest.approx(np.sum(w * met) / np.sum(w), abs=1e-8)
    assert table.loc["weighted", "note"] == "weights from baseline, body_region"


def test_sensitivity_falls_back_and_says_why_on_separation():
    frame = sensitivity_courses()
    frame.loc[frame["body_region"] == "knee", "latest"] = np.nan  # no knee course followed up: separation
    table = responder_sensitivity(frame, covariates=["body_region"]).set_index("method")
    assert np.isnan(table.loc["weighted", "rate"])
    assert "separation" in table.loc["weighted", "note"] and table.loc["weighted", "note"].startswith("not estimated")
    two = responder_sensitivity(frame.assign(age=np.arange(20.0)), covariates=["body_region", "age"])
    assert "with body_region, age: " in two.set_index("method").loc["weighted", "note"]
