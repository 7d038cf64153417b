"""Responder-rate intervals clustered by patient (Korn & Graubard 1998), checked independently."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from needling_analytics.metrics import summarize_responders
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
