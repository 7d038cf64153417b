"""Safety metrics: adverse-event rates, published benchmarks, the serious-event list."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from needling_analytics import DataQualityWarning
from needling_analytics.clinic import Clinic
from needling_analytics.metrics.safety import adverse_event_rates, poisson_interval, serious_events
from needling_analytics.metrics.safety_benchmarks import compare_to_benchmarks, published_benchmarks

from .conftest import demo_tables, small_clinic


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
    ae = None
    if events is not None:
        rows = [(*e, None)[:4] for e in events]
        ae = pd.DataFrame(rows, columns=["session_id", "event_type", "severity", "resolved_days"])
        ae["notes"] = "bruise on the left of Ana's neck"
    return small_clinic(
        patients=pd.DataFrame({"patient_id": people}), episodes=episodes, sessions=sessions, adverse_events=ae
    )


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
        lower = stats.chi2.ppf(0.025, 2 * n) / 2 / 10 if n else 0.0  # Garwood, closed form
        upper = stats.chi2.ppf(0.975, 2 * n + 2) / 2 / 10
        assert r["ci_lower"] == pytest.approx(100 * lower, abs=1e-9) and r["ci_upper"] == pytest.approx(
            100 * upper, abs=1e-9
        )


def test_zero_events_upper_bound_is_exact_and_near_the_rule_of_three():
    n = 1000
    rates = adverse_event_rates(clinic_of(n, []))
    total = row(rates, "any", "any")
    assert total["events"] == 0 and total["rate_per_100"] == 0 and total["ci_lower"] == 0
    assert total["ci_upper"] == pytest.approx(100 * -math.log(0.025) / n, rel=1e-9)  # two-sided 95%: ~3.69/n
    one_sided = row(adverse_event_rates(clinic_of(n, []), confidence=0.90), "any", "any")
    assert one_sided["ci_upper"] == pytest.approx(100 * -math.log(0.05) / n, rel=1e-9)
    assert one_sided["ci_upper"] == pytest.approx(300 / n, rel=0.01)  # rule of three, per 100


def test_clinic_without_adverse_events_table_still_has_the_totals():
    clinic = clinic_of(50)
    assert "adverse_events" not in clinic.supplied
    rates = adverse_event_rates(clinic)
    assert rates["event_type"].tolist() == ["any"] * 5
    assert rates["severity"].tolist() == ["mild", "significant", "serious", "major", "any"]
    assert (rates["events"] == 0).all() and (rates["treatments"] == 50).all()
    np.testing.assert_allclose(rates["ci_upper"], 100 * -math.log(0.025) / 50, rtol=1e-9, atol=0)
    assert serious_events(clinic).empty


def test_no_treatments_gives_missing_rates():
    rates = adverse_event_rates(clinic_of(0, n_cancelled=3))
    assert (rates["treatments"] == 0).all()
    assert rates[["rate_per_100", "ci_lower", "ci_upper"]].isna().all().all()


def test_more_events_than_treatments_has_an_exact_poisson_interval():
    rates = adverse_event_rates(clinic_of(1, [("S0", "bruising", "mild"), ("S0", "bleeding", "mild")]))
    total = row(rates, "any", "any")
    assert total["rate_per_100"] == pytest.approx(200, abs=1e-12) and total["sessions_with_event"] == 1
    assert total["ci_lower_exact"] == pytest.approx(100 * stats.chi2.ppf(0.025, 4) / 2, rel=1e-9)
    assert total["ci_upper_exact"] == pytest.approx(100 * stats.chi2.ppf(0.975, 6) / 2, rel=1e-9)
    assert total["ci_upper"] > 200


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


def two_sided_binom_p(k, n, p):
    """Hand computation: sum of Binomial(n, p) probabilities no larger than that of k."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    return float(pmf[pmf <= pmf[k] * (1 + 1e-7)].sum())


def test_compare_to_benchmarks_words_worked_by_hand():
    # 100 treatments: 8 bruising, 20 pain during, 2 pain after (all mild): 30 mild events, no bleeding
    events = [(f"S{i}", "bruising", "mild") for i in range(8)]
    events += [(f"S{i}", "pain_during", "mild") for i in range(10, 30)]
    events += [("S40", "pain_after", "mild"), ("S41", "pain_after", "mild")]
    table = compare_to_benchmarks(adverse_event_rates(clinic_of(100, events, patients=100)))
    got = {(r.event_type, r.severity, r.study): (r.comparison, r.p_value) for r in table.itertuples()}
    # (clinic events, benchmark events, benchmark treatments): conditional binomial test by hand
    cases = {
        ("any", "mild", "Brady 2014"): (30, 1463, 7629),
        ("any", "mild", "Boyce 2020"): (30, 7531, 20464),
        ("any", "major", "Brady 2014"): (0, 0, 7629),
        ("any", "major", "Boyce 2020"): (0, 20, 20464),
        ("bruising", "mild", "Brady 2014"): (8, 576, 7629),  # 7.55% of 7,629
        ("pain_during", "mild", "Brady 2014"): (20, 230, 7629),
        ("pain_during", "mild", "Boyce 2020"): (20, 1207, 20464),
    }
    for key, (k, b, t) in cases.items():
        p = two_sided_binom_p(k, k + b, 100 / (100 + t)) if k + b else 1.0
        word = "similar" if p >= 0.05 else ("above" if k / 100 > b / t else "below")
        assert got[key][1] == pytest.approx(p, rel=1e-9), key
        assert got[key][0] == word, key
    assert got[("any", "mild", "Brady 2014")][0] == "above"  # 30% against 19.18%, p ~ 0.007
    assert got[("pain_during", "mild", "Brady 2014")][0] == "above"
    assert got[("bruising", "mild", "Brady 2014")][0] == "similar"
    # bleeding is never recorded in this clinic: not "lower here"
    assert got[("bleeding", "mild", "Brady 2014")][0] == "not_recorded"
    assert np.isnan(got[("bleeding", "mild", "Boyce 2020")][1])
    bleeding = table[table["event_type"] == "bleeding"].iloc[0]
    assert bleeding["events"] == 0 and bleeding["treatments"] == 100 and bleeding["rate_per_100"] == 0
    assert table["event_type"].tolist()[:4] == ["any"] * 4


