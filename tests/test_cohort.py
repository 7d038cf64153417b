"""Cohort transforms: the clinic as it stood on a day."""

from __future__ import annotations

import pandas as pd

from needling_analytics.cohort import clinic_until

from .conftest import small_clinic


def _clinic():
    sessions = pd.DataFrame(
        {
            "episode_id": ["E1", "E1", "E1", "E2"],
            "session_date": pd.to_datetime(["2026-09-01", "2026-09-20", "2026-10-03", "2026-10-10"]),
            "status": "attended",
            "pain_pre": [7.0, 5.0, 3.0, 6.0],
        }
    )
    episodes = pd.DataFrame(
        {
            "episode_id": ["E1", "E2"],
            "start_date": pd.to_datetime(["2026-09-01", "2026-10-10"]),
            "end_date": pd.to_datetime(["2026-10-03", None]),
            "discharge_reason": ["goals_met", None],
        }
    )
    events = pd.DataFrame({"session_id": ["S0", "S2"], "event_type": ["bruising", "pain_after"]})
    return small_clinic(sessions=sessions, episodes=episodes, adverse_events=events, as_of="2026-10-31")


def test_the_clinic_until_a_day_leaves_out_everything_later_and_reopens_later_discharges():
    clinic = _clinic()
    before = {name: table.copy() for name, table in clinic.tables.items()}
    cut = clinic_until(clinic, "2026-09-30")
    assert cut.as_of == pd.Timestamp("2026-09-30")
    assert cut.sessions["session_id"].tolist() == ["S0", "S1"]
    assert cut.episodes["episode_id"].tolist() == ["E1"]  # E2 started later
    assert pd.isna(cut.episodes["end_date"].iloc[0]) and pd.isna(cut.episodes["discharge_reason"].iloc[0])
    assert cut.adverse_events["session_id"].tolist() == ["S0"]  # the event of the later session went with it
    for name, table in before.items():  # nothing of the given clinic changed
        pd.testing.assert_frame_equal(clinic.tables[name], table)


def test_a_day_after_the_data_changes_nothing_and_keeps_the_earlier_as_of_date():
    clinic = _clinic()
    cut = clinic_until(clinic, "2026-12-31")
    assert cut.as_of == clinic.as_of
    for name in clinic.tables:
        pd.testing.assert_frame_equal(cut.tables[name], clinic.tables[name])
