"""Properties that hold for any clinic: rates are proportions, counts add up, row order is irrelevant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from needling_analytics.clinic import Clinic
from needling_analytics.metrics import adverse_event_rates, attendance, summarize_attendance, time_to_response

STATUSES = ["attended", "attended", "attended", "cancelled", "no_show"]
EVENTS = ["bruising", "bleeding", "pain_after"]

session_rows = st.lists(
    st.tuples(
        st.integers(0, 4), st.integers(0, 50), st.sampled_from(STATUSES), st.one_of(st.none(), st.integers(0, 10))
    ),
    min_size=1,
    max_size=25,
)


def build(rows, event_picks):
    start = pd.Timestamp("2026-01-05")
    sessions = pd.DataFrame(
        [
            (f"S{i}", f"E{e}", f"P{e}", "PR1", start + pd.Timedelta(days=d), status, pain)
            for i, (e, d, status, pain) in enumerate(rows)
        ],
        columns=["session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "status", "pain_pre"],
    )
    episodes = pd.DataFrame({"episode_id": sorted(sessions["episode_id"].unique())})
    episodes["patient_id"] = episodes["episode_id"].str.replace("E", "P")
    episodes["start_date"] = start
    attended = sessions[sessions["status"] == "attended"]
    events = (
        pd.DataFrame(
            [
                (
                    attended["session_id"].iloc[i % len(attended)],
                    attended["patient_id"].iloc[i % len(attended)],
                    EVENTS[k],
                    "mild",
                )
                for i, k in event_picks
            ],
            columns=["session_id", "patient_id", "event_type", "severity"],
        )
        if len(attended) and event_picks
        else pd.DataFrame(columns=["session_id", "patient_id", "event_type", "severity"])
    )
    patients = pd.DataFrame({"patient_id": episodes["patient_id"]})
    return Clinic.from_frames(
        as_of="2026-11-28", patients=patients, episodes=episodes, sessions=sessions, adverse_events=events
    )


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    session_rows,
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), max_size=8, unique_by=lambda t: t[0]),
    st.integers(0, 10**6),
)
def test_rates_are_proportions_and_order_does_not_matter(rows, event_picks, seed):
    clinic = build(rows, event_picks)
    rates = adverse_event_rates(clinic)
    finite = rates.dropna(subset=["ci_lower"])
    assert (finite["rate_per_100"] >= 0).all()  # events are counts: more events than treatments is over 100
    assert (
        (finite["ci_lower"] <= finite["rate_per_100"] + 1e-9) & (finite["rate_per_100"] <= finite["ci_upper"] + 1e-9)
    ).all()
    visits = summarize_attendance(attendance(clinic)).iloc[0]
    assert visits["booked"] == len(clinic.sessions)
    assert visits["attended"] + visits["cancelled"] + visits["no_show"] == visits["booked"]
    for share in ("attendance_rate", "self_discharge_rate"):
        assert np.isnan(visits[share]) or 0 <= visits[share] <= 1
    times = time_to_response(clinic)
    shuffled = Clinic.from_frames(
        as_of="2026-11-28",
        patients=clinic.patients,
        episodes=clinic.episodes,
        sessions=clinic.sessions.sample(frac=1, random_state=seed),
        adverse_events=clinic.adverse_events,
    )
    pd.testing.assert_frame_equal(times, time_to_response(shuffled))
    pd.testing.assert_frame_equal(rates, adverse_event_rates(shuffled))


def test_a_clinic_without_episodes_gives_empty_results_not_errors():
    from needling_analytics import metrics

    empty = {"dtype": "string"}
    clinic = Clinic.from_frames(
        patients=pd.DataFrame({"patient_id": ["P1"]}),
        episodes=pd.DataFrame({c: pd.Series([], **empty) for c in ["episode_id", "patient_id", "start_date"]}),
        sessions=pd.DataFrame(
            {
                c: pd.Series([], **empty)
                for c in ["session_id", "episode_id", "patient_id", "practitioner_id", "session_date"]
            }
        ),
    )
    for name in [
        "session_pain",
        "episode_pain",
        "time_to_response",
        "attendance",
        "session_exposures",
        "rom_change",
        "prom_change",
        "journal_trend",
    ]:
        assert getattr(metrics, name)(clinic).empty, name
    assert (metrics.adverse_event_rates(clinic)["events"] == 0).all()
