"""Session frequency versus improvement: exposures and the association models."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from needling_analytics.clinic import Clinic
from needling_analytics.metrics import analyze_frequency, attendance, landmark_outcomes, session_exposures
from needling_analytics.metrics.frequency import NOT_ESTIMABLE, SAME_FREQUENCY, SINGLE_COURSE, TIED_TO_COVARIATES
from needling_analytics.reporting import text


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


AS_OF = "2026-11-28"


def build(courses, as_of=AS_OF):
    """courses: dicts with id, patient, start offset (days after 2026-01-05), sessions {day: pain}, end (day or None),
    duration (weeks), reason, assessments {day: pain}."""
    base = pd.Timestamp("2026-01-05")
    sessions, episodes, assessments = [], [], []
    for c in courses:
        begin = base + pd.Timedelta(days=c.get("offset", 0))
        for k, (day, pain) in enumerate(sorted(c["sessions"].items())):
            sessions.append((f"{c['id']}-{k}", c["id"], c["patient"], "PR1", begin + pd.Timedelta(days=day), pain))
        for k, (day, pain) in enumerate(sorted(c.get("assessments", {}).items())):
            assessments.append((f"A{c['id']}-{k}", c["id"], c["patient"], begin + pd.Timedelta(days=day), pain))
        end = None if c.get("end") is None else begin + pd.Timedelta(days=c["end"])
        episodes.append((c["id"], c["patient"], begin, end, c.get("duration", 6.0), c.get("reason")))
    frames = {
        "sessions": pd.DataFrame(
            sessions, columns=["session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "pain_pre"]
        ),
        "episodes": pd.DataFrame(
            episodes,
            columns=[
                "episode_id",
                "patient_id",
                "start_date",
                "end_date",
                "symptom_duration_weeks",
                "discharge_reason",
            ],
        ),
    }
    frames["patients"] = pd.DataFrame({"patient_id": sorted({c["patient"] for c in courses})})
    if assessments:
        frames["assessments"] = pd.DataFrame(
            assessments, columns=["assessment_id", "episode_id", "patient_id", "assessed_on", "pain"]
        )
    return Clinic.from_frames(as_of=as_of, **frames)


def long_courses(n=24, seed=0, shared_patients=False):
    """Courses in care to day 70: k sessions in days 0-27, then sessions on days 35, 49, 56, 63; known values."""
    rng = np.random.default_rng(seed)
    courses, expected = [], []
    for i in range(n):
        k = int(rng.integers(2, 9))
        early = np.linspace(0, 27, k).round().astype(int)
        baseline = float(rng.integers(5, 10))
        week8 = float(max(baseline - rng.integers(0, 6), 0))
        sessions = {int(d): (baseline if d == 0 else baseline - 1.0) for d in early}
        sessions.update({35: baseline - 1.0, 49: baseline - 1.0, 56: week8, 63: week8})
        duration = float(rng.integers(1, 40))
        patient = f"P{i // 2:03d}" if shared_patients else f"P{i:03d}"
        courses.append(
            {"id": f"E{i:03d}", "patient": patient, "offset": i, "sessions": sessions, "end": 70, "duration": duration}
        )
        expected.append(
            {
                "episode_id": f"E{i:03d}",
                "patient_id": patient,
                "early_frequency": k / 4.0,
                "baseline": baseline,
                "reduction": baseline - week8,
                "log_duration": np.log1p(duration),
            }
        )
    return courses, pd.DataFrame(expected)


def test_fast_recoverers_are_left_out_not_counted_as_low_frequency():
    """Issue 10, verdict 4: a course ended after 2 sessions in week 1 (recovered) used to count as 0.5 a week."""
    courses, expected = long_courses()
    fast = [
        {
            "id": f"F{i}",
            "patient": f"Q{i}",
            "offset": i,
            "sessions": {0: 8.0, 5: 1.0},
            "end": 6,
            "assessments": {56: 0.0},
        }
        for i in range(12)
    ]
    result = analyze_frequency(build(courses + fast))
    attrs = result.patient_level.attrs
    assert attrs["design"] == "landmark" and attrs["estimable"] is True
    assert attrs["n_in_care_at_landmark"] == 24 and attrs["n_with_outcome"] == 24 and attrs["n_episodes"] == 24
    assert attrs["n_ended_before_landmark"] == 12
    assert not result.landmark["episode_id"].str.startswith("F").any()
    X = sm.add_constant(expected[["early_frequency", "baseline", "log_duration"]])
    by_hand = sm.OLS(expected["reduction"], X).fit()
    assert result.patient_level.loc["early_frequency", "estimate"] == pytest.approx(
        by_hand.params["early_frequency"], rel=1e-9
    )


def test_outcome_is_the_reading_nearest_day_56_in_the_window_never_inside_days_0_27():
    courses = [
        {"id": "A", "patient": "P1", "sessions": {0: 8.0, 20: 2.0, 27: 1.0, 45: 6.0, 60: 5.0, 75: 0.0}, "end": 80},
        {"id": "B", "patient": "P2", "sessions": {0: 8.0, 27: 0.0, 75: 0.0}, "end": 80},  # nothing in days 42-70
        {"id": "C", "patient": "P3", "sessions": {0: 8.0, 52: 4.0, 60: 3.0}, "end": 80},  # a tie: the earlier day
        {"id": "D", "patient": "P4", "sessions": {0: 8.0, 55: 4.0}, "assessments": {56: 2.0}, "end": 80},
    ]
    out = landmark_outcomes(build(courses)).set_index("episode_id")
    assert out.loc["A", "outcome_pain"] == 5.0 and out.loc["A", "outcome_days"] == 60
    assert np.isnan(out.loc["B", "outcome_pain"])
    assert out.loc["C", "outcome_pain"] == 4.0 and out.loc["C", "outcome_days"] == 52
    assert out.loc["D", "outcome_pain"] == 2.0 and out.loc["D", "outcome_days"] == 56
    assert out.attrs["outcome_window"] == (42, 70)
    with pytest.raises(ValueError, match="after the exposure window"):
        landmark_outcomes(build(courses), outcome_day=30, half_width=14)


def test_landmark_estimate_and_patient_clustered_errors_match_statsmodels_by_hand():
    courses, expected = long_courses(n=30, seed=3, shared_patients=True)
    table = analyze_frequency(build(courses)).patient_level
    assert table.attrs["cov_type"] == "cluster" and table.attrs["n_patients"] == 15
    X = sm.add_constant(expected[["early_frequency", "baseline", "log_duration"]]).to_numpy(dtype=float)
    y = expected["reduction"].to_numpy(dtype=float)
    groups = pd.factorize(expected["patient_id"])[0]
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(table["estimate"].to_numpy(), fit.params, rtol=1e-9)
    np.testing.assert_allclose(table["std_error"].to_numpy(), fit.bse, rtol=1e-9)
    # the CR1 sandwich by hand: G/(G-1) * (N-1)/(N-K) * B^-1 (sum_g X_g' e_g e_g' X_g) B^-1
    bread = np.linalg.inv(X.T @ X)
    e = y - X @ fit.params
    scores = pd.DataFrame(X * e[:, None]).groupby(groups).sum().to_numpy()
    n, k, g = len(y), X.shape[1], len(np.unique(groups))
    cov = g / (g - 1) * (n - 1) / (n - k) * bread @ (scores.T @ scores) @ bread
    np.testing.assert_allclose(table["std_error"].to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-9)


def test_one_course_per_patient_uses_hc3():
    courses, _ = long_courses(n=20, seed=4)
    assert analyze_frequency(build(courses)).patient_level.attrs["cov_type"] == "HC3"


def test_sensitivity_uses_attendances_self_discharge_definition():
    courses, _ = long_courses(n=24, seed=5)
    courses[0]["reason"] = "self_discharged"  # recorded
    courses[1]["end"] = None  # open, last seen day 63, long before the as-of date: self-discharged for inactivity
    clinic = build(courses)
    result = analyze_frequency(clinic)
    flags = attendance(clinic).set_index("episode_id")["self_discharged"]
    assert flags["E000"] and flags["E001"]
    landmark = result.landmark.set_index("episode_id")
    assert (landmark["self_discharged"] == flags.reindex(landmark.index)).all()
    sens = result.sensitivity.set_index("episodes")
    assert sens.loc["without self-discharged", "n"] == 22


def test_a_fixed_weekly_schedule_cannot_be_related_to_improvement():
    """Issue 10, verdict 5: every course at 1.0 a week: no estimate, no interval, a plain sentence."""
    rng = np.random.default_rng(0)
    courses = [
        {
            "id": f"E{i:02d}",
            "patient": f"P{i:02d}",
            "offset": i,
            "end": 70,
            "duration": float(rng.integers(1, 30)),
            "sessions": {d: float(rng.integers(2, 10)) for d in (0, 7, 14, 21, 28, 35, 42, 49, 56)},
        }
        for i in range(30)
    ]
    result = analyze_frequency(build(courses))
    table = result.patient_level
    assert table.empty and table.attrs["estimable"] is False and table.attrs["reason"] == NOT_ESTIMABLE
    assert table.attrs["design"] == "landmark" and table.attrs["n_episodes"] == 30
    assert result.sensitivity[["estimate", "ci_lower", "ci_upper"]].isna().all().all()
    paragraph = text.frequency_paragraph(result)
    assert table.attrs["detail"] == SAME_FREQUENCY and table.attrs["early_frequency"] == pytest.approx(1.0)
    assert "cannot be estimated from these data" in paragraph and "1.0 a week" in paragraph
    assert "interval" not in paragraph


def test_paragraph_describes_the_design_and_the_caveats():
    courses, _ = long_courses(n=30, seed=6)
    result = analyze_frequency(build(courses))
    paragraph = text.frequency_paragraph(result)
    assert "still under way after four weeks" in paragraph and "eight weeks after the first visit" in paragraph
    assert "doing badly more often" in paragraph and "near its" in paragraph and "not proof" in paragraph
    assert "dose-response" not in paragraph.lower() and "log-rank" not in paragraph.lower()


@pytest.mark.parametrize(
    ("detail", "words"),
    [
        (
            {"detail": SAME_FREQUENCY, "early_frequency": 2.0},
            "same number of sessions in its first four weeks (2.0 a week)",
        ),
        ({"detail": TIED_TO_COVARIATES}, "tied exactly to starting pain or symptom duration"),
        ({"detail": SINGLE_COURSE}, "a single course of care alone determines part of the comparison"),
    ],
)
def test_the_metric_gives_a_code_and_the_report_words_it(detail, words):
    attrs = {"estimable": False, "reason": NOT_ESTIMABLE, **detail}
    assert words in text.frequency_not_estimable(attrs)
    table = pd.DataFrame()
    table.attrs.update(attrs)
    paragraph = str(text.frequency_paragraph(SimpleNamespace(patient_level=table)))
    assert paragraph.startswith("How session frequency relates to improvement cannot be estimated from these data:")
