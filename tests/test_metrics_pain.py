"""Pain metrics: session and episode pain, responders, the responder curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from needling_analytics.clinic import Clinic
from needling_analytics.metrics import ResponderRule, episode_pain, responder_curve, session_pain, summarize_responders

from .conftest import small_clinic


def clinic_of(rows, episodes=None):
    """A clinic from session rows (episode, date, pain_pre, pain_post, status[, time])."""
    columns = ["episode_id", "session_date", "pain_pre", "pain_post", "status", "session_time"][: len(rows[0])]
    return small_clinic(sessions=pd.DataFrame(rows, columns=columns), episodes=episodes)


A = "attended"


def test_responder_reduction_and_percent_worked_by_hand():
    clinic = clinic_of([("E1", "2026-01-05", 7, 5, A), ("E1", "2026-01-12", 5, 4, A), ("E1", "2026-01-19", 3, 2, A)])
    row = episode_pain(clinic).iloc[0]
    assert (row["baseline"], row["latest"], row["n_sessions"], row["n_scored"]) == (7, 3, 3, 3)
    assert row["reduction"] == 4
    assert row["pct_reduction"] == pytest.approx(400 / 7, rel=1e-12)
    assert row["weeks"] == pytest.approx(2.0, abs=1e-12)
    assert row["slope_per_week"] == pytest.approx(-2.0, abs=1e-12)  # 7, 5, 3 at weeks 0, 1, 2
    assert row["assessable"] and row["responder"] == True  # noqa: E712 and row["assessment"] == "responder"


def test_one_session_has_no_follow_up_and_is_not_assessed():
    row = episode_pain(clinic_of([("E1", "2026-01-05", 7, 5, A)])).iloc[0]
    assert row["baseline"] == 7 and np.isnan(row["latest"]) and np.isnan(row["reduction"])
    assert not row["assessable"] and row["assessment"] == "no_follow_up" and pd.isna(row["responder"])
    assert np.isnan(row["slope_per_week"])


def test_all_cancelled_has_no_baseline():
    clinic = clinic_of([("E1", "2026-01-05", None, None, "cancelled"), ("E1", "2026-01-12", None, None, "no_show")])
    row = episode_pain(clinic).iloc[0]
    assert row["n_sessions"] == 0 and row["assessment"] == "no_baseline" and pd.isna(row["responder"])
    assert session_pain(clinic).empty


def test_baseline_zero_cannot_respond_and_has_no_percent():
    row = episode_pain(clinic_of([("E1", "2026-01-05", 0, 0, A), ("E1", "2026-01-12", 1, 0, A)])).iloc[0]
    assert row["reduction"] == -1 and np.isnan(row["pct_reduction"])
    assert row["assessment"] == "baseline_too_low" and pd.isna(row["responder"])


def test_never_responding_episode_is_a_non_responder():
    rows = [("E1", f"2026-01-{d:02d}", p, p, A) for d, p in [(5, 6), (12, 6), (19, 5), (26, 5)]]
    row = episode_pain(clinic_of(rows)).iloc[0]
    assert row["reduction"] == 1 and row["pct_reduction"] == pytest.approx(100 / 6, rel=1e-12)
    assert row["assessment"] == "not_improved" and row["responder"] == False  # noqa: E712


def test_missing_first_score_takes_the_next_and_cancelled_sessions_do_not_count():
    rows = [
        ("E1", "2026-01-05", None, None, A),
        ("E1", "2026-01-08", None, None, "cancelled"),
        ("E1", "2026-01-12", 8, 6, A),
        ("E1", "2026-01-19", 4, None, A),
        ("E1", "2026-01-26", None, None, A),
    ]
    row = episode_pain(clinic_of(rows)).iloc[0]
    assert (row["n_sessions"], row["n_scored"], row["baseline"], row["latest"]) == (4, 2, 8, 4)
    assert row["baseline_date"] == pd.Timestamp("2026-01-12") and row["latest_date"] == pd.Timestamp("2026-01-19")
    sessions = session_pain(clinic_of(rows))
    assert sessions["session_number"].tolist() == [1, 2, 3, 4]
    assert np.isnan(sessions["immediate_change"].iloc[2])  # pain_post missing
    assert sessions["immediate_change"].iloc[1] == -2


def test_ties_in_dates_are_ordered_by_time_then_id():
    rows = [("E1", "2026-01-05", 3, 2, A, "16:00"), ("E1", "2026-01-05", 8, 6, A, "09:00")]
    pain = session_pain(clinic_of(rows))
    assert pain["pain_pre"].tolist() == [8, 3] and pain["session_number"].tolist() == [1, 2]
    assert pain["days_since_start"].tolist() == [0, 0]
    row = episode_pain(clinic_of(rows)).iloc[0]
    assert (row["baseline"], row["latest"]) == (8, 3)
    assert np.isnan(row["slope_per_week"])  # both on one day: no slope


@pytest.mark.parametrize(
    ("baseline", "latest", "rule", "expected"),
    [
        (10, 7, ResponderRule(), "responder"),  # exactly 3 points and exactly 30%
        (5, 3, ResponderRule(), "responder"),  # 2 points, 40%
        (6, 4.5, ResponderRule(), "not_improved"),  # 1.5 points, 25%
        (9, 7, ResponderRule(), "not_improved"),  # 2 points but 22%
        (2, 1, ResponderRule(), "not_improved"),  # 50% but 1 point
        (2, 1, ResponderRule(require="either"), "responder"),
        (1, 0, ResponderRule(), "baseline_too_low"),  # 2 points unreachable from 1
        (1, 0, ResponderRule(require="either"), "responder"),
        (3, 0, ResponderRule(min_baseline=4), "baseline_too_low"),
        (6.5, 4.5, ResponderRule(), "responder"),  # decimals: 2 points, 30.8%
        (4, 5, ResponderRule(), "not_improved"),  # worse
    ],
)
def test_responder_rule_boundaries(baseline, latest, rule, expected):
    clinic = clinic_of([("E1", "2026-01-05", baseline, None, A), ("E1", "2026-01-12", latest, None, A)])
    result = episode_pain(clinic, rule=rule)
    assert result["assessment"].iloc[0] == expected
    assert result.attrs["responder_rule"] == rule.to_dict()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"require": "all"}, r"`require` must be 'both' or 'either', got 'all'"),
        ({"pct_threshold": 0.3 * 1000}, r"`pct_threshold` is a percentage from 0 to 100 \(30 means 30%\), got 300.0"),
        ({"abs_threshold": -1}, r"`abs_threshold` must be zero or more points, got -1"),
        ({"min_baseline": -2}, r"`min_baseline` must be zero or more points, got -2"),
    ],
)
def test_responder_rule_refuses_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResponderRule(**kwargs)


def test_rule_description_names_both_thresholds():
    assert ResponderRule().describe() == "pain down by at least 2 points and at least 30% from the first score"
    assert "or at least 50%" in ResponderRule(abs_threshold=3, pct_threshold=50, require="either").describe()


def test_summary_rate_and_exact_interval():
    rows = []
    for i, (b, later) in enumerate([(8, 2), (7, 3), (6, 6), (5, 4), (1, 0), (7, None)]):
        rows += [(f"E{i}", "2026-01-05", b, None, A), (f"E{i}", "2026-01-12", later, None, A)]
    summary = summarize_responders(episode_pain(clinic_of(rows))).iloc[0]
    # by hand: assessable E0..E3 (E4 baseline too low, E5 no follow-up); responders E0, E1
    assert summary[["episodes", "assessable", "responders", "baseline_too_low", "no_follow_up"]].tolist() == [
        6,
        4,
        2,
        1,
        1,
    ]
    lower, upper = proportion_confint(2, 4, alpha=0.05, method="beta")
    assert summary["responder_rate"] == pytest.approx(0.5, abs=1e-12)
    assert summary["ci_lower"] == pytest.approx(lower, abs=1e-10) and summary["ci_upper"] == pytest.approx(
        upper, abs=1e-10
    )


def test_summary_by_group():
    rows = [
        ("E1", "2026-01-05", 8, None, A),
        ("E1", "2026-01-12", 2, None, A),
        ("E2", "2026-01-05", 8, None, A),
        ("E2", "2026-01-12", 8, None, A),
    ]
    episodes = episode_pain(clinic_of(rows)).assign(region=["neck", "knee"])
    table = summarize_responders(episodes, by="region").set_index("region")
    assert table.loc["neck", "responder_rate"] == 1.0 and table.loc["knee", "responder_rate"] == 0.0
    assert table.loc["knee", "ci_lower"] == 0.0 and table.loc["knee", "ci_upper"] == pytest.approx(
        1 - 0.025**1, abs=1e-12
    )


def test_responder_curve_counts_by_hand():
    rows = []
    for i, (b, later) in enumerate([(10, 10), (10, 8), (10, 5), (10, 0), (0, 0)]):  # 0%, 20%, 50%, 100%, (no percent)
        rows += [(f"E{i}", "2026-01-05", b, None, A), (f"E{i}", "2026-01-12", later, None, A)]
    curve = responder_curve(episode_pain(clinic_of(rows)), thresholds=[0, 20, 21, 50, 100])
    assert curve["episodes"].tolist() == [4] * 5
    assert curve["improved"].tolist() == [4, 3, 2, 2, 1]
    np.testing.assert_allclose(curve["share"], [1, 0.75, 0.5, 0.5, 0.25], rtol=0, atol=1e-12)
    default = responder_curve(episode_pain(clinic_of(rows)))
    assert default["threshold_pct"].tolist() == list(range(101))
    assert default["share"].is_monotonic_decreasing


# -- properties --------------------------------------------------------------

pain_value = st.one_of(
    st.none(), st.integers(0, 10).map(float), st.floats(0, 10, allow_nan=False).map(lambda x: round(x, 1))
)
session = st.tuples(
    st.integers(0, 5),
    st.integers(0, 60),
    pain_value,
    st.sampled_from(["attended", "attended", "attended", "cancelled", "no_show"]),
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(session, min_size=1, max_size=30),
    st.randoms(use_true_random=False),
    st.sampled_from([ResponderRule(), ResponderRule(require="either", pct_threshold=50)]),
)
def test_properties_hold_for_any_sessions(rows, rnd, rule):
    start = pd.Timestamp("2026-01-05")
    frame = [
        (f"E{e}", start + pd.Timedelta(days=d), p, None, status, f"{9 + i % 8:02d}:00")
        for i, (e, d, p, status) in enumerate(rows)
    ]
    clinic = clinic_of(frame)
    result = episode_pain(clinic, rule=rule).set_index("episode_id").sort_index()
    # row order does not matter
    shuffled = clinic.sessions.sample(frac=1.0, random_state=rnd.randint(0, 10**6))
    clinic2 = Clinic.from_frames(patients=clinic.patients, episodes=clinic.episodes.iloc[::-1], sessions=shuffled)
    pd.testing.assert_frame_equal(result, episode_pain(clinic2, rule=rule).set_index("episode_id").sort_index())
    pct = result["pct_reduction"].dropna()
    assert (pct <= 100 + 1e-9).all()
    assert int(result["responder"].sum()) <= int(result["assessable"].sum())
    assert result.loc[~result["assessable"], "responder"].isna().all()
    summary = summarize_responders(result.reset_index()).iloc[0]
    assert (
        0 <= summary["ci_lower"] <= summary["responder_rate"] <= summary["ci_upper"] <= 1 or summary["assessable"] == 0
    )
    curve = responder_curve(result)
    assert curve["share"].dropna().between(0, 1).all()