def test_one_event_against_a_benchmark_of_zero_is_not_above():
    table = compare_to_benchmarks(adverse_event_rates(clinic_of(500, [("S0", "bruising", "significant")])))
    brady = table[(table["severity"] == "major") & (table["study"] == "Brady 2014")].iloc[0]
    assert brady["benchmark_events"] == 0 and brady["events"] == 1
    assert brady["p_value"] == pytest.approx(500 / 8129, rel=1e-9)  # P(the one event falls in the clinic)
    assert brady["comparison"] == "similar"


def test_no_adverse_event_at_all_reads_not_recorded():
    table = compare_to_benchmarks(adverse_event_rates(clinic_of(400)))
    assert (table["comparison"] == "not_recorded").all() and table["p_value"].isna().all()


@pytest.mark.parametrize(("k", "lower", "upper"), [(5, 1.6235, 11.6683), (1, 0.0253, 5.5716)])
def test_exact_poisson_interval_matches_the_published_table(k, lower, upper):
    # Garwood 1936 / Ulm 1990 (Am J Epidemiol 131:373) 95% limits for a Poisson count
    low, high = poisson_interval([k], [1.0])
    assert low[0] == pytest.approx(lower, abs=5e-4) and high[0] == pytest.approx(upper, abs=5e-4)
    assert low[0] == pytest.approx(stats.chi2.ppf(0.025, 2 * k) / 2, rel=1e-12)
    assert poisson_interval([0], [1.0])[1][0] == pytest.approx(-math.log(0.025), rel=1e-12)
    low, high = poisson_interval([20], [1.0])  # closed form: chi-square quantiles
    assert (low[0], high[0]) == (
        pytest.approx(stats.chi2.ppf(0.025, 40) / 2, rel=1e-12),
        pytest.approx(stats.chi2.ppf(0.975, 42) / 2, rel=1e-12),
    )


def test_clustered_interval_widens_when_one_patient_has_many_events():
    # 40 patients, 5 sessions each; patient P0 has 10 bruises, P1..P4 one each
    n_patients = 40
    events = [(f"S{i * n_patients}", "bruising", "mild") for i in range(5)] * 2  # P0: 10 events
    events += [(f"S{p}", "bruising", "mild") for p in range(1, 5)]  # P1..P4
    rates = adverse_event_rates(clinic_of(200, events, patients=n_patients))
    r = row(rates, "bruising", "mild")
    assert r["max_events_per_patient"] == 10 and r["events"] == 14
    assert r["ci_upper_clustered"] > r["ci_upper_exact"] and r["ci_lower_clustered"] < r["ci_lower_exact"]
    assert (r["ci_lower"], r["ci_upper"]) == (r["ci_lower_clustered"], r["ci_upper_clustered"])
    # design effect = cluster-robust variance / model variance of an intercept-only Poisson model (statsmodels)
    y = np.zeros(200)
    for s, *_ in events:
        y[int(s[1:])] += 1
    groups = np.arange(200) % n_patients
    fit = sm.GLM(y, np.ones(200), family=sm.families.Poisson())
    robust = fit.fit(cov_type="cluster", cov_kwds={"groups": groups})
    model = fit.fit()
    assert r["design_effect"] == pytest.approx((robust.bse[0] / model.bse[0]) ** 2, rel=1e-5)


def test_events_in_distinct_patients_keep_the_exact_interval():
    events = [(f"S{p}", "bruising", "mild") for p in range(12)]
    rates = adverse_event_rates(clinic_of(120, events, patients=40))
    r = row(rates, "bruising", "mild")
    assert r["max_events_per_patient"] == 1 and r["design_effect"] == 1
    assert np.isnan(r["ci_upper_clustered"])
    assert (r["ci_lower"], r["ci_upper"]) == (r["ci_lower_exact"], r["ci_upper_exact"])


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
    tables = demo_tables(n_patients=300, seed=3)
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
    assert (rates[["ci_lower", "ci_upper"]].stack() >= 0).all()
    assert len(serious_events(clinic)) == row(rates, "any", "major")["events"]
    assert compare_to_benchmarks(rates)["comparison"].isin(["similar", "above", "below", "not_recorded"]).all()
