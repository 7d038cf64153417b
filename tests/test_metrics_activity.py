"""Monthly clinic activity: counts, attendance, discharged outcomes and adverse events per month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from needling_analytics.clinic import Clinic
from needling_analytics.metrics.activity import monthly_activity
from needling_analytics.metrics.pain import ResponderRule
from needling_analytics.periods import parse_month

from .conftest import demo_tables, small_clinic

A, C, N = "attended", "cancelled", "no_show"


def clinic_of(sessions, episodes, events=None):
    """Sessions as (session_id, episode, date, status, pain_pre); episodes as (episode, patient, start, end)."""
    if events is not None:
        events = pd.DataFrame(events, columns=["session_id", "event_type", "severity"])
    return small_clinic(
        episodes=pd.DataFrame(episodes, columns=["episode_id", "patient_id", "start_date", "end_date"]),
        sessions=pd.DataFrame(sessions, columns=["session_id", "episode_id", "session_date", "status", "pain_pre"]),
        adverse_events=events,
    )


EPISODES = [
    ("E1", "P1", "2026-01-05", "2026-03-10"),
    ("E2", "P2", "2026-01-20", "2026-03-20"),
    ("E3", "P1", "2026-03-15", None),  # P1's second episode: not a new patient
]
SESSIONS = [
    ("S1", "E1", "2026-01-05", A, 8),
    ("S2", "E1", "2026-01-12", C, None),
    ("S3", "E1", "2026-01-19", A, 4),
    ("S4", "E2", "2026-01-20", A, 6),
    ("S5", "E1", "2026-03-02", N, None),
    ("S6", "E2", "2026-03-03", A, 5),
    ("S7", "E3", "2026-03-16", A, 7),
]
EVENTS = [("S1", "bruising", "mild"), ("S3", "bleeding", "mild"), ("S7", "pain_after", "mild")]


def test_months_worked_by_hand():
    table = monthly_activity(clinic_of(SESSIONS, EPISODES, EVENTS), "2026-03", months=3)
    assert table["month"].tolist() == [pd.Period(m, "M") for m in ["2025-12", "2026-01", "2026-02", "2026-03"]]
    assert str(table["month"].dtype) == "period[M]"
    t = table.set_index("month")
    jan, mar = t.loc[pd.Period("2026-01", "M")], t.loc[pd.Period("2026-03", "M")]
    counts = [
        "active_patients",
        "new_patients",
        "new_episodes",
        "sessions_booked",
        "sessions_attended",
        "cancelled",
        "no_show",
        "discharges",
        "adverse_events",
    ]
    assert jan[counts].tolist() == [2, 2, 2, 4, 3, 1, 0, 0, 2]
    assert mar[counts].tolist() == [2, 0, 1, 3, 2, 0, 1, 2, 1]
    assert jan["attendance_rate"] == pytest.approx(0.75, abs=1e-12)
    assert mar["attendance_rate"] == pytest.approx(2 / 3, abs=1e-12)
    assert jan["ae_rate_per_100"] == pytest.approx(200 / 3, abs=1e-12)
    assert mar["ae_rate_per_100"] == pytest.approx(50, abs=1e-12)
    # discharged in March: E1 8 -> 4 (4 points, 50%: responder), E2 6 -> 5 (1 point: not improved)
    assert (mar["discharged_assessable"], mar["discharged_responders"]) == (2, 1)
    assert mar["discharged_responder_rate"] == pytest.approx(0.5, abs=1e-12)
    lower, upper = proportion_confint(1, 2, alpha=0.05, method="beta")
    assert mar["responder_ci_lower"] == pytest.approx(lower, abs=1e-10) and mar["responder_ci_upper"] == pytest.approx(
        upper, abs=1e-10
    )
    assert mar["mean_pain_reduction"] == pytest.approx(2.5, abs=1e-12)
    assert np.isnan(jan["discharged_responder_rate"]) and np.isnan(jan["mean_pain_reduction"])


def test_months_without_activity_are_zero_rows_not_missing():
    table = monthly_activity(clinic_of(SESSIONS, EPISODES, EVENTS), "2026-03", months=3).set_index("month")
    for month in ["2025-12", "2026-02"]:
        row = table.loc[pd.Period(month, "M")]
        counts = row[
            [
                "active_patients",
                "new_patients",
                "new_episodes",
                "sessions_booked",
                "sessions_attended",
                "cancelled",
                "no_show",
                "discharges",
                "discharged_assessable",
                "adverse_events",
                "discharged_responders",
            ]
        ]
        assert (counts == 0).all(), month
        rates = row[
            [
                "attendance_rate",
                "discharged_responder_rate",
                "responder_ci_lower",
                "responder_ci_upper",
                "mean_pain_reduction",
                "ae_rate_per_100",
            ]
        ]
        assert rates.isna().all(), month
    assert table["sessions_booked"].dtype == "int64"


def test_all_sessions_cancelled_in_a_month_and_no_adverse_events_table():
    sessions = [("S1", "E1", "2026-05-04", C, None), ("S2", "E1", "2026-05-11", C, None)]
    clinic = clinic_of(sessions, [("E1", "P1", "2026-05-04", None)])
    row = monthly_activity(clinic, "2026-05", months=0).iloc[0]
    assert (row["sessions_booked"], row["sessions_attended"], row["cancelled"], row["active_patients"]) == (2, 0, 2, 0)
    assert row["attendance_rate"] == 0 and row["adverse_events"] == 0
    assert np.isnan(row["ae_rate_per_100"])  # no treatments: no rate


def test_responder_rule_is_a_parameter_and_recorded():
    rule = ResponderRule(abs_threshold=1, pct_threshold=15, require="either")
    table = monthly_activity(clinic_of(SESSIONS, EPISODES), "2026-03", months=0, rule=rule)
    assert table["discharged_responder_rate"].item() == 1.0  # E2's 1 point now counts
    assert table.attrs["responder_rule"] == rule.to_dict()


def test_month_may_be_a_period_and_the_range_ends_there():
    clinic = clinic_of(SESSIONS, EPISODES)
    by_text = monthly_activity(clinic, "2026-01", months=1)
    by_period = monthly_activity(clinic, pd.Period("2026-01", freq="M"), months=1)
    pd.testing.assert_frame_equal(by_text, by_period)
    assert by_text["month"].astype(str).tolist() == ["2025-12", "2026-01"]
    assert len(monthly_activity(clinic, "2026-03")) == 13  # default: a year before, inclusive


@pytest.mark.parametrize("bad", ["2026-3", "2026-13", "2026-00", "March 2026", "2026-03-01", " 2026-03", 202603, None])
def test_month_format_errors(bad):
    with pytest.raises(
        ValueError,
        match=r"`month` must be a month written 'YYYY-MM' \(e.g. '2026-10'\) or a monthly pandas Period, got ",
    ):
        parse_month(bad)
    with pytest.raises(ValueError, match=r"`month` must be"):
        monthly_activity(clinic_of(SESSIONS, EPISODES), bad)


def test_month_period_of_another_frequency_is_refused():
    with pytest.raises(
        ValueError, match=r"`month` must be a monthly Period \(freq 'M'\), got Period\('2026-03-01', 'D'\)"
    ):
        monthly_activity(clinic_of(SESSIONS, EPISODES), pd.Period("2026-03-01", freq="D"))
    with pytest.raises(ValueError, match=r"got Timestamp\('2026-03-01 00:00:00'\)"):
        monthly_activity(clinic_of(SESSIONS, EPISODES), pd.Timestamp("2026-03-01"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"months": -1}, r"`months` must be a whole number of months, 0 or more, got -1"),
        ({"months": 1.5}, r"`months` must be a whole number of months, 0 or more, got 1.5"),
        ({"months": True}, r"`months` .* got True"),
        ({"confidence": 0}, r"`confidence` must be a fraction between 0 and 1 \(0.95 means 95%\), got 0"),
    ],
)
def test_other_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        monthly_activity(clinic_of(SESSIONS, EPISODES), "2026-03", **kwargs)


def test_input_is_not_mutated():
    clinic = clinic_of(SESSIONS, EPISODES, EVENTS)
    before = {name: frame.copy() for name, frame in clinic.tables.items()}
    monthly_activity(clinic, "2026-03")
    for name, frame in clinic.tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_generated_clinic_invariants():
    tables = demo_tables(n_patients=300, seed=5, months=12, end="2026-10-31")
    clinic = Clinic.from_frames(**tables)
    table = monthly_activity(clinic, "2026-10", months=13)  # covers the whole period and a month before
    sessions, episodes = tables["sessions"], tables["episodes"]
    assert table["sessions_booked"].sum() == len(sessions)
    assert (table["sessions_booked"] == table["sessions_attended"] + table["cancelled"] + table["no_show"]).all()
    assert table["sessions_attended"].sum() == (sessions["status"] == "attended").sum()
    assert table["new_episodes"].sum() == len(episodes)
    assert table["new_patients"].sum() == episodes["patient_id"].nunique()
    assert table["discharges"].sum() == episodes["end_date"].notna().sum()
    assert table["adverse_events"].sum() == len(tables["adverse_events"])
    assert (table["active_patients"] <= table["sessions_attended"]).all()
    assert (table["discharged_assessable"] <= table["discharges"]).all()
    assert (table["discharged_responders"] <= table["discharged_assessable"]).all()
    for share in ["attendance_rate", "discharged_responder_rate", "responder_ci_lower", "responder_ci_upper"]:
        assert table[share].dropna().between(0, 1).all(), share
    ok = table["discharged_assessable"] > 0
    assert (table.loc[ok, "responder_ci_lower"] <= table.loc[ok, "discharged_responder_rate"]).all()
    assert (table.loc[ok, "discharged_responder_rate"] <= table.loc[ok, "responder_ci_upper"]).all()
    assert table["month"].is_monotonic_increasing and table["month"].is_unique
