"""Attendance metrics: per-episode attendance, self-discharge, follow-up, and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics.clinic import Clinic
from needling_analytics.metrics.attendance import attendance, summarize_attendance

from .conftest import demo_tables, small_clinic

A, C, N = "attended", "cancelled", "no_show"


def clinic_of(sessions, episodes, as_of="2026-02-25"):
    """Sessions as (episode, date, status, pain_pre); episodes as (episode, start, end, reason)."""
    return small_clinic(
        as_of=as_of,
        episodes=pd.DataFrame(episodes, columns=["episode_id", "start_date", "end_date", "discharge_reason"]),
        sessions=pd.DataFrame(sessions, columns=["episode_id", "session_date", "status", "pain_pre"]),
    )


SESSIONS = [
    ("E1", "2026-01-05", A, 6), ("E1", "2026-01-12", C, None), ("E1", "2026-01-19", N, None), ("E1", "2026-01-26", A, 4),
    ("E2", "2026-01-10", C, None), ("E2", "2026-01-17", C, None),
    ("E3", "2026-02-10", A, 7), ("E3", "2026-02-17", A, None),
    ("E4", "2025-10-01", A, 5), ("E4", "2025-10-08", A, 2),
]  # fmt: skip
EPISODES = [
    ("E1", "2026-01-05", None, None),  # open; last attended 2026-01-26, 30 days before as_of
    ("E2", "2026-01-10", None, None),  # open; never attended; started 46 days before as_of
    ("E3", "2026-02-10", "2026-02-20", "self_discharged"),  # recorded, recently seen
    ("E4", "2025-10-01", "2025-10-20", "goals_met"),  # long ago, but ended
    ("E5", "2026-02-20", None, None),  # open, nothing booked yet, 5 days old
]


def test_counts_dates_and_flags_worked_by_hand():
    table = attendance(clinic_of(SESSIONS, EPISODES)).set_index("episode_id")
    assert table[["booked", "attended", "cancelled", "no_show"]].loc["E1"].tolist() == [4, 2, 1, 1]
    assert table[["booked", "attended", "cancelled", "no_show"]].loc["E2"].tolist() == [2, 0, 2, 0]
    assert table[["booked", "attended", "cancelled", "no_show"]].loc["E5"].tolist() == [0, 0, 0, 0]
    assert table.loc["E1", "attendance_rate"] == pytest.approx(0.5, abs=1e-12)
    assert table.loc["E2", "attendance_rate"] == 0  # all cancelled: a rate of 0, not missing
    assert np.isnan(table.loc["E5", "attendance_rate"])  # nothing booked
    assert table.loc["E1", "first_session"] == pd.Timestamp("2026-01-05")
    assert table.loc["E2", "first_session"] == pd.Timestamp("2026-01-10")  # any status
    assert table.loc["E1", "last_attended"] == pd.Timestamp("2026-01-26")
    assert pd.isna(table.loc["E2", "last_attended"]) and pd.isna(table.loc["E5", "first_session"])
    assert table.loc["E1", "days_since_last_visit"] == 30  # Jan 26 to Feb 25
    assert table.loc["E4", "days_since_last_visit"] == (pd.Timestamp("2026-02-25") - pd.Timestamp("2025-10-08")).days
    assert np.isnan(table.loc["E2", "days_since_last_visit"])
    assert table["ended"].tolist() == [False, False, True, True, False]
    assert table["self_discharged"].tolist() == [True, True, True, False, False]
    assert table["self_discharge_source"].tolist() == ["inactive", "inactive", "recorded", pd.NA, pd.NA]
    # follow-up pain: E1 6 -> 4; E3's second visit has no score; E4 5 -> 2; E2 never attended
    assert table["has_follow_up_pain"].tolist() == [True, False, False, True, False]
    assert table["patient_id"].tolist() == ["P1", "P2", "P3", "P4", "P5"]


def test_self_discharge_boundary_is_inclusive_at_exactly_the_cut_off():
    def flag(as_of, **kwargs):
        return (
            attendance(clinic_of(SESSIONS, EPISODES), as_of=as_of, **kwargs)
            .set_index("episode_id")
            .loc["E1", "self_discharged"]
        )

    assert flag("2026-02-25")  # 30 days since 2026-01-26
    assert not flag("2026-02-24")  # 29 days
    assert not flag("2026-02-25", self_discharge_days=31)
    assert flag("2026-02-25", self_discharge_days=29.5)
    # the default as_of is the clinic's
    clinic = clinic_of(SESSIONS, EPISODES, as_of="2026-02-24")
    assert not attendance(clinic).set_index("episode_id").loc["E1", "self_discharged"]
    assert attendance(clinic).attrs == {"self_discharge_days": 30, "as_of": pd.Timestamp("2026-02-24")}


def test_never_attended_episode_counts_inactivity_from_its_start():
    clinic = clinic_of([("E1", "2026-01-27", N, None)], [("E1", "2026-01-26", None, None)])
    assert attendance(clinic, as_of="2026-02-25")["self_discharged"].item()  # 30 days after the start
    assert not attendance(clinic, as_of="2026-02-24")["self_discharged"].item()


def test_summary_worked_by_hand():
    table = attendance(clinic_of(SESSIONS, EPISODES))
    summary = summarize_attendance(table)
    assert len(summary) == 1
    got = summary.iloc[0]
    # booked 4 + 2 + 2 + 2 + 0 = 10; attended 2 + 0 + 2 + 2 = 6; cancelled 1 + 2 = 3; no-show 1
    assert got[
        ["booked", "attended", "cancelled", "no_show", "episodes", "self_discharged", "with_follow_up"]
    ].tolist() == [10, 6, 3, 1, 5, 3, 2]
    np.testing.assert_allclose(
        got[["attendance_rate", "cancellation_rate", "no_show_rate", "self_discharge_rate", "follow_up_rate"]].to_numpy(
            dtype=float
        ),
        [0.6, 0.3, 0.1, 0.6, 0.4],
        rtol=0,
        atol=1e-12,
    )
    assert list(summary.columns) == [
        "booked", "attended", "cancelled", "no_show", "attendance_rate", "cancellation_rate", "no_show_rate",
        "episodes", "self_discharged", "self_discharge_rate", "with_follow_up", "follow_up_rate",
        "upcoming", "unmarked",
    ]  # fmt: skip


def test_summary_by_group_and_of_nothing():
    table = attendance(clinic_of(SESSIONS, EPISODES)).assign(site=["a", "a", "b", "b", "b"])
    grouped = summarize_attendance(table, by="site").set_index("site")
    assert grouped.loc["a", "booked"] == 6 and grouped.loc["a", "attended"] == 2
    assert grouped.loc["b", "attendance_rate"] == pytest.approx(1.0, abs=1e-12)
    empty = summarize_attendance(table.iloc[:0]).iloc[0]
    assert empty["booked"] == 0 and empty["episodes"] == 0
    assert np.isnan(empty["attendance_rate"]) and np.isnan(empty["follow_up_rate"])


def test_all_sessions_cancelled():
    clinic = clinic_of(
        [("E1", "2026-01-05", C, None), ("E1", "2026-01-12", C, None)], [("E1", "2026-01-05", None, None)]
    )
    row = attendance(clinic, as_of="2026-01-20").iloc[0]
    assert (row["booked"], row["attended"], row["cancelled"], row["attendance_rate"]) == (2, 0, 2, 0.0)
    assert not row["self_discharged"] and not row["has_follow_up_pain"]  # 15 days since the start


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"self_discharge_days": 0}, r"`self_discharge_days` must be a positive number of days, got 0"),
        ({"self_discharge_days": "30"}, r"`self_discharge_days` must be a positive number of days, got '30'"),
        ({"self_discharge_days": True}, r"`self_discharge_days` must be a positive number of days, got True"),
        ({"as_of": "last tuesday"}, r"`as_of` must be a date such as '2026-10-31', got 'last tuesday'"),
    ],
)
def test_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        attendance(clinic_of(SESSIONS, EPISODES), **kwargs)


def test_summary_needs_attendance_columns():
    with pytest.raises(
        ValueError, match=r"`per_episode` lacks column\(s\) \['self_discharged', 'has_follow_up_pain'\]"
    ):
        summarize_attendance(pd.DataFrame({"booked": [1], "attended": [1], "cancelled": [0], "no_show": [0]}))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['site'\]"):
        summarize_attendance(attendance(clinic_of(SESSIONS, EPISODES)), by="site")


def test_input_is_not_mutated():
    clinic = clinic_of(SESSIONS, EPISODES)
    before = {name: frame.copy() for name, frame in clinic.tables.items()}
    table = attendance(clinic)
    copy = table.copy()
    summarize_attendance(table)
    pd.testing.assert_frame_equal(table, copy)
    for name, frame in clinic.tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_generated_clinic_invariants():
    tables = demo_tables(n_patients=300, seed=4)
    clinic = Clinic.from_frames(as_of="2026-10-31", **tables)
    table = attendance(clinic)
    assert len(table) == len(tables["episodes"])
    assert (table["booked"] == table["attended"] + table["cancelled"] + table["no_show"]).all()
    assert table["booked"].sum() == len(tables["sessions"])
    assert table["attendance_rate"].dropna().between(0, 1).all()
    assert (table["days_since_last_visit"].dropna() >= 0).all()
    recorded = tables["episodes"]["discharge_reason"].eq("self_discharged").fillna(False).to_numpy(dtype=bool)
    assert table.loc[recorded, "self_discharged"].all()
    assert not table.loc[table["ended"] & ~recorded, "self_discharged"].any()
    inferred = table["self_discharge_source"] == "inactive"
    assert (table.loc[inferred, "days_since_last_visit"] >= 30).all()
    summary = summarize_attendance(table).iloc[0]
    rates = ["attendance_rate", "cancellation_rate", "no_show_rate", "self_discharge_rate", "follow_up_rate"]
    assert all(0 <= summary[r] <= 1 for r in rates)
    assert summary["attendance_rate"] + summary["cancellation_rate"] + summary["no_show_rate"] == pytest.approx(
        1, abs=1e-12
    )


# ------------------------------------------------------------------ booked (future) and unmarked appointments

B, U = "booked", "unmarked"


def test_upcoming_and_unmarked_are_counted_apart_and_left_out_of_the_rate():
    # as_of 2026-02-25. E1: 2 attended, 1 cancelled, 1 unmarked (past), 2 booked (one future, one stale past).
    # E2: open, last attended 2026-01-10 (46 days ago) but booked for 2026-03-02: not self-discharged.
    # E3: open, last attended 2026-01-10, only a stale booking dated before as_of: self-discharged (inactive).
    sessions = [
        ("E1", "2026-01-05", A, 6), ("E1", "2026-01-12", C, None), ("E1", "2026-01-19", U, None),
        ("E1", "2026-02-20", A, 4), ("E1", "2026-03-04", B, None), ("E1", "2026-02-01", B, None),
        ("E2", "2026-01-10", A, 5), ("E2", "2026-03-02", B, None),
        ("E3", "2026-01-10", A, 5), ("E3", "2026-02-01", B, None),
    ]  # fmt: skip
    episodes = [
        ("E1", "2026-01-05", None, None),
        ("E2", "2026-01-10", None, None),
        ("E3", "2026-01-10", None, None),
    ]
    table = attendance(clinic_of(sessions, episodes)).set_index("episode_id")
    counts = ["booked", "attended", "cancelled", "no_show", "upcoming", "unmarked"]
    assert table.loc["E1", counts].tolist() == [6, 2, 1, 0, 2, 1]
    # rate over marked appointments only: 2 attended / (2 + 1 cancelled + 0 missed)
    assert table.loc["E1", "attendance_rate"] == pytest.approx(2 / 3, abs=1e-12)
    assert table.loc["E2", "attendance_rate"] == pytest.approx(1.0, abs=1e-12)
    assert table.loc["E1", "next_booked"] == pd.Timestamp("2026-03-04")
    assert table.loc["E2", "next_booked"] == pd.Timestamp("2026-03-02")
    assert pd.isna(table.loc["E3", "next_booked"])  # a booking dated before as_of is not a future one
    assert table["self_discharged"].tolist() == [False, False, True]

    summary = summarize_attendance(table.reset_index()).iloc[0]
    assert summary[["booked", "attended", "cancelled", "no_show", "upcoming", "unmarked"]].tolist() == [
        10, 4, 1, 0, 4, 1
    ]  # fmt: skip
    assert summary["attendance_rate"] == pytest.approx(4 / 5, abs=1e-12)
    assert summary["cancellation_rate"] == pytest.approx(1 / 5, abs=1e-12)
    assert summary["no_show_rate"] == pytest.approx(0.0, abs=1e-12)


def test_only_future_bookings_give_a_missing_rate_not_zero():
    sessions = [("E1", "2026-03-01", B, None), ("E1", "2026-03-08", B, None)]
    table = attendance(clinic_of(sessions, [("E1", "2026-01-05", None, None)])).iloc[0]
    assert table["booked"] == 2 and table["upcoming"] == 2 and table["no_show"] == 0
    assert np.isnan(table["attendance_rate"])
    assert not table["self_discharged"]  # started 51 days ago, never seen, but booked ahead


def test_summary_accepts_a_table_without_the_new_counts():
    table = attendance(clinic_of(SESSIONS, EPISODES)).drop(columns=["upcoming", "unmarked"])
    summary = summarize_attendance(table).iloc[0]
    assert summary["upcoming"] == 0 and summary["unmarked"] == 0


def test_monthly_activity_counts_upcoming_and_unmarked_apart():
    from needling_analytics.metrics import monthly_activity

    sessions = [
        ("E1", "2026-02-02", A, 6), ("E1", "2026-02-09", N, None), ("E1", "2026-02-16", U, None),
        ("E1", "2026-02-23", A, 5), ("E1", "2026-02-27", B, None), ("E1", "2026-03-06", B, None),
    ]  # fmt: skip
    table = monthly_activity(clinic_of(sessions, [("E1", "2026-02-02", None, None)]), "2026-03", months=1)
    feb, mar = table.iloc[0], table.iloc[1]
    assert feb[["sessions_booked", "sessions_attended", "cancelled", "no_show", "upcoming", "unmarked"]].tolist() == [
        5, 2, 0, 1, 1, 1
    ]  # fmt: skip
    assert feb["attendance_rate"] == pytest.approx(2 / 3, abs=1e-12)
    assert mar["sessions_booked"] == 1 and mar["upcoming"] == 1 and np.isnan(mar["attendance_rate"])
