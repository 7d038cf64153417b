"""Session frequency versus improvement: exposures and the association models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics.demo import generate_clinic
from needling_analytics.load import Clinic
from needling_analytics.metrics import analyze_frequency, session_exposures


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
    assert result.logrank["groups"].iloc[0] == km["frequency_band"].nunique()


def test_interpretation_says_association_and_warns_about_confounding(analysis):
    _, result = analysis
    text = result.interpretation
    assert "association" in text and "not proof" in text
    assert "slow responders" in text and "self-discharge" in text
    assert "dose-response" not in text.lower()


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
