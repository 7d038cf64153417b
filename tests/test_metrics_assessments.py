"""Follow-up assessments outside the sessions: their pain is a reading of the course's pain outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics.clinic import Clinic
from needling_analytics.cohort import outcome_series
from needling_analytics.metrics import attendance, episode_pain, pain_readings, time_to_response


def clinic_with_assessments(with_assessments: bool = True) -> Clinic:
    episodes = pd.DataFrame(
        {
            "episode_id": ["E1", "E2", "E3", "E4"],
            "patient_id": ["P1", "P2", "P3", "P4"],
            "start_date": ["2026-01-05", "2026-02-02", "2026-02-02", "2026-02-23"],
        }
    )
    sessions = pd.DataFrame(
        [
            ("S1", "E1", "P1", "2026-01-05", "attended", 8.0),
            ("S2", "E1", "P1", "2026-01-12", "attended", 6.0),
            ("S3", "E1", "P1", "2026-01-19", "cancelled", None),
            ("S4", "E2", "P2", "2026-02-02", "attended", 6.0),
            ("S5", "E4", "P4", "2026-03-02", "attended", 5.0),
            ("S6", "E4", "P4", "2026-03-09", "attended", 4.0),
        ],
        columns=["session_id", "episode_id", "patient_id", "session_date", "status", "pain_pre"],
    )
    assessments = pd.DataFrame(
        [
            ("E1", "P1", "2026-01-05", 7.0),  # the baseline's day: not a follow-up
            ("E1", "P1", "2026-01-26", 5.0),  # week 3
            ("E1", "P1", "2026-02-02", 3.0),  # week 4: the latest
            ("E2", "P2", "2026-02-16", 6.0),  # the only follow-up of E2
            ("E3", "P3", "2026-02-16", 4.0),  # E3 has no session score: still no baseline
            ("E4", "P4", "2026-02-25", 2.0),  # before E4's baseline session: not a follow-up
            ("E9", "P9", "2026-02-25", 1.0),  # an episode not in the table: ignored
            ("E1", "P1", "2026-01-20", None),  # no pain score: not a reading
        ],
        columns=["episode_id", "patient_id", "assessed_on", "pain"],
    )
    frames = {
        "patients": pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"]}),
        "episodes": episodes,
        "sessions": sessions.assign(practitioner_id="PR1"),
    }
    if with_assessments:
        frames["assessments"] = assessments
    return Clinic.from_frames(as_of="2026-03-31", **frames)


def test_pain_readings_merge_sessions_and_assessments_in_date_order():
    readings = pain_readings(clinic_with_assessments())
    e1 = readings[readings["episode_id"] == "E1"]
    assert e1["pain"].tolist() == [8.0, 7.0, 6.0, 5.0, 3.0]  # on 5 Jan the session comes first
    assert e1["source"].tolist() == ["session", "assessment", "session", "assessment", "assessment"]
    assert e1["days_since_start"].tolist() == [0.0, 0.0, 7.0, 21.0, 28.0]
    assert e1["session_number"].tolist() == [1, 1, 2, 2, 2]  # attended sessions up to the assessment's date
    assert e1["follow_up"].tolist() == [False, False, True, True, True]
    e4 = readings[readings["episode_id"] == "E4"]
    assert e4["source"].tolist() == ["assessment", "session", "session"]
    assert e4["follow_up"].tolist() == [False, False, True]
    assert "E9" not in set(readings["episode_id"])
    assert len(readings) == 5 + 2 + 1 + 3


def test_episode_pain_uses_assessments_as_follow_up_readings():
    table = episode_pain(clinic_with_assessments()).set_index("episode_id")
    e1 = table.loc["E1"]
    assert (e1["baseline"], e1["latest"], e1["latest_source"]) == (8.0, 3.0, "assessment")
    assert e1["reduction"] == pytest.approx(5.0, abs=1e-12)
    assert e1["pct_reduction"] == pytest.approx(62.5, abs=1e-9)
    assert e1["weeks"] == pytest.approx(4.0, abs=1e-12)
    assert e1["latest_date"] == pd.Timestamp("2026-02-02")
    assert (e1["n_sessions"], e1["n_scored"], e1["n_assessments"]) == (2, 2, 3)
    assert bool(e1["responder"])
    # slope over all five readings, by plain least squares
    expected = np.polyfit([0, 0, 1, 3, 4], [8, 7, 6, 5, 3], 1)[0]
    assert e1["slope_per_week"] == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(-67 / 66, rel=1e-12)

    assert (table.loc["E2", "latest"], table.loc["E2", "assessment"]) == (6.0, "not_improved")
    assert table.loc["E3", "assessment"] == "no_baseline" and table.loc["E3", "n_assessments"] == 1
    assert (table.loc["E4", "baseline"], table.loc["E4", "latest"], table.loc["E4", "latest_source"]) == (
        5.0, 4.0, "session"
    )  # fmt: skip


def test_without_assessments_the_outcome_comes_from_sessions_only():
    table = episode_pain(clinic_with_assessments(False)).set_index("episode_id")
    assert table.loc["E1", "latest"] == 6.0 and table.loc["E1", "latest_source"] == "session"
    assert table.loc["E2", "assessment"] == "no_follow_up" and pd.isna(table.loc["E2", "latest_source"])
    assert table["n_assessments"].tolist() == [0, 0, 0, 0]
    assert table.loc["E1", "slope_per_week"] == pytest.approx(-2.0, abs=1e-12)  # 8 -> 6 in one week


def test_time_to_response_can_be_reached_at_an_assessment():
    times = time_to_response(clinic_with_assessments()).set_index("episode_id")
    assert set(times.index) == {"E1", "E2", "E4"}
    # E1: 8 -> 6 at S2 (25%: not yet), 8 -> 5 at the 26 Jan assessment (3 points, 37.5%): met on day 21
    assert (bool(times.loc["E1", "event"]), times.loc["E1", "days"], times.loc["E1", "sessions"]) == (True, 21.0, 2)
    # E2: censored at its assessment, 14 days in, after 1 attended session
    assert (bool(times.loc["E2", "event"]), times.loc["E2", "days"], times.loc["E2", "sessions"]) == (False, 14.0, 1)
    assert times.attrs["excluded"] == {"no_baseline": 1, "no_follow_up": 0, "baseline_too_low": 0}


def test_attendance_follow_up_and_model_series_count_assessments():
    visits = attendance(clinic_with_assessments()).set_index("episode_id")
    assert visits["has_follow_up_pain"].to_dict() == {"E1": True, "E2": True, "E3": False, "E4": True}
    series = outcome_series(clinic_with_assessments())
    assert len(series) == 11 and series.loc[series["episode_id"] == "E1", "value"].tolist() == [8, 7, 6, 5, 3]


def test_patient_cache_and_pain_chart_show_the_assessments(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from needling_analytics.plots import plot_pain_over_sessions
    from needling_analytics.reporting import read_patient, select_episode, write_cache

    cache = write_cache(clinic_with_assessments(), tmp_path / "cache")
    patient = select_episode(read_patient(cache, "P1"))
    followup = patient.pain_followup
    assert followup["pain"].tolist() == [7.0, 5.0, 3.0]
    assert followup["date"].tolist() == [pd.Timestamp("2026-01-05"), pd.Timestamp("2026-01-26"),
                                         pd.Timestamp("2026-02-02")]  # fmt: skip
    ax = plot_pain_over_sessions(patient.pain, rule=patient.rule, assessments=followup)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["follow-up assessment"].get_ydata()) == [7.0, 5.0, 3.0]
    # an episode without assessments draws no diamonds
    ax = plot_pain_over_sessions(
        select_episode(read_patient(cache, "P4")).pain, assessments=pd.DataFrame(columns=["date", "pain"])
    )
    assert "follow-up assessment" not in {line.get_label() for line in ax.get_lines()}
