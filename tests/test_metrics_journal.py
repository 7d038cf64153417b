"""Home symptom journal: rolling trends and soreness after needling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics.metrics.journal import journal_trend, post_session_soreness, summarize_soreness

from .conftest import demo_clinic_of, small_clinic

A = "attended"


def clinic_of(journal=None, sessions=(), patients=("P1", "P2", "P3")):
    """A clinic from journal rows (patient, date, pain[, stiffness]) and sessions (id, patient, date[, status])."""
    patients = pd.DataFrame({"patient_id": list(patients)})
    rows = [(*s, A) if len(s) == 3 else s for s in sessions] or [("S0", "P1", "2025-12-01", "cancelled")]
    sessions = pd.DataFrame(rows, columns=["session_id", "patient_id", "session_date", "status"])
    sessions["episode_id"] = "E" + sessions["patient_id"]
    episodes = pd.DataFrame(
        {"episode_id": "E" + patients["patient_id"], "patient_id": patients["patient_id"], "start_date": "2025-12-01"}
    )
    if journal is not None:
        journal = pd.DataFrame(journal, columns=["patient_id", "entry_date", "pain", "stiffness"][: len(journal[0])])
    return small_clinic(patients=patients, episodes=episodes, sessions=sessions, journal=journal)


def day(n: int) -> str:
    return (pd.Timestamp("2026-01-01") + pd.Timedelta(days=n - 1)).strftime("%Y-%m-%d")


# --- journal_trend ------------------------------------------------------------------------------


def test_rolling_mean_is_over_calendar_days_so_a_gap_stays_a_gap():
    # P1 writes on Jan 1, 2, 3, then nothing until Jan 9, 10, 11, 12; P2 writes on Jan 1-3 (must not leak into P1).
    pains = {1: 6, 2: 5, 3: 7, 9: 3, 10: 4, 11: 2, 12: 5}
    journal = [("P1", day(d), p) for d, p in pains.items()] + [("P2", day(d), 9) for d in (1, 2, 3)]
    trend = journal_trend(clinic_of(journal, sessions=[("S1", "P1", day(9))]))
    p1 = trend[trend["patient_id"] == "P1"].set_index(trend.loc[trend["patient_id"] == "P1", "entry_date"].dt.day)
    # By hand, window = the 7 calendar days ending on the day, at least 3 entries:
    expected = {1: np.nan, 2: np.nan, 3: (6 + 5 + 7) / 3,
                9: np.nan,  # Jan 3-9 holds only Jan 3 and Jan 9
                10: np.nan,  # Jan 4-10: Jan 9, 10
                11: (3 + 4 + 2) / 3, 12: (3 + 4 + 2 + 5) / 4}  # fmt: skip
    np.testing.assert_allclose(p1["pain_rolling_mean"].to_numpy(), [expected[d] for d in p1.index], rtol=0, atol=1e-12)
    assert p1["pain"].tolist() == list(pains.values())
    assert p1["session_day"].tolist() == [d == 9 for d in p1.index]
    p2 = trend[trend["patient_id"] == "P2"]
    assert p2["pain_rolling_mean"].iloc[-1] == pytest.approx(9.0, abs=1e-12) and not p2["session_day"].any()
    assert trend.columns.tolist() == [
        "patient_id", "entry_date", "pain", "stiffness", "mobility",
        "pain_rolling_mean", "stiffness_rolling_mean", "mobility_rolling_mean", "session_day",
    ]  # fmt: skip
    assert trend.attrs["window_days"] == 7


def test_rolling_counts_only_recorded_values_and_averages_same_day_entries():
    journal = [
        ("P1", day(1), 4, 2),
        ("P1", day(2), 6, None),
        ("P1", day(2), 8, None),  # two entries on Jan 2: pain 7 for the day
        ("P1", day(3), 5, 4),
        ("P1", day(4), 3, 6),
    ]
    trend = journal_trend(clinic_of(journal), window_days=3, min_entries=2)
    assert trend["pain"].tolist() == [4, 7, 5, 3]
    np.testing.assert_allclose(trend["pain_rolling_mean"], [np.nan, 5.5, 16 / 3, 5.0], atol=1e-12)
    # stiffness recorded on Jan 1, 3, 4 only: Jan 2 has one value (NaN), Jan 3 two, Jan 4 two (Jan 2-4)
    np.testing.assert_allclose(trend["stiffness_rolling_mean"], [np.nan, np.nan, 3.0, 5.0], atol=1e-12)
    assert trend["mobility_rolling_mean"].isna().all()


def test_vectorised_trend_matches_pandas_time_rolling_on_a_generated_clinic():
    clinic = demo_clinic_of(n_patients=150, seed=3)
    trend = journal_trend(clinic)
    daily = clinic.journal.groupby(["patient_id", "entry_date"])[["pain", "mobility"]].mean().reset_index()
    reference = daily.groupby("patient_id").rolling("7D", on="entry_date", min_periods=3)[["pain", "mobility"]].mean()
    reference = reference.reindex(pd.MultiIndex.from_frame(trend[["patient_id", "entry_date"]]))
    np.testing.assert_allclose(trend["pain_rolling_mean"], reference["pain"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(trend["mobility_rolling_mean"], reference["mobility"], rtol=0, atol=1e-9)
    assert len(trend) == len(daily)
    assert trend["pain_rolling_mean"].dropna().between(0, 10).all()
    visits = clinic.sessions.loc[
        clinic.sessions["status"] == "attended", ["patient_id", "session_date"]
    ].drop_duplicates()
    on_visit = trend.merge(visits, left_on=["patient_id", "entry_date"], right_on=["patient_id", "session_date"])
    assert trend["session_day"].sum() == len(on_visit)


# --- post_session_soreness ----------------------------------------------------------------------

JOURNAL = [
    # S1 on Jan 10: before 4 (Jan 9), day 0 ignored, days 1-2: 6, 5; settles on day 3 (4 <= 4)
    ("P1", day(8), 5), ("P1", day(9), 4), ("P1", day(10), 9), ("P1", day(11), 6), ("P1", day(12), 5),
    ("P1", day(13), 4), ("P1", day(14), 3),
    # S2 on Jan 20: no entry on Jan 18-19, so before is Jan 17 (3); day 1 missing, day 2 (Jan 22): 3
    ("P1", day(17), 3), ("P1", day(22), 3),
    # S3 on Jan 30: nothing on Jan 27-29 (Jan 26 is too early): no before
    ("P1", day(26), 2), ("P1", day(31), 4),
    # S4 on Feb 10 (day 41), S5 on Feb 12 (day 43): the day-2 entry of S4 is S5's session day
    ("P1", day(40), 2), ("P1", day(42), 5), ("P1", day(43), 2), ("P1", day(44), 2),
    # S6 on Mar 1 (day 60): pain stays up until the diary stops on day 2
    ("P1", day(59), 3), ("P1", day(61), 6), ("P1", day(62), 6),
    # P3: two sessions on one day (a tie)
    ("P3", day(90), 4), ("P3", day(92), 5), ("P3", day(93), 4),
]  # fmt: skip
SESSIONS = [
    ("S1", "P1", day(10)), ("S2", "P1", day(20)), ("S3", "P1", day(30)), ("S4", "P1", day(41)),
    ("S5", "P1", day(43)), ("S6", "P1", day(60)), ("S6x", "P1", day(61), "cancelled"),
    ("S7", "P2", day(10)),  # P2 keeps no journal
    ("S8", "P3", day(91)), ("S9", "P3", day(91)),
]  # fmt: skip


def test_soreness_worked_by_hand():
    result = post_session_soreness(clinic_of(JOURNAL, SESSIONS)).set_index("session_id")
    assert result.index.tolist() == ["S1", "S2", "S3", "S4", "S5", "S6", "S8", "S9"]  # no cancelled, no P2
    expected = pd.DataFrame(
        {
            #        before  next_48h      soreness      settle  within
            "S1": (4, (6 + 5) / 2, (6 + 5) / 2 - 4, 3, False),
            "S2": (3, 3, 0, 2, True),
            "S3": (np.nan, 4, np.nan, None, None),
            "S4": (2, 5, 3, None, None),  # day 2 is S5's day: only day 1 counts, and it is above
            "S5": (5, 2, -3, 1, True),
            "S6": (3, 6, 3, None, False),  # censored: the diary ends
            "S8": (4, 4.5, 0.5, 2, True),
            "S9": (4, 4.5, 0.5, 2, True),  # same-day session: the next session is not "on day 0"
        },
        index=["pain_day_before", "pain_next_48h", "soreness", "days_to_settle", "settled_within_48h"],
    ).T
    for column in ["pain_day_before", "pain_next_48h", "soreness"]:
        np.testing.assert_allclose(result[column], expected[column].astype(float), atol=1e-12, err_msg=column)
    assert result["days_to_settle"].tolist() == [3, 2, pd.NA, pd.NA, 1, pd.NA, 2, 2]
    assert result["settled_within_48h"].tolist() == [False, True, pd.NA, pd.NA, True, False, True, True]
    assert str(result["days_to_settle"].dtype) == "Int64" and str(result["settled_within_48h"].dtype) == "boolean"


def test_settle_window_is_limited_by_settle_days():
    journal = [("P1", day(9), 2)] + [("P1", day(10 + k), 6) for k in range(1, 5)] + [("P1", day(15), 2)]
    clinic = clinic_of(journal, [("S1", "P1", day(10))])
    assert post_session_soreness(clinic)["days_to_settle"].iloc[0] == 5
    assert pd.isna(post_session_soreness(clinic, settle_days=4)["days_to_settle"].iloc[0])


def test_summary_of_soreness_by_hand():
    per_session = post_session_soreness(clinic_of(JOURNAL, SESSIONS))
    summary = summarize_soreness(per_session[per_session["patient_id"] == "P1"]).iloc[0]
    # S1..S6: soreness 1.5, 0, 3, -3, 3 (S3 missing); settle known S1 F, S2 T, S5 T, S6 F; days 3, 2, 1
    assert summary[["sessions", "sessions_with_soreness", "sessions_settle_known"]].tolist() == [6, 5, 4]
    assert summary["mean_soreness"] == pytest.approx(4.5 / 5, abs=1e-12)
    assert summary["share_settled_within_48h"] == pytest.approx(0.5, abs=1e-12)
    assert summary["median_days_to_settle"] == pytest.approx(2.0, abs=1e-12)


def test_no_journal_table_gives_empty_results_not_errors():
    clinic = clinic_of(None, SESSIONS)
    trend = journal_trend(clinic)
    assert trend.empty and "pain_rolling_mean" in trend.columns
    soreness = post_session_soreness(clinic)
    assert soreness.empty and soreness.columns.tolist() == [
        "session_id", "episode_id", "patient_id", "session_date", "pain_day_before",
        "pain_next_48h", "soreness", "days_to_settle", "settled_within_48h",
    ]  # fmt: skip
    assert str(soreness["days_to_settle"].dtype) == "Int64"
    summary = summarize_soreness(soreness).iloc[0]
    assert (
        summary["sessions"] == 0
        and np.isnan(summary["mean_soreness"])
        and np.isnan(summary["share_settled_within_48h"])
    )


def test_journal_without_any_attended_session():
    clinic = clinic_of([("P1", day(1), 5), ("P1", day(2), 5)])
    assert post_session_soreness(clinic).empty
    assert not journal_trend(clinic)["session_day"].any()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: journal_trend(c, window_days=0), r"`window_days` must be a whole number of days, 1 or more, got 0"),
        (
            lambda c: journal_trend(c, min_entries=2.5),
            r"`min_entries` must be a whole number of days, 1 or more, got 2.5",
        ),
        (
            lambda c: post_session_soreness(c, settle_days=-1),
            r"`settle_days` must be a whole number of days, 1 or more, got -1",
        ),
    ],
)
def test_options_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call(clinic_of(JOURNAL, SESSIONS))


def test_generated_clinic_invariants():
    clinic = demo_clinic_of(n_patients=300, seed=5)
    per_session = post_session_soreness(clinic)
    assert per_session["session_id"].is_unique and per_session["patient_id"].isin(clinic.journal["patient_id"]).all()
    both = per_session["soreness"].notna()
    np.testing.assert_allclose(
        per_session.loc[both, "soreness"],
        per_session.loc[both, "pain_next_48h"] - per_session.loc[both, "pain_day_before"],
        atol=1e-12,
    )
    settle = per_session["days_to_settle"].dropna()
    assert settle.between(1, 14).all()
    early = per_session["days_to_settle"].fillna(99) <= 2
    assert per_session.loc[early, "settled_within_48h"].eq(True).all()
    summary = summarize_soreness(per_session).iloc[0]
    assert 0 <= summary["share_settled_within_48h"] <= 1
    assert (
        summary["sessions_with_soreness"] <= summary["sessions"]
        and summary["sessions_settle_known"] <= summary["sessions"]
    )
    # the demo journal adds 1-2 points of soreness on the session day and the day after: soreness is positive on average
    assert summary["mean_soreness"] > 0
