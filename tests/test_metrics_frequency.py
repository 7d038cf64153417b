"""Session frequency versus improvement: exposures and the association models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics.demo import generate_clinic
from needling_analytics.load import Clinic
from needling_analytics.metrics import analyze_frequency, session_exposures, time_to_response
from needling_analytics.metrics.frequency import NOT_ESTIMABLE


def small_clinic(as_of="2026-06-30"):
    """E1: 5 attended sessions, 4 in the first 28 days; E2: ongoing, started 10 days before as-of."""
    sessions = pd.DataFrame(
        [
            ("S1", "E1", "2026-01-05", "attended"),
            ("S2", "E1", "2026-01-08", "attended"),
            ("S3", "E1", "2026-01-12", "cancelled"),
            ("S4", "E1", "2026-01-15", "attended"),
            ("S5", "E1", "2026-02-01", "attended"),  # day 27: still early
            ("S6", "E1", "2026-02-02", "attended"),  # day 28: outside the window
            ("S7", "E2", "2026-06-20", "attended"),
        ],
        columns=["session_id", "episode_id", "session_date", "status"],
    )
    sessions["patient_id"] = sessions["episode_id"].map({"E1": "P1", "E2": "P2"})
    sessions["practitioner_id"] = "PR1"
    episodes = pd.DataFrame(
        {
            "episode_id": ["E1", "E2", "E3"],
            "patient_id": ["P1", "P2", "P2"],
            "start_date": ["2026-01-05", "2026-06-20", "2026-01-01"],
            "end_date": ["2026-03-01", None, "2026-01-10"],
        }
    )
    return Clinic.from_frames(
        as_of=as_of, patients=pd.DataFrame({"patient_id": ["P1", "P2"]}), episodes=episodes, sessions=sessions
    )


def test_exposures_worked_by_hand():
    out = session_exposures(small_clinic()).set_index("episode_id")
    # E1: attended on days 0, 3, 10, 27 (early) and 28; the cancelled one does not count
    assert out.loc["E1", "total_sessions"] == 5 and out.loc["E1", "early_sessions"] == 4
    assert out.loc["E1", "early_frequency"] == pytest.approx(1.0, abs=1e-12)  # 4 sessions / 4 weeks
    assert out.loc["E1", "mean_interval_days"] == pytest.approx(28 / 4, abs=1e-12)
    assert out.loc["E1", "frequency_band"] == "1 to 2 a week"
    # E2 is ongoing and its first 28 days are not over by the as-of date: no early frequency
    assert out.loc["E2", "total_sessions"] == 1 and np.isnan(out.loc["E2", "early_frequency"])
    assert np.isnan(out.loc["E2", "mean_interval_days"]) and pd.isna(out.loc["E2", "frequency_band"])
    # E3 ended with no attended session: a complete window with zero sessions
    assert out.loc["E3", "early_frequency"] == 0 and out.loc["E3", "frequency_band"] == "under 1 a week"


def test_window_is_complete_once_28_days_have_passed():
    out = session_exposures(small_clinic(as_of="2026-07-18")).set_index("episode_id")
    assert out.loc["E2", "early_frequency"] == pytest.approx(0.25, abs=1e-12)


@pytest.fixture(scope="module")
def analysis():
    clinic = Clinic.from_frames(as_of="2026-11-28", **generate_clinic(n_patients=400, seed=2))
    return clinic, analyze_frequency(clinic)


def test_patient_level_estimates_match_least_squares_with_hc3_by_hand(analysis):
    _, result = analysis
    data = result.exposures.dropna(subset=["reduction", "early_frequency", "baseline", "symptom_duration_weeks"])
    X = np.column_stack(
        [np.ones(len(data)), data["early_frequency"], data["baseline"], np.log1p(data["symptom_duration_weeks"])]
    )
    y = data["reduction"].to_numpy()
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    bread = np.linalg.inv(X.T @ X)
    leverage = np.einsum("ij,jk,ik->i", X, bread, X)
    meat = X.T @ (X * ((y - X @ beta) ** 2 / (1 - leverage) ** 2)[:, None])
    se = np.sqrt(np.diag(bread @ meat @ bread))
    table = result.patient_level
    assert list(table.index) == ["Intercept", "early_frequency", "baseline", "log_duration"]
    np.testing.assert_allclose(table["estimate"], beta, rtol=1e-8)
    np.testing.assert_allclose(table["std_error"], se, rtol=1e-8)
    assert table.attrs["n_episodes"] == len(data)


def test_sensitivity_drops_self_discharged_episodes(analysis):
    _, result = analysis
    sens = result.sensitivity.set_index("episodes")
    usable = result.exposures.dropna(subset=["reduction", "early_frequency", "baseline", "symptom_duration_weeks"])
    assert sens.loc["all episodes", "n"] == len(usable)
    assert sens.loc["without self-discharged", "n"] == (~usable["self_discharged"]).sum()
    assert sens.loc["all episodes", "estimate"] == pytest.approx(
        result.patient_level.loc["early_frequency", "estimate"], rel=1e-12
    )


def test_trajectory_and_time_to_response_by_band(analysis):
    _, result = analysis
    assert {"Intercept", "weeks_since_start", "early_frequency", "weeks_by_early_frequency"} <= set(
        result.trajectory.fixed_effects.index
    )
    # the demo clinic is built so that more frequent early care goes with faster improvement
    assert result.trajectory.fixed_effects.loc["weeks_by_early_frequency", "estimate"] < 0
    km = result.time_to_response
    assert set(km["frequency_band"]) <= {"under 1 a week", "1 to 2 a week", "2 or more a week"}
    assert km["share_responded"].between(0, 1).all()
    # the curves count confirmed responses (two consecutive scored visits, or the last), described, not tested
    clinic, _ = analysis
    banded = result.exposures.dropna(subset=["frequency_band"])["episode_id"]
    confirmed = time_to_response(clinic, confirmed=True)
    assert km["events"].sum() == confirmed.loc[confirmed["episode_id"].isin(banded), "event"].sum()
    assert not hasattr(result, "logrank")


def test_interpretation_says_association_and_warns_about_confounding(analysis):
    _, result = analysis
    text = result.interpretation
    assert "association" in text and "not proof" in text
    assert "slow responders" in text and "self-discharge" in text
    assert "dose-response" not in text.lower()


def test_interpretation_makes_no_claim_about_time_to_improvement_by_band(analysis):
    """Issue 10, verdict 2: a by-band log-rank test is biased by design (more visits, more looks): never stated."""
    _, result = analysis
    text = result.interpretation.lower()
    assert "log-rank" not in text and "logrank" not in text
    assert "frequency band" not in text and "time to a clinically important improvement" not in text
    assert "differed" not in text and "did not clearly differ" not in text


def test_too_little_data_gives_a_sentence_not_an_error():
    clinic = small_clinic()
    clinic.tables["episodes"]["symptom_duration_weeks"] = 6.0
    result = analyze_frequency(clinic)
    assert result.patient_level.empty and result.trajectory is None
    assert result.interpretation.startswith("There were too few episodes")


def test_a_clinic_that_does_not_record_symptom_duration_is_told_why(analysis):
    """Practice-management exports (Cliniko, Jane) have no symptom duration: say so, not 'too few episodes'."""
    clinic, with_duration = analysis
    assert "early_frequency" in with_duration.patient_level.index
    from dataclasses import replace

    episodes = clinic.episodes.assign(symptom_duration_weeks=np.nan)
    result = analyze_frequency(replace(clinic, tables={**clinic.tables, "episodes": episodes}))
    assert result.patient_level.empty
    assert result.interpretation.startswith("How long symptoms had lasted before the first visit is not recorded")


# --------------------------------------------------------------------------
# Designs the data cannot identify (issue 10, verdict 5)


def weekly_clinic(n=30, extra=(), seed=0):
    """``n`` ended courses, each attended on days 0, 7, 14, 21 and 28: 4 sessions in days 0-27, 1.0 a week.

    Courses whose number is in ``extra`` are also attended on days 3 and 10:
    6 sessions in days 0-27, 1.5 a week. Pain scores and symptom durations
    vary at random (they only need to vary).
    """
    rng = np.random.default_rng(seed)
    rows, episodes = [], []
    for i in range(n):
        begin = pd.Timestamp("2026-03-02") + pd.Timedelta(days=i)
        days = [0, 7, 14, 21, 28] + ([3, 10] if i in extra else [])
        baseline = float(rng.integers(4, 10))
        for k, day in enumerate(sorted(days)):
            pain = baseline if k == 0 else float(max(baseline - rng.integers(0, 5), 0))
            date = (begin + pd.Timedelta(days=day)).date().isoformat()
            rows.append((f"S{i:03d}{k}", f"E{i:03d}", f"P{i:03d}", "PR1", date, "attended", pain))
        end = (begin + pd.Timedelta(days=40)).date().isoformat()
        episodes.append((f"E{i:03d}", f"P{i:03d}", begin.date().isoformat(), end, float(rng.integers(1, 30))))
    sessions = pd.DataFrame(
        rows,
        columns=["session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "status", "pain_pre"],
    )
    episodes = pd.DataFrame(
        episodes, columns=["episode_id", "patient_id", "start_date", "end_date", "symptom_duration_weeks"]
    )
    patients = pd.DataFrame({"patient_id": episodes["patient_id"]})
    return Clinic.from_frames(as_of="2026-11-28", patients=patients, episodes=episodes, sessions=sessions)


def test_a_fixed_weekly_schedule_cannot_be_related_to_improvement():
    """Every course at one session a week: no estimate, no interval, no exception, a plain sentence."""
    clinic = weekly_clinic()
    exposures = session_exposures(clinic)
    assert (exposures["early_frequency"] == 1.0).all()  # 4 sessions / 4 weeks, every course
    result = analyze_frequency(clinic)  # used to raise: "the fixed effects ... are collinear"
    table = result.patient_level
    assert table.empty
    assert table.attrs["estimable"] is False and table.attrs["reason"] == NOT_ESTIMABLE
    assert table.attrs["n_episodes"] == 30
    assert result.sensitivity[["estimate", "ci_lower", "ci_upper", "p_value"]].isna().all().all()
    assert result.trajectory is None and "collinear" in result.trajectory_error
    text = result.interpretation
    assert NOT_ESTIMABLE in text and "same number of sessions" in text and "1.0 a week" in text
    assert "CI" not in text and "points" not in text  # no number for the association
    assert result.time_to_response["frequency_band"].unique().tolist() == ["1 to 2 a week"]


def test_one_course_alone_defining_the_frequency_effect_has_leverage_one():
    """All courses weekly but one (1.5 a week): that course alone fixes the slope; HC3 is undefined there."""
    clinic = weekly_clinic(extra=(5,))
    exposures = session_exposures(clinic).set_index("episode_id")
    assert exposures.loc["E005", "early_frequency"] == pytest.approx(6 / 4, abs=1e-12)
    # Independent check of leverage 1: a row has hat value 1 exactly when dropping it lowers the rank.
    data = analyze_frequency(clinic).exposures.set_index("episode_id")
    X = np.column_stack(
        [np.ones(len(data)), data["early_frequency"], data["baseline"], np.log1p(data["symptom_duration_weeks"])]
    )
    assert np.linalg.matrix_rank(X) == 4
    assert np.linalg.matrix_rank(X[data.index != "E005"]) == 3
    result = analyze_frequency(clinic)
    assert result.patient_level.empty and result.patient_level.attrs["reason"] == NOT_ESTIMABLE
    assert "a single course of care alone" in result.interpretation
    assert "CI" not in result.interpretation


def test_two_courses_at_another_frequency_are_estimable():
    """The leverage check does not refuse an ordinary design: two courses at 1.5 a week give an estimate."""
    result = analyze_frequency(weekly_clinic(extra=(5, 17)))
    table = result.patient_level
    assert table.attrs["estimable"] is True and "early_frequency" in table.index
    assert np.isfinite(table.loc["early_frequency", ["estimate", "ci_lower", "ci_upper"]].astype(float)).all()
