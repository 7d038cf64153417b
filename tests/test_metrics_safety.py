"""Safety metrics: adverse-event rates, published benchmarks, the serious-event list."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from needling_analytics import DataQualityWarning
from needling_analytics.demo import generate_clinic
from needling_analytics.load import Clinic
from needling_analytics.metrics.safety import (
    adverse_event_rates,
    compare_to_benchmarks,
    published_benchmarks,
    serious_events,
)


def clinic_of(n_attended, events=None, *, n_cancelled=0, patients=1):
    """A clinic of ``n_attended`` attended sessions S0.. (patient P{i % patients}) and cancelled ones C0..

    ``events`` is a list of (session_id, event_type, severity[, resolved_days]).
    """
    ids = [f"S{i}" for i in range(n_attended)] + [f"C{i}" for i in range(n_cancelled)]
    patient = [f"P{i % patients}" for i in range(n_attended)] + ["P0"] * n_cancelled
    sessions = pd.DataFrame(
        {
            "session_id": ids,
            "episode_id": [f"E{p[1:]}" for p in patient],
            "patient_id": patient,
            "practitioner_id": "PR1",
            "session_date": pd.Timestamp("2026-01-05") + pd.to_timedelta(np.arange(len(ids)), unit="D"),
            "status": ["attended"] * n_attended + ["cancelled"] * n_cancelled,
        }
    )
    people = sorted(set(patient))
    episodes = pd.DataFrame(
        {"episode_id": [f"E{p[1:]}" for p in people], "patient_id": people, "start_date": "2026-01-05"}
    )
    frames = {"patients": pd.DataFrame({"patient_id": people}), "episodes": episodes, "sessions": sessions}
    if events is not None:
        rows = [(*e, None)[:4] for e in events]
        ae = pd.DataFrame(rows, columns=["session_id", "event_type", "severity", "resolved_days"])
        ae["patient_id"] = ae["session_id"].map(dict(zip(sessions["session_id"], sessions["patient_id"], strict=True)))
        ae["notes"] = "bruise on the left of Ana's neck"
        frames["adverse_events"] = ae
    return Clinic.from_frames(**frames)


def row(rates, event_type, severity):
    hit = rates[(rates["event_type"] == event_type) & (rates["severity"] == severity)]
    assert len(hit) == 1, (event_type, severity)
    return hit.iloc[0]


def test_rates_per_100_worked_by_hand():
    events = [
        ("S0", "bruising", "mild"),
        ("S0", "pain_after", "mild"),  # second event after the same session
        ("S1", "bruising", "mild"),
        ("S2", "bleeding", "significant", 6),
        ("S3", "fainting", "serious", 2),
    ]
    rates = adverse_event_rates(clinic_of(10, events, n_cancelled=2, patients=2))
    assert list(rates.columns[:7]) == [
        "event_type",
        "severity",
        "events",
        "treatments",
        "rate_per_100",
        "ci_lower",
        "ci_upper",
    ]
    # breakdown rows in schema order (bruising, bleeding, pain_after, fainting), then the five totals
    assert list(zip(rates["event_type"], rates["severity"], strict=True)) == [
        ("bruising", "mild"), ("bleeding", "significant"), ("pain_after", "mild"), ("fainting", "serious"),
        ("any", "mild"), ("any", "significant"), ("any", "serious"), ("any", "major"), ("any", "any"),
    ]  # fmt: skip
    assert (rates["treatments"] == 10).all()  # cancelled sessions are not treatments
    expected = {  # (events, sessions_with_event, patients_with_event); S0, S2 are P0, S1, S3 are P1
        ("bruising", "mild"): (2, 2, 2),
        ("any", "mild"): (3, 2, 2),
        ("any", "significant"): (1, 1, 1),
        ("any", "serious"): (1, 1, 1),
        ("any", "major"): (2, 2, 2),
        ("any", "any"): (5, 4, 2),
    }
    for key, (n, sessions, patients) in expected.items():
        r = row(rates, *key)
        assert (r["events"], r["sessions_with_event"], r["patients_with_event"]) == (n, sessions, patients), key
        assert r["rate_per_100"] == pytest.approx(100 * n / 10, abs=1e-12)
        lower, upper = proportion_confint(n, 10, alpha=0.05, method="beta")
        assert r["ci_lower"] == pytest.approx(100 * lower, abs=1e-9) and r["ci_upper"] == pytest.approx(
            100 * upper, abs=1e-9
        )


def test_zero_events_upper_bound_is_exact_and_near_the_rule_of_three():
    n = 1000
    rates = adverse_event_rates(clinic_of(n, []))
    total = row(rates, "any", "any")
    assert total["events"] == 0 and total["rate_per_100"] == 0 and total["ci_lower"] == 0
    assert total["ci_upper"] == pytest.approx(100 * (1 - 0.025 ** (1 / n)), rel=1e-9)  # two-sided 95%: ~3.69/n
    assert total["ci_upper"] == pytest.approx(100 * -math.log(0.025) / n, rel=0.01)
    one_sided = row(adverse_event_rates(clinic_of(n, []), confidence=0.90), "any", "any")
    assert one_sided["ci_upper"] == pytest.approx(100 * (1 - 0.05 ** (1 / n)), rel=1e-9)
    assert one_sided["ci_upper"] == pytest.approx(300 / n, rel=0.01)  # rule of three, per 100


def test_clinic_without_adverse_events_table_still_has_the_totals():
    clinic = clinic_of(50)
    assert "adverse_events" not in clinic.supplied
    rates = adverse_event_rates(clinic)
    assert rates["event_type"].tolist() == ["any"] * 5
    assert rates["severity"].tolist() == ["mild", "significant", "serious", "major", "any"]
    assert (rates["events"] == 0).all() and (rates["treatments"] == 50).all()
    np.testing.assert_allclose(rates["ci_upper"], 100 * (1 - 0.025 ** (1 / 50)), rtol=1e-9, atol=0)
    assert serious_events(clinic).empty


def test_no_treatments_gives_missing_rates():
    rates = adverse_event_rates(clinic_of(0, n_cancelled=3))
    assert (rates["treatments"] == 0).all()
    assert rates[["rate_per_100", "ci_lower", "ci_upper"]].isna().all().all()


def test_more_events_than_treatments_has_no_binomial_interval():
    rates = adverse_event_rates(clinic_of(1, [("S0", "bruising", "mild"), ("S0", "bleeding", "mild")]))
    total = row(rates, "any", "any")
    assert total["rate_per_100"] == pytest.approx(200, abs=1e-12) and total["sessions_with_event"] == 1
    assert np.isnan(total["ci_lower"]) and np.isnan(total["ci_upper"])


def test_by_event_type_only_and_totals_only():
    events = [("S0", "bruising", "mild"), ("S1", "bruising", "significant"), ("S2", "headache", "mild")]
    by_type = adverse_event_rates(clinic_of(20, events), by="event_type")
    assert list(zip(by_type["event_type"], by_type["severity"], strict=True))[:2] == [
        ("bruising", "any"),
        ("headache", "any"),
    ]
    assert row(by_type, "bruising", "any")["events"] == 2
    assert len(by_type) == 2 + 5
    for by in [(), ("severity",)]:
        totals = adverse_event_rates(clinic_of(20, events), by=by)
        assert totals["event_type"].tolist() == ["any"] * 5
        assert totals["events"].tolist() == [2, 1, 0, 1, 3]


def test_events_after_unattended_sessions_are_warned_about_and_not_counted():
    clinic = clinic_of(
        4, [("S0", "bruising", "mild"), ("C0", "bruising", "mild"), ("S9", "bleeding", "mild")], n_cancelled=1
    )
    with pytest.warns(DataQualityWarning, match=r"2 adverse event\(s\) do not follow an attended session"):
        rates = adverse_event_rates(clinic)
    assert row(rates, "any", "any")["events"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"by": ("practitioner_id",)},
            r"`by` may name 'event_type' and/or 'severity' \(each once\), got \('practitioner_id',\)",
        ),
        ({"by": ("severity", "severity")}, r"`by` may name .* got \('severity', 'severity'\)"),
        ({"confidence": 95}, r"`confidence` must be a fraction between 0 and 1 \(0.95 means 95%\), got 95"),
        ({"confidence": 1.0}, r"`confidence` must be a fraction .* got 1.0"),
    ],
)
def test_rate_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        adverse_event_rates(clinic_of(3), **kwargs)


def test_published_benchmarks_match_the_papers():
    bench = published_benchmarks().set_index(["study", "event_type", "severity"])
    assert list(published_benchmarks().columns[:6]) == [
        "study",
        "event_type",
        "severity",
        "rate_per_100",
        "treatments",
        "citation",
    ]
    brady, boyce = bench.loc["Brady 2014"], bench.loc["Boyce 2020"]
    assert (brady["treatments"] == 7629).all() and (boyce["treatments"] == 20464).all()
    # Brady 2014 abstract: 1,463 mild events in 7,629 treatments = 19.18%
    assert brady.loc[("any", "mild"), "rate_per_100"] == pytest.approx(100 * 1463 / 7629, abs=0.005)
    assert brady.loc[("any", "major"), "rate_per_100"] == 0
    assert 100 * 3 / 7629 <= 0.04  # its published upper bound is the rule of three
    assert brady.loc[
        [("bruising", "mild"), ("bleeding", "mild"), ("pain_during", "mild"), ("pain_after", "mild")], "rate_per_100"
    ].tolist() == [7.55, 4.65, 3.01, 2.19]
    # Boyce 2020: 20 major events in 20,464 treatments, "< 0.1%, 1 per 1,024"
    major = boyce.loc[("any", "major"), "rate_per_100"]
    assert major == pytest.approx(100 * 20 / 20464, rel=1e-12) and major < 0.1
    assert 100 / major == pytest.approx(1024, abs=1.5)
    assert boyce.loc[
        [("any", "mild"), ("bleeding", "mild"), ("bruising", "mild"), ("pain_during", "mild")], "rate_per_100"
    ].tolist() == [36.7, 16.0, 7.7, 5.9]
    assert bench["citation"].str.contains("2014;22\\(3\\):134|2020;15\\(1\\):103").all()


def test_compare_to_benchmarks_words_worked_by_hand():
    # 100 treatments: 8 bruising, 20 pain during, 2 pain after (all mild): 30 mild events, no bleeding
    events = [(f"S{i}", "bruising", "mild") for i in range(8)]
    events += [(f"S{i}", "pain_during", "mild") for i in range(10, 30)]
    events += [("S40", "pain_after", "mild"), ("S41", "pain_after", "mild")]
    table = compare_to_benchmarks(adverse_event_rates(clinic_of(100, events)))
    got = {(r.event_type, r.severity, r.study): r.comparison for r in table.itertuples()}
    # exact 95% intervals: 30/100 -> [21.2, 40.0]; 8/100 -> [3.5, 15.2]; 20/100 -> [12.7, 29.2];
    # 2/100 -> [0.24, 7.0]; 0/100 -> [0, 3.62]
    assert got == {
        ("any", "mild", "Brady 2014"): "above",  # 19.18 below the clinic's interval
        ("any", "mild", "Boyce 2020"): "within",  # 36.7
        ("any", "major", "Brady 2014"): "within",  # 0
        ("any", "major", "Boyce 2020"): "within",  # 0.098
        ("bruising", "mild", "Brady 2014"): "within",
        ("bruising", "mild", "Boyce 2020"): "within",
        ("bleeding", "mild", "Brady 2014"): "below",  # 4.65 above 3.62: the clinic recorded fewer
        ("bleeding", "mild", "Boyce 2020"): "below",
        ("pain_during", "mild", "Brady 2014"): "above",
        ("pain_during", "mild", "Boyce 2020"): "above",
        ("pain_after", "mild", "Brady 2014"): "within",
    }
    bleeding = table[table["event_type"] == "bleeding"].iloc[0]  # not recorded: zero events out of 100
    assert bleeding["events"] == 0 and bleeding["treatments"] == 100 and bleeding["rate_per_100"] == 0
    assert bleeding["ci_upper"] == pytest.approx(100 * (1 - 0.025 ** (1 / 100)), rel=1e-9)
    assert table["event_type"].tolist()[:4] == ["any"] * 4
    assert list(table.columns) == [
        "event_type", "severity", "study", "benchmark_rate_per_100", "benchmark_treatments",
        "events", "treatments", "rate_per_100", "ci_lower", "ci_upper", "comparison", "citation",
    ]  # fmt: skip


def test_compare_without_treatments_has_no_word():
    table = compare_to_benchmarks(adverse_event_rates(clinic_of(0, n_cancelled=2)))
    assert table["comparison"].isna().all()


def test_compare_refuses_other_breakdowns_and_frames():
    clinic = clinic_of(5)
    with pytest.raises(
        ValueError, match=r"`rates` must be broken down by event type and severity .* got by=\('event_type',\)"
    ):
        compare_to_benchmarks(adverse_event_rates(clinic, by="event_type"))
    with pytest.raises(ValueError, match=r"`rates` lacks column\(s\) \['ci_lower', 'ci_upper'\]"):
        compare_to_benchmarks(adverse_event_rates(clinic).drop(columns=["ci_lower", "ci_upper"]))
    with pytest.raises(ValueError, match=r"`rates` lacks the \('any', 'any'\) total row"):
        compare_to_benchmarks(adverse_event_rates(clinic).iloc[:-1])


def test_serious_events_listed_one_by_one_without_notes():
    events = [
        ("S3", "bruising", "mild", 4),
        ("S2", "bleeding", "significant", 6),
        ("S1", "pneumothorax", "serious", 14),
        ("S1", "headache", "significant"),
    ]
    table = serious_events(clinic_of(5, events, patients=2))
    assert list(table.columns) == [
        "session_date", "practitioner_id", "patient_id", "event_type", "severity", "resolved_days", "session_id", "episode_id",
    ]  # fmt: skip
    assert "notes" not in table.columns
    # by date (S1 on Jan 6 before S2 on Jan 7); mild bruising left out
    assert table["session_id"].tolist() == ["S1", "S1", "S2"]
    assert table["event_type"].tolist() == ["pneumothorax", "headache", "bleeding"]
    assert table["session_date"].tolist() == [pd.Timestamp("2026-01-06")] * 2 + [pd.Timestamp("2026-01-07")]
    assert table["patient_id"].tolist() == ["P1", "P1", "P0"]
    assert table["resolved_days"].iloc[0] == 14 and np.isnan(table["resolved_days"].iloc[1])


def test_inputs_are_not_mutated():
    clinic = clinic_of(5, [("S0", "bruising", "significant")])
    before = {name: frame.copy() for name, frame in clinic.tables.items()}
    compare_to_benchmarks(adverse_event_rates(clinic))
    serious_events(clinic)
    for name, frame in clinic.tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_generated_clinic_invariants():
    tables = generate_clinic(n_patients=300, seed=3)
    clinic = Clinic.from_frames(**tables)
    rates = adverse_event_rates(clinic)
    detail = rates[rates["event_type"] != "any"]
    total = row(rates, "any", "any")
    assert total["events"] == len(tables["adverse_events"]) == detail["events"].sum()
    assert total["treatments"] == (tables["sessions"]["status"] == "attended").sum()
    severity = tables["adverse_events"]["severity"]
    assert row(rates, "any", "major")["events"] == severity.isin(["significant", "serious"]).sum()
    for s in ["mild", "significant", "serious"]:
        assert (
            row(rates, "any", s)["events"]
            == (severity == s).sum()
            == detail.loc[detail["severity"] == s, "events"].sum()
        )
    assert (rates["sessions_with_event"] <= rates["events"]).all()
    assert (rates["patients_with_event"] <= rates["sessions_with_event"]).all()
    assert (rates["ci_lower"] <= rates["rate_per_100"] + 1e-12).all() and (
        rates["rate_per_100"] <= rates["ci_upper"] + 1e-12
    ).all()
    assert rates[["ci_lower", "ci_upper"]].stack().between(0, 100).all()
    assert len(serious_events(clinic)) == row(rates, "any", "major")["events"]
    assert compare_to_benchmarks(rates)["comparison"].isin(["within", "above", "below"]).all()
